"""What the stages of one file's transaction share: the context they run in, what
they touched so far, and what the file's outcome was."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from aewatch.config import Settings
from aewatch.models import SourceFile

if TYPE_CHECKING:
    import pandas as pd

    from aewatch.alerts.requests import AlertRequest
    from aewatch.ingest.validate import Fault, Normalised
    from aewatch.store.labs import NewLabs
    from aewatch.store.subject_data import SubjectData

# The order domains are applied in: subjects first (so the rows of the same file find
# them), then EX records (their courses, built next, anchor lab baselines), then AEs, labs
# and disposition events.
DOMAIN_ORDER = {"DM": 0, "EX": 1, "AE": 2, "LB": 3, "DS": 4}


@dataclass(frozen=True)
class FileContext:
    """The transaction every stage works in, and the file it is working on."""

    session: Session
    settings: Settings
    now: datetime
    actor: str
    trial_pk: int
    source: SourceFile
    file_name: str


@dataclass(frozen=True)
class PreparedTable:
    """One domain table after check and code: what the store stage writes."""

    domain: str
    frame: pd.DataFrame  # rows to store (AE: one per identity, coded; EX: with doses)
    faults: list[Fault]  # rejected rows and data queries
    rows: int  # the file's rows in this table, good and bad
    columns: frozenset[str]  # the variables the file carried
    row_subjects: pd.Series  # USUBJID of each good row as sent (before log-form merging)
    normalised: tuple[Normalised, ...] = ()  # values read as other than written (audit trail)


@dataclass
class GradedLabs:
    """The grade stage's output for the derive stage: the touched subjects' data and
    their labs with fresh CTCAE grades (and ``is_baseline``)."""

    data: SubjectData
    labs: pd.DataFrame


@dataclass
class Touched:
    """What the stages of one file touched so far; each stage returns its own part and
    the transaction adds it to the file's total (``add``)."""

    # Row counts a data manager reconciles against.
    accepted: int = 0
    versions: int = 0
    pending: int = 0
    queries: int = 0
    quarantined: int = 0
    # What later stages work on.
    subjects: set[int] = field(default_factory=set)  # subjects whose data changed
    lab_subjects: set[int] = field(default_factory=set)  # subjects with new or changed labs
    new_labs: list[NewLabs] = field(default_factory=list)  # stored by the grade stage
    ae_versions: list[int] = field(default_factory=list)  # new AE versions, site and derived
    derived_versions: list[int] = field(default_factory=list)  # of which aewatch derived
    ex_subjects: set[int] = field(default_factory=set)  # subjects whose EX records arrived
    courses: list[int] = field(default_factory=list)  # RT courses built or changed
    held_events: list[pd.DataFrame] = field(default_factory=list)  # AE rows awaiting DM
    graded: GradedLabs | None = None
    rule_alerts: list[AlertRequest] = field(default_factory=list)  # threshold alerts
    alerts_queued: int = 0

    def add(self, other: Touched) -> Touched:
        self.accepted += other.accepted
        self.versions += other.versions
        self.pending += other.pending
        self.queries += other.queries
        self.quarantined += other.quarantined
        self.subjects |= other.subjects
        self.lab_subjects |= other.lab_subjects
        self.new_labs.extend(other.new_labs)
        self.ae_versions.extend(other.ae_versions)
        self.derived_versions.extend(other.derived_versions)
        self.ex_subjects |= other.ex_subjects
        self.courses.extend(other.courses)
        self.held_events.extend(other.held_events)
        self.graded = other.graded or self.graded
        self.rule_alerts.extend(other.rule_alerts)
        self.alerts_queued += other.alerts_queued
        return self


@dataclass
class FileOutcome:
    """What happened to one file: the figures a data manager reconciles against."""

    path: str
    status: str  # done | failed | duplicate
    rows: int = 0
    accepted: int = 0
    versions: int = 0
    quarantined: int = 0
    pending: int = 0
    queries: int = 0
    alerts: int = 0
    reason: str | None = None
    domains: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
