"""Radiotherapy courses (built from EX records) and the first-RT dates derived from them.

Courses are rebuilt from a subject's records whenever they change. A rebuilt course keeps
the id and key of the stored course its records belonged to, so a deviation alert (dedup
key: the course key) is never queued twice for one course, however its fractions arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from aewatch.db import frame_of
from aewatch.models import ExposureRecord, RtCourse
from aewatch.store.frames import records

CONTENT = (
    "lesion",
    "lesion_key",
    "course_number",
    "treatment",
    "dose_per_fraction_gy",
    "fractions",
    "fraction_doses",
    "total_dose_gy",
    "start_on",
    "end_on",
    "bed_gy",
    "eqd2_gy",
    "alpha_beta_gy",
    "records",
    "dose_status",
    "completed",
    "liver_involved",
    "bed_below_minimum",
)


@dataclass
class CourseChanges:
    """What a rebuild changed: course ids created or changed, with the stored state before."""

    changed: list[int] = field(default_factory=list)
    before: dict[int, dict[str, Any]] = field(default_factory=dict)  # empty for new courses
    removed: list[dict[str, Any]] = field(default_factory=list)
    course_of_record: dict[int, int] = field(default_factory=dict)


def save_courses(
    session: Session,
    subject_pks: set[int],
    built: pd.DataFrame,
    old_course_of: dict[int, int | None],
    file_pk: int | None,
    now: datetime,
) -> CourseChanges:
    """Replace the stored courses of these subjects with ``built`` (one row per course,
    ``members`` = its record ids). A built course takes over the oldest stored course any
    of its records belonged to (``old_course_of``: record id → course id); a stored course
    no record leads to any more (its records became a drug, or joined another course) is
    removed."""
    stored = frame_of(
        session,
        select(RtCourse.id, RtCourse.subject_pk, RtCourse.course_key, *_columns()).where(
            RtCourse.subject_pk.in_(list(subject_pks))
        ),
        ["course_pk", "subject_pk", "course_key", *CONTENT],
    )
    by_id = {int(r["course_pk"]): r for r in stored.to_dict("records")}
    keys_in_use = {(int(r["subject_pk"]), r["course_key"]) for r in by_id.values()}
    claimed: set[int] = set()
    changes = CourseChanges()
    table = RtCourse.__table__
    for course in records(built, ["subject_pk", *CONTENT, "members"]):
        subject = int(course["subject_pk"])
        candidates = sorted(
            {
                pk
                for pk in (old_course_of.get(m) for m in course["members"])
                if pk is not None
                and pk in by_id
                and pk not in claimed
                and int(by_id[pk]["subject_pk"]) == subject
            }
        )
        values = {c: course[c] for c in CONTENT}
        if candidates:
            pk = candidates[0]
            claimed.add(pk)
            before = by_id[pk]
            if _differs(before, values):
                session.execute(
                    update(table)
                    .where(table.c.id == pk)
                    .values(**values, source_file_pk=file_pk, updated_at=now)
                )
                changes.changed.append(pk)
                changes.before[pk] = {c: before[c] for c in CONTENT}
        else:
            key = _new_key(subject, course["lesion"], int(course["course_number"]), keys_in_use)
            keys_in_use.add((subject, key))
            pk = session.execute(
                insert(RtCourse).returning(RtCourse.id),
                {
                    "subject_pk": subject,
                    "course_key": key,
                    **values,
                    "source_file_pk": file_pk,
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
            changes.changed.append(pk)
        for member in course["members"]:
            changes.course_of_record[int(member)] = pk
    gone = [pk for pk in by_id if pk not in claimed]
    if gone:
        records_table = ExposureRecord.__table__
        session.execute(
            update(records_table).where(records_table.c.course_pk.in_(gone)).values(course_pk=None)
        )
        session.execute(delete(table).where(table.c.id.in_(gone)))
        changes.removed = [
            {"course_pk": pk, "subject_pk": int(by_id[pk]["subject_pk"]),
             "course_key": by_id[pk]["course_key"]}
            for pk in gone
        ]  # fmt: skip
    return changes


def _columns() -> list[Any]:
    return [getattr(RtCourse, c) for c in CONTENT]


def _differs(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return any(_plain(before[c]) != _plain(after[c]) for c in CONTENT)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _new_key(subject: int, lesion: str, number: int, in_use: set[tuple[int, str]]) -> str:
    """A readable, date-free key (it appears in alerts): '<lesion> #<n>'."""
    base = f"{(lesion or 'lesion')[:100]} #{number}"
    key, extra = base, 1
    while (subject, key) in in_use:
        extra += 1
        key = f"{base} ({extra})"
    return key


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
