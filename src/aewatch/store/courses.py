"""Radiotherapy courses (EX) and the first-RT dates derived from them."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from aewatch.models import RtCourse
from aewatch.store.frames import records
from aewatch.store.result import StoreResult

EX_CONTENT = (
    "treatment",
    "lesion",
    "dose_per_fraction_gy",
    "fractions",
    "start_on",
    "end_on",
)
COURSE_COLUMNS = [
    "subject_pk",
    "course_key",
    *EX_CONTENT,
    "total_dose_gy",
    "bed_gy",
    "eqd2_gy",
    "alpha_beta_gy",
    "bed_below_minimum",
]


def store_courses(
    session: Session,
    frame: pd.DataFrame,
    subjects: dict[str, int],
    file_pk: int | None,
    now: datetime,
) -> StoreResult:
    """Insert new courses; a re-exported course (same key) replaces the stored one."""
    result = StoreResult(accepted=len(frame))
    if frame.empty:
        return result
    frame = frame.assign(subject_pk=frame["USUBJID"].map(subjects).astype("int64"))
    pks = [int(x) for x in frame["subject_pk"].unique()]
    existing = {
        (s, k): pk
        for pk, s, k in session.execute(
            select(RtCourse.id, RtCourse.subject_pk, RtCourse.course_key).where(
                RtCourse.subject_pk.in_(pks)
            )
        ).all()
    }
    for row in records(frame, COURSE_COLUMNS):
        key = (int(row["subject_pk"]), row["course_key"])
        row.update(source_file_pk=file_pk, updated_at=now)
        if key in existing:
            session.execute(update(RtCourse).where(RtCourse.id == existing[key]).values(**row))
            result.course_ids.append(existing[key])
        else:
            row["created_at"] = now
            pk = session.execute(insert(RtCourse).returning(RtCourse.id), row).scalar_one()
            result.course_ids.append(pk)
    result.touched_subjects.update(pks)
    return result


def first_rt_starts(session: Session, subject_pks: set[int]) -> dict[int, date]:
    """Each subject's first radiotherapy day: day 1 of the study-day clock in alerts."""
    if not subject_pks:
        return {}
    rows = session.execute(
        select(RtCourse.subject_pk, func.min(RtCourse.start_on))
        .where(RtCourse.subject_pk.in_(subject_pks))
        .group_by(RtCourse.subject_pk)
    ).all()
    return {pk: start for pk, start in rows if start is not None}
