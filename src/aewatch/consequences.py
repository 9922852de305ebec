"""What new data sets in motion inside the ingest transaction: lab grades, derived
liver events, stopping-rule status and the alerts all of these trigger.

Everything here runs in the same transaction as the rows that caused it, so an
alert is committed together with its cause or not at all (DESIGN invariant 3).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from aewatch.config import Settings


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

    def subjects_changed(self, subject_pks: set[int]) -> None:
        self.subjects.update(subject_pks)

    def ae_versions_added(self, version_ids: list[int]) -> None:
        self.ae_versions.extend(version_ids)

    def labs_changed(self, subject_pks: set[int]) -> None:
        self.lab_subjects.update(subject_pks)

    def courses_changed(self, course_ids: list[int]) -> None:
        self.courses.extend(course_ids)

    def finish(self) -> int:
        """Run the consequences; returns how many alerts were queued."""
        return 0


def queue_ingest_failure(
    session: Session,
    settings: Settings,
    trial_pk: int,
    file_name: str,
    reason: str,
    now: datetime,
) -> int:
    return 0
