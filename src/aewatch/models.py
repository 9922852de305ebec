"""ORM tables: the one data model every stage writes into.

Identifiers follow the DESIGN invariants: an AE's identity is (trial, subject,
sponsor AE id) and its content lives in append-only versions; nothing is deleted.
Only subject IDs are stored about a person: no names, initials or birth dates,
whatever the export carried (data minimisation, ICH E6 4.11.1).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns timezone-aware UTC (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: aewatch stores only aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Trial(Base):
    __tablename__ = "trials"
    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    planned_enrolment: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class Site(Base):
    """A site's data flow, so silence (no file for N days) can be detected."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("trial_pk", "site_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    trial_pk: Mapped[int] = mapped_column(ForeignKey("trials.id"))
    site_code: Mapped[str] = mapped_column(String(64))
    first_data_at: Mapped[datetime]
    last_data_at: Mapped[datetime]


class Subject(Base):
    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("trial_pk", "subject_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    trial_pk: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    subject_id: Mapped[str] = mapped_column(String(64))
    study_id: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64), default="")
    enrolled_on: Mapped[date | None] = mapped_column(Date)
    reference_start: Mapped[date | None] = mapped_column(Date)  # DM.RFXSTDTC
    reference_end: Mapped[date | None] = mapped_column(Date)  # DM.RFXENDTC
    oligoprogression: Mapped[str | None] = mapped_column(String(32))
    systemic_therapy: Mapped[str | None] = mapped_column(String(120))
    sex: Mapped[str | None] = mapped_column(String(16))  # SDTM SEX: M, F, U, UNDIFFERENTIATED
    arm: Mapped[str | None] = mapped_column(String(120))
    died_on: Mapped[date | None] = mapped_column(Date)
    death_flag: Mapped[bool | None] = mapped_column(Boolean)  # DM.DTHFL; None: not given
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    last_contact_on: Mapped[date | None] = mapped_column(Date)
    source_file_pk: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"))
    # First recorded: a report replayed "as known at" a past time leaves later rows out.
    created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    rt_courses: Mapped[list[RtCourse]] = relationship(back_populates="subject")


class RtCourse(Base):
    """One radiotherapy course to one lesion, built from the subject's EX records
    (aewatch.exposure.courses): rebuilt whenever they change, keeping its id and key."""

    __tablename__ = "rt_courses"
    __table_args__ = (UniqueConstraint("subject_pk", "course_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subject_pk: Mapped[int] = mapped_column(ForeignKey("subjects.id"))  # unique key leads
    # Stable identity (alert dedup keys): given when the course first appears, never dated.
    course_key: Mapped[str] = mapped_column(String(120))
    lesion: Mapped[str] = mapped_column(String(120), default="")
    lesion_key: Mapped[str] = mapped_column(String(200), default="")
    course_number: Mapped[int] = mapped_column(Integer, default=1)  # 2+: re-irradiation
    treatment: Mapped[str] = mapped_column(String(120), default="")
    dose_per_fraction_gy: Mapped[float | None] = mapped_column(Float)  # None: unequal fractions
    fractions: Mapped[int | None] = mapped_column(Integer)
    fraction_doses: Mapped[list[Any] | None]  # [[n, d], …] in order of delivery
    total_dose_gy: Mapped[float | None] = mapped_column(Float)
    start_on: Mapped[date | None] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    bed_gy: Mapped[float | None] = mapped_column(Float)
    eqd2_gy: Mapped[float | None] = mapped_column(Float)
    alpha_beta_gy: Mapped[float | None] = mapped_column(Float)
    records: Mapped[int] = mapped_column(Integer, default=1)
    dose_status: Mapped[str] = mapped_column(String(24), default="evaluable")
    completed: Mapped[bool] = mapped_column(Boolean, default=True)
    liver_involved: Mapped[bool | None] = mapped_column(Boolean)  # None: site not recognised
    bed_below_minimum: Mapped[bool] = mapped_column(Boolean, default=False)  # the deviation
    source_file_pk: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"))
    created_at: Mapped[datetime | None]  # first recorded (knowledge cut)
    updated_at: Mapped[datetime]

    subject: Mapped[Subject] = relationship(back_populates="rt_courses")


class ExposureRecord(Base):
    """One SDTM EX record as the site sent it (a fraction, an interval, a course, or a
    systemic drug's dosing record). What it is (``category``, ``agent``) and its course
    are derived again whenever the subject's courses are rebuilt."""

    __tablename__ = "ex_records"
    __table_args__ = (UniqueConstraint("subject_pk", "record_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subject_pk: Mapped[int] = mapped_column(ForeignKey("subjects.id"))  # unique key leads
    record_key: Mapped[str] = mapped_column(String(200))
    treatment: Mapped[str] = mapped_column(String(120), default="")  # EXTRT
    lesion: Mapped[str] = mapped_column(String(120), default="")  # EXLOC
    link_id: Mapped[str] = mapped_column(String(64), default="")  # EXLNKID
    sponsor_id: Mapped[str] = mapped_column(String(64), default="")  # EXSPID
    seq: Mapped[int | None] = mapped_column(Integer)  # EXSEQ
    dose: Mapped[float | None] = mapped_column(Float)  # EXDOSE
    dose_unit: Mapped[str] = mapped_column(String(32), default="")  # EXDOSU
    fractions: Mapped[int | None] = mapped_column(Integer)  # EXNFRAC
    dose_frequency: Mapped[str] = mapped_column(String(32), default="")  # EXDOSFRQ
    adjustment: Mapped[str] = mapped_column(String(200), default="")  # EXADJ
    start_on: Mapped[date | None] = mapped_column(Date)
    start_precision: Mapped[str | None] = mapped_column(String(8))
    end_on: Mapped[date | None] = mapped_column(Date)
    category: Mapped[str | None] = mapped_column(String(16))  # radiotherapy|systemic|unknown
    agent: Mapped[str | None] = mapped_column(String(120))
    course_pk: Mapped[int | None] = mapped_column(ForeignKey("rt_courses.id"), index=True)
    source_file_pk: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"))
    source_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime | None]  # first recorded (knowledge cut)
    updated_at: Mapped[datetime]


class AdverseEvent(Base):
    """An AE's identity; its content is in ``ae_versions`` (latest version = current state)."""

    __tablename__ = "adverse_events"
    __table_args__ = (UniqueConstraint("subject_pk", "ae_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    trial_pk: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    subject_pk: Mapped[int] = mapped_column(ForeignKey("subjects.id"))  # unique key leads
    ae_key: Mapped[str] = mapped_column(String(120))
    # site | lab | syndrome: lab-derived and syndrome AEs are flagged "not site-reported".
    origin: Mapped[str] = mapped_column(String(16), default="site")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]

    versions: Mapped[list[AeVersion]] = relationship(
        back_populates="adverse_event", order_by="AeVersion.version", foreign_keys="AeVersion.ae_pk"
    )


class AeVersion(Base):
    __tablename__ = "ae_versions"
    __table_args__ = (
        UniqueConstraint("ae_pk", "version"),
        Index("ix_ae_versions_current", "ae_pk", "is_current"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    ae_pk: Mapped[int] = mapped_column(ForeignKey("adverse_events.id"))
    version: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_file_pk: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"))
    source_row: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime]
    # Reported (site) content.
    aeseq: Mapped[int | None] = mapped_column(Integer)
    verbatim_term: Mapped[str | None] = mapped_column(Text)
    decoded_term: Mapped[str | None] = mapped_column(String(200))
    body_system: Mapped[str | None] = mapped_column(String(200))
    reported_grade: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[str | None] = mapped_column(String(16))
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    death: Mapped[bool] = mapped_column(Boolean, default=False)
    life_threatening: Mapped[bool] = mapped_column(Boolean, default=False)
    hospitalisation: Mapped[bool] = mapped_column(Boolean, default=False)
    disability: Mapped[bool] = mapped_column(Boolean, default=False)
    congenital_anomaly: Mapped[bool] = mapped_column(Boolean, default=False)
    medically_important: Mapped[bool] = mapped_column(Boolean, default=False)
    rt_relation: Mapped[str | None] = mapped_column(String(16))
    systemic_relation: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(64))
    action_taken: Mapped[str | None] = mapped_column(String(64))
    onset_on: Mapped[date | None] = mapped_column(Date)
    onset_precision: Mapped[str | None] = mapped_column(String(8))
    # Last possible day of a partial onset (2026-03 → 2026-03-31); None for a full date.
    # aewatch.safety.onsets imputes the onset from both ends and the first RT day.
    onset_until: Mapped[date | None] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    end_precision: Mapped[str | None] = mapped_column(String(8))
    aware_at: Mapped[datetime | None]
    # True: aware_at is the site's awareness date (AEAWDTC); False: the site gave none and
    # aware_at is when aewatch received the record; None: recorded before this was kept.
    aware_at_supplied: Mapped[bool | None] = mapped_column(Boolean)
    # Grading (CTCAE coding of the term; the grade used for counting).
    ctcae_term: Mapped[str | None] = mapped_column(String(200))
    ctcae_soc: Mapped[str | None] = mapped_column(String(200))
    meddra_code: Mapped[int | None] = mapped_column(Integer)
    coding: Mapped[str | None] = mapped_column(String(16))
    grade: Mapped[int | None] = mapped_column(Integer)
    dictionary_version: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any] | None]
    # Why a date of this version was implausible (then stored as unknown); None: plausible.
    implausible: Mapped[str | None] = mapped_column(Text)
    # Why this version no longer counts (None: it counts): a derived AE the site's own
    # report replaced (``superseded_by`` names that site AE), or a removal a person
    # confirmed. Every count, rule and listing reads only versions not set aside.
    set_aside: Mapped[str | None] = mapped_column(Text)
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("adverse_events.id"))

    adverse_event: Mapped[AdverseEvent] = relationship(
        back_populates="versions", foreign_keys=[ae_pk]
    )


class LabResult(Base):
    __tablename__ = "lab_results"
    __table_args__ = (UniqueConstraint("subject_pk", "lab_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subject_pk: Mapped[int] = mapped_column(ForeignKey("subjects.id"))  # unique key leads
    lab_key: Mapped[str] = mapped_column(String(160))
    test_code: Mapped[str] = mapped_column(String(16))
    test_name: Mapped[str | None] = mapped_column(String(120))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(32))
    lower_limit: Mapped[float | None] = mapped_column(Float)
    upper_limit: Mapped[float | None] = mapped_column(Float)
    collected_on: Mapped[date | None] = mapped_column(Date)
    collected_dtc: Mapped[str | None] = mapped_column(String(32))
    baseline_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    site_grade: Mapped[int | None] = mapped_column(Integer)  # LBTOXGR: a cross-check only
    tox_term_low: Mapped[str | None] = mapped_column(String(120))
    tox_grade_low: Mapped[int | None] = mapped_column(Integer)
    tox_term_high: Mapped[str | None] = mapped_column(String(120))
    tox_grade_high: Mapped[int | None] = mapped_column(Integer)
    tox_note: Mapped[str | None] = mapped_column(Text)
    dictionary_version: Mapped[str | None] = mapped_column(String(64))
    # Why the result is implausible: kept, but never graded, counted or a baseline.
    implausible: Mapped[str | None] = mapped_column(Text)
    source_file_pk: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"))
    source_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime | None]  # first recorded (knowledge cut)
    updated_at: Mapped[datetime]


class Disposition(Base):
    """One SDTM DS record: a protocol milestone or a disposition event (death, progression,
    second-line therapy, withdrawal, lost to follow-up …), dated by DSSTDTC."""

    __tablename__ = "dispositions"
    __table_args__ = (UniqueConstraint("subject_pk", "event_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subject_pk: Mapped[int] = mapped_column(ForeignKey("subjects.id"))  # unique key leads
    event_key: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(64))  # DSCAT
    decoded_term: Mapped[str] = mapped_column(String(200))  # DSDECOD
    disposition: Mapped[str] = mapped_column(String(32))  # aewatch's reading of DSDECOD
    start_on: Mapped[date | None] = mapped_column(Date)  # DSSTDTC
    start_precision: Mapped[str | None] = mapped_column(String(8))
    source_file_pk: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"))
    source_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SourceFile(Base):
    """One received file: its sha256 makes ingest idempotent."""

    __tablename__ = "source_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    trial_pk: Mapped[int | None] = mapped_column(ForeignKey("trials.id"))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    size_bytes: Mapped[int] = mapped_column(Integer)
    file_format: Mapped[str] = mapped_column(String(16))
    domains: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16))  # done | failed
    reason: Mapped[str | None] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    versions: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class QuarantineEntry(Base):
    """A row that could not be taken as is: rejected, pending (subject unknown) or a query."""

    __tablename__ = "quarantine"
    __table_args__ = (
        Index("ix_quarantine_state", "kind", "state"),
        Index("ix_quarantine_record", "trial_pk", "subject_id", "record_key"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    trial_pk: Mapped[int | None] = mapped_column(ForeignKey("trials.id"))
    source_file_pk: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"))
    file_name: Mapped[str] = mapped_column(String(300))
    row_number: Mapped[int | None] = mapped_column(Integer)
    domain: Mapped[str | None] = mapped_column(String(8))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    # The record's identity within its subject (AESPID, lab test + time, course, "DM"): a
    # corrected re-export of the record resolves the entries about its earlier export.
    record_key: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # rejected | pending | query
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | applied | resolved
    record: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # Who resolved it by hand (`aewatch quarantine resolve`) and why; None when a corrected
    # export resolved it. A query a person resolved is not raised again.
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolution: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Append-only: every state change, with the config hash it happened under."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(120))
    detail: Mapped[dict[str, Any] | None]
    config_hash: Mapped[str | None] = mapped_column(String(64))


class RuleStatusRecord(Base):
    """A stopping rule's status history: one row whenever its numbers or state change."""

    __tablename__ = "rule_status"
    __table_args__ = (Index("ix_rule_status_rule", "trial_pk", "rule_name", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    trial_pk: Mapped[int] = mapped_column(ForeignKey("trials.id"))
    rule_name: Mapped[str] = mapped_column(String(120))
    evaluated_at: Mapped[datetime]
    evaluable_n: Mapped[int] = mapped_column(Integer)
    toxic_n: Mapped[int] = mapped_column(Integer)
    stop_at: Mapped[int | None] = mapped_column(Integer)
    cushion: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    previous_state: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[dict[str, Any] | None]


class Alert(Base):
    """The outbox: written in the same transaction as the data that caused it."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_due", "status", "next_attempt_at"),
        Index("ix_alerts_lease", "status", "lease_until"),
        Index("ix_alerts_thread", "trial_pk", "thread_key"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    trial_pk: Mapped[int] = mapped_column(ForeignKey("trials.id"))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer)  # 0 = highest
    subject_id: Mapped[str | None] = mapped_column(String(64))
    subject_line: Mapped[str] = mapped_column(String(300))
    recipients: Mapped[list[Any]]
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="due")  # due|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None]
    message_id: Mapped[str] = mapped_column(String(300))
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    requires_ack: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    ack_note: Mapped[str | None] = mapped_column(Text)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    parent_pk: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    report_due_at: Mapped[datetime | None]
    # Alerts about one patient's event (SAE, death, the threshold it caused) share a
    # thread: the first one's Message-ID is the others' In-Reply-To and References.
    thread_key: Mapped[str | None] = mapped_column(String(200))


class AlertDelivery(Base):
    """One recipient's own copy of an alert. With personal links in emails each recipient
    gets a message of their own; after a failure, a retry goes only to the recipients
    not yet served (delivered, or refused for good)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_pk", "recipient"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_pk: Mapped[int] = mapped_column(ForeignKey("alerts.id"))  # unique key leads
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))  # delivered | refused
    at: Mapped[datetime]
    detail: Mapped[str | None] = mapped_column(Text)


class Heartbeat(Base):
    __tablename__ = "heartbeats"
    worker_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    beat_at: Mapped[datetime]
    started_at: Mapped[datetime]
    detail: Mapped[dict[str, Any] | None]


class Report(Base):
    """A generated DSMB report: one per trial and month, emailed exactly once."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("trial_pk", "kind", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    trial_pk: Mapped[int] = mapped_column(ForeignKey("trials.id"))
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(16))
    data_cut: Mapped[datetime]
    generated_at: Mapped[datetime]
    html_path: Mapped[str | None] = mapped_column(Text)
    pdf_path: Mapped[str | None] = mapped_column(Text)
    tables_sha256: Mapped[str | None] = mapped_column(String(64))
    config_hash: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[dict[str, Any] | None]
