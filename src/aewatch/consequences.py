"""What new data sets in motion inside the ingest transaction: lab grades, derived
liver events, stopping-rule status and the alerts all of these trigger.

Everything here runs in the same transaction as the rows that caused it, so an
alert is committed together with its cause or not at all (DESIGN invariant 3).
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from aewatch import audit
from aewatch.alerts.requests import AlertRequest
from aewatch.config import Settings
from aewatch.models import AdverseEvent, AeVersion, RtCourse, Site, Subject


class Consequences:
    """Collects what a file touched; ``finish()`` grades, evaluates and queues alerts."""

    def __init__(
        self, session: Session, settings: Settings, trial_pk: int, now: datetime, actor: str
    ) -> None:
        self.session = session
        self.settings = settings
        self.trial_pk = trial_pk
        self.now = now
        self.actor = actor
        self.subjects: set[int] = set()
        self.ae_versions: list[int] = []
        self.lab_subjects: set[int] = set()
        self.courses: list[int] = []
        self.requests: list[AlertRequest] = []

    def subjects_changed(self, subject_pks: set[int]) -> None:
        self.subjects.update(subject_pks)

    def ae_versions_added(self, version_ids: list[int]) -> None:
        self.ae_versions.extend(version_ids)

    def labs_changed(self, subject_pks: set[int]) -> None:
        self.lab_subjects.update(subject_pks)

    def courses_changed(self, course_ids: list[int]) -> None:
        self.courses.extend(course_ids)

    def held_adverse_events(self, frame: pd.DataFrame) -> None:
        """Serious AEs of subjects not in DM yet: alert now from the row itself."""
        from types import SimpleNamespace

        from aewatch.alerts.requests import ae_facts
        from aewatch.alerts.rules import ae_alerts

        fatal = frame["outcome"].eq("FATAL") if "outcome" in frame else False
        serious = frame[frame["serious"] | frame["death"] | fatal]
        for raw in serious.to_dict("records"):
            record = {k: None if _missing(v) else v for k, v in raw.items()}
            record.update(version=1, aware_at=self.now, recorded_at=self.now)
            record["onset_on"] = None  # no reference date yet: no study day
            record["grade"] = record.get("grade") or record.get("reported_grade")
            version = SimpleNamespace(**record)
            facts = ae_facts(
                version,
                trial_id=self.settings.trial.id,
                site="",
                subject_id=record["USUBJID"],
                ae_key=record["ae_key"],
            )
            self.requests.extend(ae_alerts(None, facts, self.settings, self.now))

    def finish(self) -> int:
        """Grade, derive, evaluate rules, queue alerts; returns how many alerts were new."""
        from aewatch.alerts.outbox import enqueue
        from aewatch.grading import derive_events

        if self.subjects:
            derived = derive_events(
                self.session,
                self.settings,
                self.trial_pk,
                self.lab_subjects,
                self.subjects,
                self.now,
            )
            self.ae_versions.extend(derived.new_ae_versions)
            self.requests.extend(derived.alerts)
        self.requests.extend(self._ae_alerts())
        self.requests.extend(self._deviation_alerts())
        if self.subjects:
            from aewatch.monitoring import evaluate_rules

            self.requests.extend(
                evaluate_rules(self.session, self.settings, self.trial_pk, self.now, self.actor)
            )
        if not self.requests:
            return 0
        return enqueue(
            self.session,
            self.trial_pk,
            self.requests,
            self.now,
            config_hash=self.settings.config_hash,
            actor=self.actor,
        )

    def _ae_alerts(self) -> list[AlertRequest]:
        from aewatch.alerts.rules import ae_alerts

        requests: list[AlertRequest] = []
        if not self.ae_versions:
            return requests
        for chunk in _chunks(self.ae_versions, 500):
            rows = self.session.execute(
                select(AeVersion, AdverseEvent, Subject)
                .join(AdverseEvent, AeVersion.ae_pk == AdverseEvent.id)
                .join(Subject, AdverseEvent.subject_pk == Subject.id)
                .where(
                    AeVersion.id.in_(chunk),
                    AeVersion.serious
                    | AeVersion.death
                    | (AeVersion.grade >= 5)
                    | (AeVersion.outcome == "FATAL"),
                )
            ).all()
            serious = list(rows)
            if not serious:
                continue
            starts = rt_starts(self.session, {r[2].id for r in serious})
            for version, ae, subject in serious:
                previous = None
                if version.version > 1:
                    previous = self.session.scalars(
                        select(AeVersion).where(
                            AeVersion.ae_pk == ae.id, AeVersion.version == version.version - 1
                        )
                    ).first()
                reference = starts.get(subject.id) or subject.reference_start
                current = facts(version, ae, subject, self.settings, reference)
                before = (
                    facts(previous, ae, subject, self.settings, reference) if previous else None
                )
                requests.extend(ae_alerts(before, current, self.settings, self.now))
        return requests

    def _deviation_alerts(self) -> list[AlertRequest]:
        from aewatch.alerts.rules import deviation_alert

        if not self.courses:
            return []
        rows = self.session.execute(
            select(RtCourse, Subject)
            .join(Subject, RtCourse.subject_pk == Subject.id)
            .where(RtCourse.id.in_(self.courses), RtCourse.bed_below_minimum.is_(True))
        ).all()
        return [
            deviation_alert(
                subject.subject_id,
                subject.site,
                course.course_key,
                course.lesion,
                course.bed_gy or 0.0,
                self.settings.radiotherapy.min_bed_gy,
                self.settings,
            )
            for course, subject in rows
        ]


def facts(
    version: AeVersion,
    ae: AdverseEvent,
    subject: Subject,
    settings: Settings,
    reference_start: date | None,
):  # type: ignore[no-untyped-def]
    from aewatch.alerts.requests import ae_facts

    return ae_facts(
        version,
        trial_id=settings.trial.id,
        site=subject.site,
        subject_id=subject.subject_id,
        ae_key=ae.ae_key,
        origin=ae.origin,
        reference_start=reference_start,
    )


def rt_starts(session: Session, subject_pks: set[int]) -> dict[int, date]:
    """Each subject's first radiotherapy day: day 1 of the study-day clock in alerts."""
    if not subject_pks:
        return {}
    rows = session.execute(
        select(RtCourse.subject_pk, func.min(RtCourse.start_on))
        .where(RtCourse.subject_pk.in_(subject_pks))
        .group_by(RtCourse.subject_pk)
    ).all()
    return {pk: start for pk, start in rows if start is not None}


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


def queue_site_silence(
    sessions: sessionmaker[Session], settings: Settings, now: datetime, actor: str
) -> int:
    """Sites that sent nothing for `site_silence_days`: someone should ask why."""
    from aewatch.alerts.outbox import enqueue
    from aewatch.alerts.rules import site_silence_alerts
    from aewatch.trials import ensure_trial

    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, now)
        last = dict(
            session.execute(
                select(Site.site_code, Site.last_data_at).where(Site.trial_pk == trial.id)
            ).all()
        )
        requests = site_silence_alerts(last, settings, now)
        if not requests:
            return 0
        queued = enqueue(
            session, trial.id, requests, now, config_hash=settings.config_hash, actor=actor
        )
        if queued:
            audit.record(
                session,
                at=now,
                actor=actor,
                action="site silence detected",
                detail={"sites": [r.context.get("site") for r in requests]},
                config_hash=settings.config_hash,
            )
        return queued


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
