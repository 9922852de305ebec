"""Stage 5, store: quarantine the table's faults, hold rows of subjects not in DM yet,
and write the rest (aewatch.store does the database work).

A DM table that brings new subjects also stores the rows that were held for them.
An SAE held for its subject is still news now: its rows go to the alerts stage. The
records of the table answer the open queries about their earlier exports (what they no
longer raise is resolved), and values read as other than written are audited.
"""

from __future__ import annotations

import pandas as pd

from aewatch import audit
from aewatch.ingest.validate import RECORD_KEY_COLUMNS
from aewatch.pipeline.context import FileContext, PreparedTable, Touched
from aewatch.store.adverse_events import store_adverse_events
from aewatch.store.deaths import query_death_removals, resolve_death_removals
from aewatch.store.dispositions import store_dispositions
from aewatch.store.exposure import store_exposure_records
from aewatch.store.labs import store_labs
from aewatch.store.quarantine import (
    hold_rows,
    mark_applied,
    quarantine_rows,
    supersede,
    waiting_rows,
)
from aewatch.store.subjects import store_subjects, subject_index, touch_sites


def store(ctx: FileContext, table: PreparedTable) -> Touched:
    touched = Touched(
        quarantined=len({f.row for f in table.faults if f.kind == "rejected"}),
        queries=sum(1 for f in table.faults if f.kind == "query"),
    )
    supersede(
        ctx.session,
        ctx.trial_pk,
        table.domain,
        _subjects(table),
        lambda: _records(table),
        table.faults,
        ctx.now,
    )
    _audit_normalised(ctx, table)
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


def _subjects(table: PreparedTable) -> list[str]:
    """Every subject this table names."""
    frame = table.frame
    if frame.empty or "USUBJID" not in frame:
        return []
    return [str(s) for s in frame["USUBJID"].dropna().unique() if s]


def _records(table: PreparedTable) -> set[tuple[str, str]]:
    """(subject, record key) of every record this table stores or holds."""
    frame = table.frame
    if frame.empty or "USUBJID" not in frame:
        return set()
    column = RECORD_KEY_COLUMNS.get(table.domain)
    # Plain arrays: iterating Arrow-backed columns element by element is slow.
    keys = frame[column].astype(str).to_numpy(dtype=object) if column else ["DM"] * len(frame)
    subjects = frame["USUBJID"].to_numpy(dtype=object)
    return {(str(s), str(k)) for s, k in zip(subjects, keys, strict=True) if s and k}


def _audit_normalised(ctx: FileContext, table: PreparedTable) -> None:
    """Values read as other than written (AETOXGR 'III' → 3): the audit trail keeps both."""
    if not table.normalised:
        return
    audit.record(
        ctx.session,
        at=ctx.now,
        actor=ctx.actor,
        action="values normalised",
        entity="source_file",
        entity_id=ctx.source.id,
        detail={
            "file": ctx.file_name,
            "domain": table.domain,
            "values": [
                {
                    "row": n.row,
                    "subject": n.subject,
                    "field": n.field,
                    "written": n.written,
                    "read_as": n.read_as,
                }
                for n in table.normalised
            ],
        },
        config_hash=ctx.settings.config_hash,
    )


def _store_subjects(ctx: FileContext, table: PreparedTable) -> Touched:
    result = store_subjects(
        ctx.session, ctx.trial_pk, table.frame, ctx.source.id, ctx.now, carried=table.columns
    )
    touch_sites(ctx.session, ctx.trial_pk, result.sites, ctx.now)
    resolve_death_removals(ctx.session, ctx.trial_pk, result.deaths_resent, ctx.now)
    removals = query_death_removals(
        ctx.session, ctx.trial_pk, result.death_removals, ctx.file_name, ctx.source.id, ctx.now
    )
    touched = Touched(
        accepted=result.accepted, subjects=set(result.touched_subjects), queries=removals
    )
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
        touched.add(_store_rows(ctx, group.domain, group.frame, known, group.source_file_pk))
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
        result = store_adverse_events(
            session,
            ctx.trial_pk,
            frame,
            known,
            file_pk,
            now,
            now,
            site_timezone=ctx.settings.trial.timezone_of,
        )
        touched = Touched(ae_versions=list(result.new_ae_versions))
    elif domain == "LB":
        result = store_labs(session, frame, known, file_pk, now)
        touched = Touched(lab_subjects=set(result.lab_subjects), new_labs=list(result.new_labs))
    elif domain == "EX":  # courses are built from the stored records in the exposure stage
        result = store_exposure_records(session, frame, known, file_pk, now)
        touched = Touched(ex_subjects=set(result.touched_subjects))
    elif domain == "DS":
        result = store_dispositions(session, frame, known, file_pk, now)
        touched = Touched()
    else:  # pragma: no cover - DM is stored by _store_subjects
        raise ValueError(domain)
    touched.versions = result.versions
    touched.subjects = set(result.touched_subjects)
    return touched
