"""Stage 5, store: quarantine the table's faults, hold rows of subjects not in DM yet,
and write the rest (aewatch.store does the database work).

A DM table that brings new subjects also stores the rows that were held for them.
An SAE held for its subject is still news now: its rows go to the alerts stage.
"""

from __future__ import annotations

import pandas as pd

from aewatch.pipeline.code import course_doses
from aewatch.pipeline.context import FileContext, PreparedTable, Touched
from aewatch.store.adverse_events import store_adverse_events
from aewatch.store.courses import store_courses
from aewatch.store.dispositions import store_dispositions
from aewatch.store.labs import store_labs
from aewatch.store.quarantine import hold_rows, mark_applied, quarantine_rows, waiting_rows
from aewatch.store.subjects import store_subjects, subject_index, touch_sites


def store(ctx: FileContext, table: PreparedTable) -> Touched:
    touched = Touched(
        quarantined=len({f.row for f in table.faults if f.kind == "rejected"}),
        queries=sum(1 for f in table.faults if f.kind == "query"),
    )
    quarantine_rows(
        ctx.session,
        table.faults,
        trial_pk=ctx.trial_pk,
        source=ctx.source,
        file_name=ctx.file_name,
        domain=table.domain,
        now=ctx.now,
    )
    frame = table.frame
    if frame.empty:
        return touched
    if table.domain == "DM":
        return touched.add(_store_subjects(ctx, table))
    known = subject_index(ctx.session, ctx.trial_pk)
    is_known = frame["USUBJID"].isin(known)
    held = frame.loc[~is_known]
    if not held.empty:
        hold_rows(ctx.session, held, table.domain, ctx.trial_pk, ctx.source, ctx.file_name, ctx.now)
        if table.domain == "AE":
            touched.held_events.append(held)
    ready = frame.loc[is_known].reset_index(drop=True)
    touched.add(_store_rows(ctx, table.domain, ready, known, ctx.source.id))
    # Counted in the file's rows (log-form records merged into one AE still count each).
    rows_known = table.row_subjects.isin(known)
    touched.accepted, touched.pending = int(rows_known.sum()), int((~rows_known).sum())
    return touched


def _store_subjects(ctx: FileContext, table: PreparedTable) -> Touched:
    result = store_subjects(
        ctx.session, ctx.trial_pk, table.frame, ctx.source.id, ctx.now, carried=table.columns
    )
    touch_sites(ctx.session, ctx.trial_pk, result.sites, ctx.now)
    touched = Touched(accepted=result.accepted, subjects=set(result.touched_subjects))
    if result.new_subjects:
        touched.add(_store_held_rows(ctx, result.new_subjects))
    return touched


def _store_held_rows(ctx: FileContext, subject_ids: list[str]) -> Touched:
    """Subjects just arrived: store the rows that were waiting for them, oldest first."""
    groups, last_id = waiting_rows(ctx.session, ctx.trial_pk, subject_ids)
    touched = Touched()
    if last_id is None:
        return touched
    known = subject_index(ctx.session, ctx.trial_pk)
    for group in groups:
        frame = group.frame
        if group.domain == "EX":  # the trial's α/β in force now, not when the row was held
            frame = course_doses(frame, ctx.settings)
        touched.add(_store_rows(ctx, group.domain, frame, known, group.source_file_pk))
    mark_applied(ctx.session, ctx.trial_pk, subject_ids, last_id, ctx.now)
    return touched


def _store_rows(
    ctx: FileContext,
    domain: str,
    frame: pd.DataFrame,
    known: dict[str, int],
    file_pk: int | None,
) -> Touched:
    """Write one domain's rows of known subjects; say what later stages must look at."""
    if frame.empty:
        return Touched()
    session, now = ctx.session, ctx.now
    if domain == "AE":
        result = store_adverse_events(session, ctx.trial_pk, frame, known, file_pk, now, now)
        touched = Touched(ae_versions=list(result.new_ae_versions))
    elif domain == "LB":
        result = store_labs(session, frame, known, file_pk, now)
        touched = Touched(lab_subjects=set(result.lab_subjects))
    elif domain == "EX":
        result = store_courses(session, frame, known, file_pk, now)
        touched = Touched(courses=list(result.course_ids))
    elif domain == "DS":
        result = store_dispositions(session, frame, known, file_pk, now)
        touched = Touched()
    else:  # pragma: no cover - DM is stored by _store_subjects
        raise ValueError(domain)
    touched.versions = result.versions
    touched.subjects = set(result.touched_subjects)
    return touched
