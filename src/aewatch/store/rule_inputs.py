"""The two tables a stopping rule is evaluated on: patients and their AEs.

Shared by the ingest transaction's rules stage, `aewatch status` and the DSMB report,
so all three see the same patients and events. ``known_at`` replays what was recorded
by then (None: everything); the clinical cut is the evaluation's ``as_of``
(aewatch.safety.evaluation), which drops what is dated after it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, func, or_, select, true, union_all
from sqlalchemy.orm import Session, aliased

from aewatch.db import fast_frame, frame_of
from aewatch.models import AdverseEvent, AeVersion, Disposition, LabResult, RtCourse, Subject
from aewatch.safety.disposition import DEATH, LOST, WITHDRAWAL, end_of_follow_up


def load_patients(
    session: Session, trial_pk: int, known_at: datetime | None = None
) -> pd.DataFrame:
    """One row per subject: RT window, last contact, death and withdrawal dates (DM and DS).

    An implausible lab is no contact (a result dated next year would make a patient
    "followed" through a window they were never seen in); an implausible AE date is
    already stored as unknown."""
    subjects = frame_of(
        session,
        select(
            Subject.id,
            Subject.subject_id,
            Subject.died_on,
            Subject.withdrawn_on,
            Subject.last_contact_on,
        ).where(Subject.trial_pk == trial_pk, _known(Subject.created_at, known_at)),
        ["pk", "subject_id", "died_on", "withdrawn_on", "last_contact_on"],
    )
    courses = frame_of(
        session,
        select(RtCourse.subject_pk, func.min(RtCourse.start_on), func.max(RtCourse.end_on))
        .join(Subject, RtCourse.subject_pk == Subject.id)
        .where(Subject.trial_pk == trial_pk, _known(RtCourse.created_at, known_at))
        .group_by(RtCourse.subject_pk),
        ["pk", "rt_start", "rt_end"],
    )
    contact_parts = union_all(
        select(LabResult.subject_pk.label("pk"), func.max(LabResult.collected_on).label("day"))
        .where(LabResult.implausible.is_(None), _known(LabResult.created_at, known_at))
        .group_by(LabResult.subject_pk),
        select(
            AdverseEvent.subject_pk.label("pk"),
            func.max(func.coalesce(AeVersion.end_on, AeVersion.onset_on)).label("day"),
        )
        .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & _version_known(known_at))
        .group_by(AdverseEvent.subject_pk),
    ).subquery()
    contacts = frame_of(
        session,
        select(contact_parts.c.pk, func.max(contact_parts.c.day)).group_by(contact_parts.c.pk),
        ["pk", "data_contact"],
    )
    dispositions = frame_of(
        session,
        select(Disposition.subject_pk, Disposition.disposition, func.min(Disposition.start_on))
        .join(Subject, Disposition.subject_pk == Subject.id)
        .where(
            Subject.trial_pk == trial_pk,
            Disposition.disposition.in_([DEATH, WITHDRAWAL, LOST]),
            _known(Disposition.created_at, known_at),
        )
        .group_by(Disposition.subject_pk, Disposition.disposition),
        ["pk", "disposition", "start_on"],
    )
    frame = subjects.merge(courses, on="pk", how="left").merge(contacts, on="pk", how="left")
    for column in (
        "died_on",
        "withdrawn_on",
        "last_contact_on",
        "rt_start",
        "rt_end",
        "data_contact",
    ):
        frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
    dispositions["start_on"] = pd.to_datetime(dispositions["start_on"]).dt.tz_localize("UTC")
    frame = end_of_follow_up(frame, dispositions, key="pk")
    # Withdrawn or lost to follow-up: either way the window cannot be followed through.
    frame["withdrawn_on"] = frame["left_on"]
    frame["last_contact"] = frame[["last_contact_on", "data_contact", "died_on", "rt_end"]].max(
        axis=1
    )
    return frame[["subject_id", "rt_start", "rt_end", "last_contact", "died_on", "withdrawn_on"]]


def load_events(
    session: Session,
    trial_pk: int,
    known_at: datetime | None = None,
    min_grade: int | None = None,
) -> pd.DataFrame:
    """The version of every AE (site-reported and derived) current at ``known_at``; with
    ``min_grade`` only derived syndromes and events graded at least that (no rule can
    count the rest: the lowest ``min_grade`` of the site-reported rules, as
    `aewatch status` reads them).

    Read through the driver's cursor (``fast_frame``): a Row object per AE was most of
    the time on large trials. Dates are parsed below, whichever form the driver gives."""
    frame = fast_frame(
        session,
        select(
            Subject.subject_id,
            AdverseEvent.ae_key,
            AeVersion.onset_on,
            AeVersion.onset_until,
            AeVersion.grade,
            AeVersion.ctcae_term,
            AeVersion.ctcae_soc,
            AeVersion.rt_relation,
            AeVersion.systemic_relation,
            AeVersion.serious,
            AdverseEvent.origin,
        )
        .join(AdverseEvent, AeVersion.ae_pk == AdverseEvent.id)
        .join(Subject, AdverseEvent.subject_pk == Subject.id)
        .where(
            AdverseEvent.trial_pk == trial_pk,
            _version_known(known_at, session),
            true()
            if min_grade is None
            else (AdverseEvent.origin == "syndrome") | (AeVersion.grade >= int(min_grade)),
        ),
        [
            "subject_id",
            "ae_key",
            "onset",
            "onset_until",
            "grade",
            "ctcae_term",
            "ctcae_soc",
            "rt_relation",
            "systemic_relation",
            "serious",
            "origin",
        ],
    )
    frame["onset"] = pd.to_datetime(frame["onset"], format="ISO8601").dt.tz_localize("UTC")
    # Last day of a partial onset: the rule takes it as the first RT day when inside.
    frame["onset_until"] = pd.to_datetime(frame["onset_until"], format="ISO8601").dt.tz_localize(
        "UTC"
    )
    frame["grade"] = pd.to_numeric(frame["grade"]).astype("Int64")
    frame["serious"] = frame["serious"].fillna(False).astype(bool)
    frame["derived"] = frame["ctcae_term"].where(frame["origin"] == "syndrome")
    return frame.drop(columns=["origin"])


def _known(column: Any, known_at: datetime | None) -> Any:
    """Rows first recorded by ``known_at`` (rows without a record time count as known)."""
    if known_at is None:
        return true()
    return or_(column.is_(None), column <= known_at)


def _version_known(known_at: datetime | None, session: Session | None = None) -> Any:
    """The current version, or the latest version recorded by ``known_at``.

    With ``session`` the time is bound as the database stores it (untyped), so the clause
    also works through the driver's cursor, where no bind processing happens."""
    if known_at is None:
        return AeVersion.is_current.is_(True) & AeVersion.set_aside.is_(None)
    later = aliased(AeVersion)
    moment: Any = known_at
    if session is not None:
        moment = bindparam("known_at", _stored_time(session, known_at))
    latest = (
        select(func.max(later.version))
        .where(later.ae_pk == AeVersion.ae_pk, later.recorded_at <= moment)
        .scalar_subquery()
    )
    return (AeVersion.version == latest) & AeVersion.set_aside.is_(None)


def _stored_time(session: Session, moment: datetime) -> Any:
    """``moment`` as the UTC time column holds it: SQLite text (SQLAlchemy's SQLite
    DATETIME format, which compares as text), an aware time on PostgreSQL."""
    utc = moment.astimezone(UTC)
    if session.get_bind().dialect.name == "sqlite":
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f")
    return utc
