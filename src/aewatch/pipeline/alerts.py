"""Stage 9, queue alerts: every alert the file's data call for, into the outbox.

Written in the same transaction as the rows that caused them, so an alert is committed
together with its cause or not at all (DESIGN invariant 3); the dedup key of each alert
keeps a re-processed file from queueing it twice.
"""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace

import pandas as pd
from sqlalchemy.orm import Session

from aewatch.alerts.requests import AeFacts, AlertRequest, ae_facts
from aewatch.config import Settings
from aewatch.models import AdverseEvent, AeVersion, Subject
from aewatch.pipeline.context import FileContext, Touched
from aewatch.store.courses import first_rt_starts
from aewatch.store.events import deviating_courses, previous_version, versions_with_subjects


def queue_alerts(ctx: FileContext, so_far: Touched) -> Touched:
    requests = [
        *held_event_alerts(ctx, so_far.held_events),
        *derived_event_alerts(ctx, so_far.derived_versions, baseline_values(so_far)),
        *ae_version_alerts(ctx, so_far.ae_versions),
        *deviation_alerts(ctx, so_far.courses),
        *so_far.rule_alerts,
    ]
    if not requests:
        return Touched()
    from aewatch.alerts.outbox import enqueue

    queued = enqueue(
        ctx.session,
        ctx.trial_pk,
        requests,
        ctx.now,
        config_hash=ctx.settings.config_hash,
        actor=ctx.actor,
    )
    return Touched(alerts_queued=queued)


def held_event_alerts(ctx: FileContext, held: list[pd.DataFrame]) -> list[AlertRequest]:
    """Serious AEs of subjects not in DM yet: alert now from the row itself (the same
    dedup key keeps the alert single when the row is stored later). The clock starts at
    the row's own AEAWDTC: its site is not known yet, so a local time is read in the
    trial's zone that makes it earliest (due earlier, never later)."""
    from aewatch.alerts.rules import ae_alerts
    from aewatch.ingest.dates import earliest_awareness_utc

    requests: list[AlertRequest] = []
    for frame in held:
        fatal = frame["outcome"].eq("FATAL") if "outcome" in frame else False
        serious = frame[frame["serious"] | frame["death"] | fatal]
        if "aware_on" in serious:
            aware = earliest_awareness_utc(
                serious["aware_on"],
                serious.get("aware_offset", pd.Series(pd.NA, index=serious.index)),
                ctx.settings.trial.timezones,
            )
        else:
            aware = pd.Series(pd.NaT, index=serious.index, dtype="datetime64[ns, UTC]")
        serious = serious.assign(
            aware_at=aware.where(aware.isna() | (aware < ctx.now), ctx.now),
            aware_at_supplied=aware.notna(),
        )
        for raw in serious.to_dict("records"):
            record = {k: None if _missing(v) else v for k, v in raw.items()}
            supplied = bool(record["aware_at_supplied"])
            record.update(
                version=1,
                aware_at_supplied=supplied,
                aware_at=record["aware_at"].to_pydatetime() if supplied else ctx.now,
                recorded_at=ctx.now,
            )
            record["onset_on"] = None  # no reference date yet: no study day
            record["grade"] = record.get("grade") or record.get("reported_grade")
            version = SimpleNamespace(**record)
            facts = ae_facts(
                version,
                trial_id=ctx.settings.trial.id,
                site="",
                subject_id=record["USUBJID"],
                ae_key=record["ae_key"],
            )
            requests.extend(ae_alerts(None, facts, ctx.settings, ctx.now))
    return requests


def baseline_values(so_far: Touched) -> dict[tuple[str, str], float]:
    """(subject, test code) → the baseline value the grade stage used, for "× baseline"."""
    if so_far.graded is None or so_far.graded.labs.empty:
        return {}
    labs = so_far.graded.labs
    base = labs[labs["is_baseline"] & labs["LBSTRESN"].notna()]
    values = pd.to_numeric(base["LBSTRESN"], errors="coerce")
    return {
        (str(s), str(t)): float(v)
        for s, t, v in zip(base["USUBJID"], base["LBTESTCD"], values, strict=True)
        if v == v
    }


def derived_event_alerts(
    ctx: FileContext,
    version_ids: list[int],
    baselines: dict[tuple[str, str], float] | None = None,
) -> list[AlertRequest]:
    """Alerts for derived AEs: liver syndromes always, lab-derived grades when unreported;
    each shows its lab values against ULN and baseline, by study day."""
    if not version_ids:
        return []
    from aewatch.alerts.evidence import lab_values
    from aewatch.alerts.rules import DerivedEvent
    from aewatch.alerts.rules import derived_event_alerts as alerts_for

    rows = versions_with_subjects(ctx.session, version_ids)
    starts = first_rt_starts(ctx.session, {s.id for _, _, s in rows})
    kinds = {"RILD (classic)": "rild-classic", "RILD (non-classic)": "rild-non-classic"}
    events = []
    for version, ae, subject in rows:
        term = version.ctcae_term or ""
        kind = "lab-derived" if ae.origin == "lab" else kinds.get(term, "hys-law")
        start = starts.get(subject.id) or subject.reference_start
        day = (version.onset_on - start).days + 1 if version.onset_on and start else None
        evidence = version.evidence or {}
        text = evidence.get("summary") or f"{term} grade {version.grade} from laboratory values"
        items = evidence.get("items") if isinstance(evidence.get("items"), dict) else evidence
        mine = {t: v for (s, t), v in (baselines or {}).items() if s == subject.subject_id}
        values, findings = lab_values(items, start, mine)
        events.append(
            DerivedEvent(
                kind=kind,
                trial_id=ctx.settings.trial.id,
                site=subject.site,
                subject_id=subject.subject_id,
                event_key=f"{ae.ae_key}:v{version.version}",
                term=term,
                grade=version.grade,
                study_day=day,
                evidence=text,
                values=tuple(values),
                findings=tuple(findings),
                ae_key=ae.ae_key,
            )
        )
    return alerts_for(events, ctx.settings, ctx.now)


def ae_version_alerts(ctx: FileContext, version_ids: list[int]) -> list[AlertRequest]:
    """SAE initial / follow-up and death alerts for new versions of serious or fatal AEs."""
    from aewatch.alerts.rules import ae_alerts

    requests: list[AlertRequest] = []
    for chunk in _chunks(version_ids, 500):
        serious = versions_with_subjects(ctx.session, chunk, serious_only=True)
        if not serious:
            continue
        starts = first_rt_starts(ctx.session, {subject.id for _, _, subject in serious})
        for version, ae, subject in serious:
            previous = (
                previous_version(ctx.session, ae.id, version.version)
                if version.version > 1
                else None
            )
            reference = starts.get(subject.id) or subject.reference_start
            current = facts(version, ae, subject, ctx.settings, reference)
            before = facts(previous, ae, subject, ctx.settings, reference) if previous else None
            notified = (
                death_alerted_as(ctx.session, ctx.settings.trial.id, subject)
                if ae.origin != "death"
                else None
            )
            requests.extend(
                ae_alerts(before, current, ctx.settings, ctx.now, death_notified_as=notified)
            )
    return requests


def death_alerted_as(session: Session, trial_id: str, subject: Subject) -> str | None:
    """The key of this patient's Death NOS whose death alert is already queued, if any."""
    from sqlalchemy import select

    from aewatch.models import Alert
    from aewatch.safety.deaths import DEATH_KEY

    key = f"death:{trial_id}:{subject.subject_id}:{DEATH_KEY}"
    found = session.scalar(select(Alert.id).where(Alert.dedup_key == key).limit(1))
    return DEATH_KEY if found is not None else None


def deviation_alerts(ctx: FileContext, course_ids: list[int]) -> list[AlertRequest]:
    return course_deviation_alerts(ctx.session, ctx.settings, course_ids)


def course_deviation_alerts(
    session: Session, settings: Settings, course_ids: list[int]
) -> list[AlertRequest]:
    """A completed, evaluable course below the protocol's minimum BED is a protocol
    deviation (``bed_below_minimum``, set when the course was built)."""
    if not course_ids:
        return []
    from aewatch.alerts.rules import deviation_alert
    from aewatch.exposure.courses import schedule_text

    return [
        deviation_alert(
            subject.subject_id,
            subject.site,
            course.course_key,
            course.lesion,
            course.bed_gy or 0.0,
            settings.radiotherapy.min_bed_gy,
            settings,
            schedule=schedule_text(course.fraction_doses),
            eqd2_gy=course.eqd2_gy,
            course_number=course.course_number,
            liver=course.liver_involved,
        )
        for course, subject in deviating_courses(session, course_ids)
    ]


def queue_ingest_failure(
    session: Session,
    settings: Settings,
    trial_pk: int,
    file_name: str,
    reason: str,
    now: datetime,
) -> int:
    """A file moved to failed/ is news for the data manager (and the safety officer)."""
    from aewatch.alerts.outbox import enqueue
    from aewatch.alerts.rules import ingest_failure_alert

    return enqueue(
        session,
        trial_pk,
        [ingest_failure_alert(file_name, reason, settings, now)],
        now,
        config_hash=settings.config_hash,
    )


def facts(
    version: AeVersion,
    ae: AdverseEvent,
    subject: Subject,
    settings: Settings,
    reference_start: date | None,
) -> AeFacts:
    return ae_facts(
        version,
        trial_id=settings.trial.id,
        site=subject.site,
        subject_id=subject.subject_id,
        ae_key=ae.ae_key,
        origin=ae.origin,
        reference_start=reference_start,
    )


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
