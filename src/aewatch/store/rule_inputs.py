"""The two tables a stopping rule is evaluated on: patients and their current AEs.

Shared by the ingest transaction's rules stage and by `aewatch status`, so both see the
same patients and events.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from aewatch.db import frame_of
from aewatch.models import AdverseEvent, AeVersion, LabResult, RtCourse, Subject


def load_patients(session: Session, trial_pk: int) -> pd.DataFrame:
    """One row per subject: RT window, last contact, death and withdrawal dates.

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
        ).where(Subject.trial_pk == trial_pk),
        ["pk", "subject_id", "died_on", "withdrawn_on", "last_contact_on"],
    )
    courses = frame_of(
        session,
        select(RtCourse.subject_pk, func.min(RtCourse.start_on), func.max(RtCourse.end_on))
        .join(Subject, RtCourse.subject_pk == Subject.id)
        .where(Subject.trial_pk == trial_pk)
        .group_by(RtCourse.subject_pk),
        ["pk", "rt_start", "rt_end"],
    )
    contact_parts = union_all(
        select(LabResult.subject_pk.label("pk"), func.max(LabResult.collected_on).label("day"))
        .where(LabResult.implausible.is_(None))
        .group_by(LabResult.subject_pk),
        select(
            AdverseEvent.subject_pk.label("pk"),
            func.max(func.coalesce(AeVersion.end_on, AeVersion.onset_on)).label("day"),
        )
        .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
        .group_by(AdverseEvent.subject_pk),
    ).subquery()
    contacts = frame_of(
        session,
        select(contact_parts.c.pk, func.max(contact_parts.c.day)).group_by(contact_parts.c.pk),
        ["pk", "data_contact"],
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
    frame["last_contact"] = frame[["last_contact_on", "data_contact", "died_on", "rt_end"]].max(
        axis=1
    )
    return frame[["subject_id", "rt_start", "rt_end", "last_contact", "died_on", "withdrawn_on"]]


def load_events(session: Session, trial_pk: int) -> pd.DataFrame:
    """The current version of every AE (site-reported and derived)."""
    rows = session.execute(
        select(
            Subject.subject_id,
            AeVersion.onset_on,
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
        .where(AdverseEvent.trial_pk == trial_pk, AeVersion.is_current.is_(True))
    ).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "subject_id",
            "onset",
            "grade",
            "ctcae_term",
            "ctcae_soc",
            "rt_relation",
            "systemic_relation",
            "serious",
            "origin",
        ],
    )
    frame["onset"] = pd.to_datetime(frame["onset"]).dt.tz_localize("UTC")
    frame["grade"] = pd.to_numeric(frame["grade"]).astype("Int64")
    frame["serious"] = frame["serious"].astype(bool)
    frame["derived"] = frame["ctcae_term"].where(frame["origin"] == "syndrome")
    return frame.drop(columns=["origin"])
