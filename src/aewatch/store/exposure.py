"""EX records as received (one per fraction, interval, course or drug dosing record)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from aewatch.db import frame_of
from aewatch.models import ExposureRecord, RtCourse, Subject
from aewatch.store.frames import content_hash, records
from aewatch.store.result import StoreResult

EX_CONTENT = (
    "treatment",
    "lesion",
    "link_id",
    "sponsor_id",
    "seq",
    "dose",
    "dose_unit",
    "fractions",
    "dose_frequency",
    "adjustment",
    "start_on",
    "start_precision",
    "end_on",
)
RECORD_COLUMNS = [
    "record_pk",
    "subject_pk",
    *EX_CONTENT,
    "category",
    "agent",
    "course_pk",
    "source_file_pk",
    "source_row",
]
_TEXT = {  # column: stored length
    "treatment": 120,
    "lesion": 120,
    "link_id": 64,
    "sponsor_id": 64,
    "dose_unit": 32,
    "dose_frequency": 32,
    "adjustment": 200,
}


def store_exposure_records(
    session: Session,
    frame: pd.DataFrame,
    subjects: dict[str, int],
    file_pk: int | None,
    now: datetime,
) -> StoreResult:
    """Insert new records; a re-exported record (same key) whose content changed is updated.

    Every subject in the file is returned as touched: its courses are rebuilt even when no
    record changed, so a vocabulary added to the config applies with the next export.
    """
    result = StoreResult(accepted=len(frame))
    if frame.empty:
        return result
    frame = frame.assign(subject_pk=frame["USUBJID"].map(subjects).astype("int64"))
    for column, length in _TEXT.items():
        frame[column] = frame[column].fillna("").astype(str).str.slice(0, length)
    frame["content_hash"] = content_hash(frame, EX_CONTENT)
    pks = [int(x) for x in frame["subject_pk"].unique()]
    existing = frame_of(
        session,
        select(
            ExposureRecord.id,
            ExposureRecord.subject_pk,
            ExposureRecord.record_key,
            *[getattr(ExposureRecord, c) for c in EX_CONTENT],
        ).where(ExposureRecord.subject_pk.in_(pks)),
        ["record_pk", "subject_pk", "record_key", *EX_CONTENT],
    )
    existing["old_hash"] = content_hash(existing, EX_CONTENT) if len(existing) else []
    merged = frame.merge(
        existing[["record_pk", "subject_pk", "record_key", "old_hash"]],
        on=["subject_pk", "record_key"],
        how="left",
    )
    is_new = merged["record_pk"].isna()
    changed = ~is_new & (merged["old_hash"] != merged["content_hash"])
    table = ExposureRecord.__table__
    if is_new.any():
        rows = records(merged.loc[is_new], ["subject_pk", "record_key", *EX_CONTENT, "ROW"])
        for row in rows:
            row.update(
                source_row=row.pop("ROW"), source_file_pk=file_pk, created_at=now, updated_at=now
            )
        session.connection().execute(table.insert(), rows)
    if changed.any():
        rows = records(merged.loc[changed], ["record_pk", *EX_CONTENT, "ROW"])
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                {c: bindparam(c) for c in EX_CONTENT}
                | {"source_row": bindparam("b_row"), "updated_at": now, "source_file_pk": file_pk}
            ),
            [{"b_id": int(r.pop("record_pk")), "b_row": r.pop("ROW"), **r} for r in rows],
        )
    result.touched_subjects.update(pks)
    return result


def load_exposure_records(session: Session, subject_pks: set[int]) -> pd.DataFrame:
    """Every stored EX record of these subjects (``RECORD_COLUMNS``; dates as datetime64)."""
    frame = frame_of(
        session,
        select(
            ExposureRecord.id,
            ExposureRecord.subject_pk,
            *[getattr(ExposureRecord, c) for c in EX_CONTENT],
            ExposureRecord.category,
            ExposureRecord.agent,
            ExposureRecord.course_pk,
            ExposureRecord.source_file_pk,
            ExposureRecord.source_row,
        ).where(ExposureRecord.subject_pk.in_(list(subject_pks))),
        RECORD_COLUMNS,
    )
    for column in ("start_on", "end_on"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    frame["fractions"] = pd.to_numeric(frame["fractions"]).astype("Int64")
    frame["dose"] = pd.to_numeric(frame["dose"]).astype("float64")
    return frame


def save_record_reading(session: Session, reading: pd.DataFrame) -> None:
    """Write back what each record was read as: category, agent and its course."""
    changed = reading[
        (reading["category"].astype(str) != reading["old_category"].astype(str))
        | (reading["agent"].astype(str) != reading["old_agent"].astype(str))
        | (reading["course_pk"].astype(str) != reading["old_course_pk"].astype(str))
    ]
    if changed.empty:
        return
    table = ExposureRecord.__table__
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            category=bindparam("b_category"),
            agent=bindparam("b_agent"),
            course_pk=bindparam("b_course"),
        ),
        [
            {"b_id": int(r["record_pk"]), **{f"b_{k}": r[k] for k in ("category", "agent")}}
            | {"b_course": r["course_pk"]}
            for r in records(changed, ["record_pk", "category", "agent", "course_pk"])
        ],
    )


def subjects_with_courses_due(session: Session, trial_pk: int, before: date) -> set[int]:
    """Subjects with a course not yet completed whose last day is before ``before``: no
    fraction can join it any more, so it is judged now (deviation check)."""
    rows = session.execute(
        select(RtCourse.subject_pk)
        .join(Subject, Subject.id == RtCourse.subject_pk)
        .where(
            Subject.trial_pk == trial_pk,
            RtCourse.completed.is_(False),
            RtCourse.end_on < before,
        )
        .distinct()
    ).all()
    return {int(pk) for (pk,) in rows}
