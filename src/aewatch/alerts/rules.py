"""Which alerts a change calls for. Pure: facts in, ``AlertRequest`` values out.

Dedup keys name the cause (trial, subject, AE, version, rule state …) so running a rule
again on the same data asks for the same keys, and the outbox keeps the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

from aewatch.alerts.privacy import one_line, redact_dates
from aewatch.alerts.requests import AeFacts, AlertRequest
from aewatch.config import Settings
from aewatch.safety.clocks import ReportingClock, expedited_clock
from aewatch.safety.sae import (
    criteria_labels,
    criteria_met,
    followup_reasons,
    is_fatal,
    is_serious,
    susar_assessment,
)

PRIORITY_DEATH, PRIORITY_SAE, PRIORITY_THRESHOLD, PRIORITY_OTHER = 0, 1, 2, 3


def recipients_for(primary: Sequence[str], settings: Settings) -> tuple[str, ...]:
    """An empty list must not silence an alert: fall back to the trial office."""
    chosen = tuple(primary) or tuple(settings.alerts.fallback)
    return chosen or (settings.alerts.from_address,)


def event_thread(trial_id: str, subject_id: str, ae_key: str) -> str:
    """The email thread of one patient's event: its SAE, follow-ups, death and the
    threshold alert it caused all carry this key."""
    return f"event:{trial_id}:{subject_id}:{ae_key}"[:200]


# -- adverse events -------------------------------------------------------------------------


def ae_alerts(
    previous: AeFacts | None,
    current: AeFacts,
    settings: Settings,
    now: datetime,
    *,
    death_notified_as: str | None = None,
) -> list[AlertRequest]:
    """SAE initial, SAE follow-up or death for one new AE version (at most one of them).

    ``death_notified_as``: the key of the death-derived AE (Death NOS) whose death alert
    already went out for this patient. The fatal AE the site reports then is that death's
    cause: a follow-up on the same thread, not a second death alert (a death alerts once).
    """
    base = f"{current.trial_id}:{current.subject_id}:{current.ae_key}"
    thread_key = current.ae_key
    was_serious = previous is not None and is_serious(previous)
    if not is_serious(current):
        if not was_serious:
            return []
        # Downgraded to non-serious: the SAE's recipients hear it, on the same thread.
        assert previous is not None
        kind, priority = "sae-followup", PRIORITY_SAE
        key = f"sae-followup:{base}:v{current.version}"
        reasons = followup_reasons(previous, current)
    elif is_fatal(current) and not (previous is not None and is_fatal(previous)):
        kind, key, priority = "death", f"death:{base}", PRIORITY_DEATH
        reasons = followup_reasons(previous, current) if was_serious else ()
        if death_notified_as is not None:
            kind, key, thread_key = "sae-followup", f"death-cause:{base}", death_notified_as
            reasons = (
                "the cause of the death already notified (recorded without a fatal AE): "
                f"{current.ctcae_term or 'uncoded term'}, grade {current.grade}; it now "
                "counts instead of the Death NOS",
                *reasons,
            )
    elif not was_serious:
        kind, key, priority = "sae-initial", f"sae-initial:{base}:v{current.version}", PRIORITY_SAE
        reasons = ()
    else:
        assert previous is not None
        reasons = followup_reasons(previous, current)
        if not reasons:
            return []
        kind, priority = "sae-followup", PRIORITY_SAE
        key = f"sae-followup:{base}:v{current.version}"
    clock = _clock(current, settings)
    return [
        AlertRequest(
            kind=kind,
            dedup_key=key,
            priority=priority,
            subject_id=current.subject_id,
            recipients=recipients_for(settings.alerts.sae, settings),
            context=ae_context(current, clock, settings, reasons),
            requires_ack=True,
            report_due_at=clock.first_due,
            thread=event_thread(current.trial_id, current.subject_id, thread_key),
        )
    ]


def _clock(facts: AeFacts, settings: Settings) -> ReportingClock:
    susar = susar_assessment(facts, settings.expected.radiotherapy, settings.expected.systemic)
    return expedited_clock(facts.aware_at, susar, settings.clocks)


def ae_context(
    facts: AeFacts, clock: ReportingClock, settings: Settings, reasons: Iterable[str] = ()
) -> dict[str, Any]:
    """The whitelist: every field an AE alert may show, named one by one (§7)."""
    susar = susar_assessment(facts, settings.expected.radiotherapy, settings.expected.systemic)
    return {
        "trial_id": facts.trial_id,
        "site": facts.site,
        "subject_id": facts.subject_id,
        "ae_key": facts.ae_key,
        "version": facts.version,
        "ae": {
            "term": facts.ctcae_term or "uncoded term",
            "soc": facts.ctcae_soc,
            "grade": facts.grade,
            "serious": is_serious(facts),
            "criteria": list(criteria_labels(criteria_met(facts))),
            "rt_relation": facts.rt_relation or "not assessed",
            "systemic_relation": facts.systemic_relation or "not assessed",
            "onset_study_day": facts.onset_study_day,
            "onset_precision": facts.onset_precision,
            "outcome": (facts.outcome or "not reported").lower(),
            "origin": facts.origin,
        },
        "followup_reasons": list(reasons),
        "aware_at": facts.aware_at.isoformat(),
        "aware_at_supplied": facts.aware_at_supplied,
        "clock": {
            "susar_possible": susar.possible,
            "susar_treatments": list(susar.treatments),
            "susar_reasons": list(susar.reasons),
            "fatal_or_life_threatening": susar.fatal_or_life_threatening,
            "deadlines": [
                {"key": d.key, "label": d.label, "due_at": d.due_at.isoformat()}
                for d in clock.deadlines
            ],
        },
    }


# -- derived liver events and lab-derived AEs -----------------------------------------------


@dataclass(frozen=True)
class DerivedEvent:
    """A liver event or lab grade aewatch derived itself (not reported by the site)."""

    kind: str  # rild-classic | rild-non-classic | hys-law | lab-derived
    trial_id: str
    site: str
    subject_id: str
    event_key: str  # stable id of the derivation, e.g. "ALT:day43"
    term: str
    grade: int | None
    study_day: int | None
    evidence: str  # machine-written, e.g. "ALT 5.1 x ULN and bilirubin 2.3 x ULN, days 40-42"
    site_reported: bool = False
    # The numbers behind it (aewatch.alerts.evidence.lab_values): per test value, ULN,
    # × ULN, baseline, × baseline and study day; then the other findings.
    values: tuple[Mapping[str, Any], ...] = ()
    findings: tuple[Mapping[str, str], ...] = ()
    ae_key: str | None = None  # the derived AE, for the event's email thread


LIVER_KINDS = {
    "rild-classic": "RILD (classic)",
    "rild-non-classic": "RILD (non-classic)",
    "hys-law": "Potential Hy's law case",
}


def derived_event_alerts(
    events: Iterable[DerivedEvent], settings: Settings, now: datetime
) -> list[AlertRequest]:
    """Liver events always; lab-derived AEs only when the site reported none (else the
    site's own AE carries the news)."""
    requests = []
    for event in events:
        if event.kind in LIVER_KINDS:
            kind, priority = "liver-event", PRIORITY_THRESHOLD
            key = f"liver-event:{event.trial_id}:{event.subject_id}:{event.kind}:{event.event_key}"
            label = LIVER_KINDS[event.kind]
        elif event.kind == "lab-derived":
            if event.site_reported:
                continue
            kind, priority, label = "lab-derived", PRIORITY_OTHER, "Lab-derived AE"
            key = (
                f"lab-derived:{event.trial_id}:{event.subject_id}:{event.event_key}"
                f":g{event.grade}"
            )
        else:
            raise ValueError(f"unknown derived event kind {event.kind!r}")
        requests.append(
            AlertRequest(
                kind=kind,
                dedup_key=key,
                priority=priority,
                subject_id=event.subject_id,
                recipients=recipients_for(settings.alerts.sae, settings),
                context={
                    "trial_id": event.trial_id,
                    "site": event.site,
                    "subject_id": event.subject_id,
                    "event_label": label,
                    "term": event.term,
                    "grade": event.grade,
                    "study_day": event.study_day,
                    "evidence": redact_dates(one_line(event.evidence, 1000)),
                    "values": [_scalars(v) for v in event.values],
                    "findings": [_scalars(f) for f in event.findings],
                    "detected_at": now.isoformat(),
                },
                thread=(
                    event_thread(event.trial_id, event.subject_id, event.ae_key)
                    if event.ae_key
                    else None
                ),
            )
        )
    return requests


# -- stopping rules, deviations, data flow ----------------------------------------------------


def threshold_alert(
    rule_name: str,
    previous_state: str | None,
    state: str,
    status_table: list[dict[str, Any]],
    counting_subjects: list[str],
    settings: Settings,
    now: datetime,
    *,
    previous_n: int | None = None,
    thread: str | None = None,
) -> AlertRequest | None:
    """A stopping-rule status change worth telling; ``None`` otherwise.

    A crossing (and its retraction) goes to the ``threshold`` list: the safety officer
    and the DSMB chair. "Approaching" and its return to "ok" go to the safety officer
    only (``approaching``), and not before ``approaching_min_evaluable`` evaluable
    patients: a rule still approaching when that many are evaluable is told then.
    ``previous_n`` is the evaluable count of the last recorded status.
    """
    row = _rule_row(rule_name, status_table)
    evaluable = row.get("evaluable_n", row.get("evaluable", "?"))
    if not _worth_telling(previous_state, previous_n, state, evaluable, settings):
        return None
    trial = settings.trial.id
    crossing = state == "crossed" or previous_state == "crossed"
    recipients = settings.alerts.threshold if crossing else settings.alerts.approaching
    return AlertRequest(
        kind="threshold",
        dedup_key=f"threshold:{trial}:{rule_name}:{state}:n{evaluable}",
        priority=PRIORITY_THRESHOLD,
        subject_id=None,
        recipients=recipients_for(recipients or settings.alerts.sae, settings),
        context={
            "trial_id": trial,
            "rule_name": rule_name,
            "previous_state": previous_state or "none",
            "state": state,
            "evaluable_n": evaluable,
            "headline": _headline(row),
            "crossed_at_n": row.get("crossed_at_n"),
            "crossed_on": row.get("crossed_on"),
            "columns": list(status_table[0].keys()) if status_table else [],
            "rows": [_scalars(r) for r in status_table],
            "counting_subjects": sorted(str(s) for s in counting_subjects),
            "evaluated_at": now.isoformat(),
        },
        requires_ack=state == "crossed",
        thread=thread,
    )


def _worth_telling(
    previous: str | None, previous_n: int | None, state: str, n: Any, settings: Settings
) -> bool:
    minimum = settings.alerts.approaching_min_evaluable
    enough = not isinstance(n, int) or n >= minimum
    was_told = previous != "approaching" or previous_n is None or previous_n >= minimum
    if state == "approaching" and previous != "crossed":  # a retraction is always told
        return enough and (previous != "approaching" or not was_told)
    if state == previous or (state == "ok" and previous in (None, "ok")):
        return False
    return not (state == "ok" and previous == "approaching" and not was_told)


def _headline(row: Mapping[str, Any]) -> str:
    """The rule's line, e.g. "crossed at the 2nd evaluable patient on 2026-02-10 …; now 3
    of 14"."""
    from aewatch.safety.evaluation import crossing_text

    if "toxic_n" not in row or "evaluable_n" not in row:
        return ""
    return crossing_text(dict(row))


def _rule_row(rule_name: str, table: list[dict[str, Any]]) -> dict[str, Any]:
    for row in table:
        if rule_name in (row.get("rule"), row.get("rule_name"), row.get("name")):
            return row
    return table[0] if len(table) == 1 else {}


def _scalars(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        str(k): (v if isinstance(v, int | float | str | bool) or v is None else str(v))
        for k, v in row.items()
    }


def deviation_alert(
    subject_id: str,
    site: str,
    course_key: str,
    lesion: str,
    bed_gy: float,
    min_bed_gy: float,
    settings: Settings,
    *,
    schedule: str = "",
    eqd2_gy: float | None = None,
    course_number: int = 1,
    liver: bool | None = None,
) -> AlertRequest:
    """A completed course below the protocol's minimum BED is a deviation (protocol: BED ≥
    60 Gy₁₀ to every lesion). Keyed by the course's stable key: one alert per course."""
    trial = settings.trial.id
    return AlertRequest(
        kind="deviation",
        dedup_key=f"deviation:{trial}:{subject_id}:{course_key}",
        priority=PRIORITY_OTHER,
        subject_id=subject_id,
        recipients=recipients_for(settings.alerts.sae, settings),
        context={
            "trial_id": trial,
            "site": site,
            "subject_id": subject_id,
            "course_key": course_key,
            "lesion": one_line(lesion, 120),
            "bed_gy": round(float(bed_gy), 2),
            "min_bed_gy": float(min_bed_gy),
            "alpha_beta_gy": settings.radiotherapy.alpha_beta_gy,
            "schedule": one_line(schedule, 120),
            "eqd2_gy": None if eqd2_gy is None else round(float(eqd2_gy), 2),
            "course_number": int(course_number),
            "liver": "yes" if liver else ("no" if liver is False else "not recognised"),
        },
    )


def ingest_failure_alert(
    file_name: str, reason: str, settings: Settings, now: datetime
) -> AlertRequest:
    """A file no row of which could be read: once per file name, reason and day."""
    trial = settings.trial.id
    digest = sha256(reason.encode()).hexdigest()[:8]
    name = one_line(Path(file_name).name, 120)
    return AlertRequest(
        kind="ingest-failure",
        dedup_key=f"ingest-failure:{trial}:{name}:{digest}:{now:%Y-%m-%d}"[:200],
        priority=PRIORITY_OTHER,
        subject_id=None,
        recipients=recipients_for(settings.alerts.fallback or settings.alerts.sae, settings),
        context={
            "trial_id": trial,
            "file_name": name,
            "reason": redact_dates(one_line(reason, 500)),
            "failed_at": now.isoformat(),
        },
    )


def site_silence_alerts(
    site_last_data: Mapping[str, datetime], settings: Settings, now: datetime
) -> list[AlertRequest]:
    """One alert per site and silence period: at 30 days, again at 60 … (configurable);
    new data moves ``last`` and so starts fresh keys."""
    period_days = settings.alerts.site_silence_days
    trial = settings.trial.id
    requests = []
    for site, last in sorted(site_last_data.items()):
        silent_days = (now - last).days
        if period_days <= 0 or silent_days < period_days:
            continue
        period = silent_days // period_days
        requests.append(
            AlertRequest(
                kind="site-silence",
                dedup_key=f"site-silence:{trial}:{site}:{last:%Y%m%d}:p{period}",
                priority=PRIORITY_OTHER,
                subject_id=None,
                recipients=recipients_for(settings.alerts.fallback or settings.alerts.sae,
                                          settings),
                context={
                    "trial_id": trial,
                    "site": site,
                    "silent_days": silent_days,
                    "threshold_days": period_days,
                    "last_data_at": last.isoformat(),
                },
            )
        )
    return requests


def dsmb_report_alert(
    period: str,
    attachments: Sequence[str],
    summary: Mapping[str, Any],
    settings: Settings,
    part: str = "closed",
) -> AlertRequest:
    """One part of the monthly DSMB report, once per period; the PDF is attached. The
    closed part (patient listings) goes to the DSMB (``dsmb``), the open part
    (aggregates) to ``dsmb_open`` (empty: the DSMB)."""
    if part not in ("open", "closed"):
        raise ValueError(f"part must be open or closed, got {part!r}")
    trial = settings.trial.id
    recipients = settings.alerts.dsmb
    if part == "open":
        recipients = settings.alerts.dsmb_open or settings.alerts.dsmb
    return AlertRequest(
        kind="dsmb-report",
        dedup_key=f"dsmb-report:{trial}:{period}:{part}",
        priority=PRIORITY_OTHER,
        subject_id=None,
        recipients=recipients_for(recipients, settings),
        context={
            "trial_id": trial,
            "period": period,
            "part": part,
            "summary": [{"label": str(k), "value": _scalars({"v": v})["v"]}
                        for k, v in summary.items()],
            "attachment_names": [Path(a).name for a in attachments],
        },
        attachments=tuple(str(a) for a in attachments),
    )
