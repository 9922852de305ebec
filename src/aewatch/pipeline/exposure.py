"""Exposure stage (after store, before grade): rebuild the radiotherapy courses of every
subject whose EX records arrived, from all of that subject's stored records.

Sites send fractions in several files over weeks, so a course is never built from one
file: the stored records are re-read (radiotherapy or drug, dose in Gy, liver or not,
with the config in force now) and grouped into courses (aewatch.exposure.courses). A
rebuilt course keeps its id and key (alert dedup keys stay stable). Courses whose last
fraction has just become old enough to be complete are judged here too, with whatever
file comes next. What a whole course cannot support (a BED beyond plausible, records that
overlap) is queried once, when the course first shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from aewatch import audit
from aewatch.config import Settings
from aewatch.ingest.validate import Fault
from aewatch.models import SourceFile
from aewatch.pipeline.context import FileContext, Touched
from aewatch.store.courses import CourseChanges, save_courses
from aewatch.store.exposure import (
    load_exposure_records,
    save_record_reading,
    subjects_with_courses_due,
)
from aewatch.store.quarantine import quarantine_rows
from aewatch.store.subjects import subject_ids


@dataclass(frozen=True)
class Rebuild:
    """Where a rebuild runs: a file's transaction, or the worker's review of courses that
    have just become complete (no file: ``source`` is None)."""

    session: Session
    settings: Settings
    trial_pk: int
    now: datetime
    actor: str
    source: SourceFile | None
    file_name: str


def exposure(ctx: FileContext, so_far: Touched) -> Touched:
    due = courses_due(ctx.session, ctx.settings, ctx.trial_pk, ctx.now)
    subjects = so_far.ex_subjects | due
    if not subjects:
        return Touched()
    where = Rebuild(
        ctx.session, ctx.settings, ctx.trial_pk, ctx.now, ctx.actor, ctx.source, ctx.file_name
    )
    return rebuild_courses(where, subjects)


def courses_due(session: Session, settings: Settings, trial_pk: int, now: datetime) -> set[int]:
    """Subjects with a course whose last fraction is now older than the course gap."""
    gap = settings.radiotherapy.course_gap_days
    return subjects_with_courses_due(session, trial_pk, now.date() - timedelta(days=gap))


def review_completed_courses(
    session: Session, settings: Settings, trial_pk: int, now: datetime, actor: str
) -> Touched:
    """The worker's check between files: courses that became complete since the last
    file are judged now, so a deviation is alerted even while no site sends anything."""
    due = courses_due(session, settings, trial_pk, now)
    if not due:
        return Touched()
    where = Rebuild(session, settings, trial_pk, now, actor, None, "(completed-course review)")
    return rebuild_courses(where, due)


def rebuild_courses(ctx: Rebuild, subjects: set[int]) -> Touched:
    """Courses of these subjects from all their stored EX records, saved and queried."""
    from aewatch.exposure.courses import build_courses
    from aewatch.exposure.records import read_records
    from aewatch.exposure.rules import exposure_rules
    from aewatch.exposure.vocabulary import RADIOTHERAPY

    rules = exposure_rules(ctx.settings)
    stored = load_exposure_records(ctx.session, subjects)
    reading = read_records(stored, rules)
    built = build_courses(reading[reading["category"] == RADIOTHERAPY], rules, ctx.now.date())
    old_course_of = {
        int(r): (None if pd.isna(c) else int(c))
        for r, c in zip(stored["record_pk"], stored["course_pk"], strict=True)
    }
    file_pk = ctx.source.id if ctx.source is not None else None
    changes = save_courses(ctx.session, subjects, built, old_course_of, file_pk, ctx.now)
    course_pk = stored["record_pk"].map(changes.course_of_record).astype("Int64")
    save_record_reading(
        ctx.session,
        pd.DataFrame(
            {
                "record_pk": stored["record_pk"],
                "category": reading["category"],
                "agent": reading["agent"],
                "course_pk": course_pk,
                "old_category": stored["category"],
                "old_agent": stored["agent"],
                "old_course_pk": stored["course_pk"].astype("Int64"),
            }
        ),
    )
    names = subject_ids(ctx.session, subjects)
    faults = course_queries(ctx, built, changes, stored, names)
    quarantine_rows(
        ctx.session,
        faults,
        trial_pk=ctx.trial_pk,
        source=ctx.source,
        file_name=ctx.file_name,
        domain="EX",
        now=ctx.now,
    )
    _audit(ctx, built, changes, names)
    moved = {int(s) for s in built.loc[_changed_rows(built, changes), "subject_pk"]}
    moved |= {r["subject_pk"] for r in changes.removed}
    return Touched(courses=list(changes.changed), subjects=moved, queries=len(faults))


def _changed_rows(built: pd.DataFrame, changes: CourseChanges) -> pd.Series:
    changed = set(changes.changed)
    return built["members"].map(
        lambda members: bool(members) and changes.course_of_record.get(members[0]) in changed
    )


def course_queries(
    ctx: Rebuild,
    built: pd.DataFrame,
    changes: CourseChanges,
    stored: pd.DataFrame,
    names: dict[int, str],
) -> list[Fault]:
    """A course that newly shows a BED beyond plausible (each fraction plausible on its own)
    or overlapping records; asked once, when its state first appears."""
    from aewatch.exposure.courses import IMPLAUSIBLE, OVERLAPPING, schedule_text

    file_pk = ctx.source.id if ctx.source is not None else -1
    rows_here = stored[stored["source_file_pk"] == file_pk].set_index("record_pk")
    limit = ctx.settings.radiotherapy.max_bed_gy
    ab = ctx.settings.radiotherapy.alpha_beta_gy
    faults = []
    for course in built.to_dict("records"):
        pk = changes.course_of_record.get(course["members"][0])
        if pk not in changes.changed:
            continue
        status = course["dose_status"]
        before = changes.before.get(pk, {}).get("dose_status")
        if status == before:
            continue
        where = f"course to {course['lesion']} (course {course['course_number']})"
        if status == IMPLAUSIBLE and course["plausible_fractions"]:
            field = "EXDOSE"
            reason = (
                f"{where}: BED {course['bed_gy']:.1f} Gy{ab:g} from "
                f"{schedule_text(course['fraction_doses'])} is above the plausible {limit:g} "
                "Gy: check the fraction doses and their number (a fraction sent twice, cGy "
                "written as Gy); the course is kept but not used for the deviation check "
                "until corrected"
            )
        elif status == OVERLAPPING:
            field = "EXSTDTC"
            reason = (
                f"{where}: records overlap in time (records starting "
                f"{', '.join(course['overlap_starts'])}), so a fraction may be counted "
                "twice: send each fraction or interval once, with dates that do not overlap "
                "(a corrected record keeps its EXSPID and EXSTDTC); a second lesion needs its "
                "own EXLOC or EXLNKID. The course is not used for the deviation check until "
                "then"
            )
        else:
            continue
        members_here = [m for m in course["members"] if m in rows_here.index]
        row = rows_here.at[members_here[-1], "source_row"] if members_here else None
        faults.append(
            Fault(
                None if row is None or pd.isna(row) else int(row),  # type: ignore[arg-type]
                field,
                f"{course['lesion']} #{course['course_number']}",
                reason,
                kind="query",
                subject=names.get(int(course["subject_pk"])),
            )
        )
    return faults


def _audit(
    ctx: Rebuild, built: pd.DataFrame, changes: CourseChanges, names: dict[int, str]
) -> None:
    changed = set(changes.changed)
    for course in built.to_dict("records"):
        pk = changes.course_of_record.get(course["members"][0])
        if pk not in changed:
            continue
        before = changes.before.get(pk)
        detail: dict[str, Any] = {
            "subject": names.get(int(course["subject_pk"])),
            "lesion": course["lesion"],
            "records": int(course["records"]),
            "bed_gy": None if pd.isna(course["bed_gy"]) else float(course["bed_gy"]),
            "dose_status": course["dose_status"],
            "completed": bool(course["completed"]),
        }
        if before:
            detail["before"] = {
                "bed_gy": before["bed_gy"],
                "dose_status": before["dose_status"],
                "records": before["records"],
            }
        audit.record(
            ctx.session,
            at=ctx.now,
            actor=ctx.actor,
            action="rt course changed" if before else "rt course built",
            entity="rt_course",
            entity_id=pk,
            detail=detail,
            config_hash=ctx.settings.config_hash,
        )
    for gone in changes.removed:
        audit.record(
            ctx.session,
            at=ctx.now,
            actor=ctx.actor,
            action="rt course removed",
            entity="rt_course",
            entity_id=gone["course_pk"],
            detail={"subject": names.get(gone["subject_pk"]), "course_key": gone["course_key"]},
            config_hash=ctx.settings.config_hash,
        )
