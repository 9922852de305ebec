"""What DM, DS and AE say about deaths, the queries where they disagree, and the
death-derived AE of a death no site AE reports.

DM, DS and AE often arrive in different files, so the comparison reads stored data
(aewatch.safety.data_queries and aewatch.safety.deaths decide); the queries it raises
live in the quarantine table like every other (kind "query", record key ``DEATH:…``) and
are resolved here as soon as the domains agree. A query a person resolved by hand
(``aewatch quarantine resolve``) is not raised again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from aewatch.db import frame_of
from aewatch.models import (
    AdverseEvent,
    AeVersion,
    Disposition,
    QuarantineEntry,
    SourceFile,
    Subject,
)
from aewatch.safety.data_queries import NOT_CAUSED_BY_AE_KEYS, death_queries
from aewatch.safety.deaths import death_derived_events, reconciled_deaths
from aewatch.safety.disposition import DEATH
from aewatch.store.adverse_events import store_adverse_events
from aewatch.store.quarantine import open_entries_with_prefix, resolve_entries
from aewatch.store.set_aside import Wanted, apply_set_aside

if TYPE_CHECKING:
    from aewatch.safety.data_queries import DeathQuery
    from aewatch.store.subjects import DeathRemoval

PREFIX = "DEATH:"


def reconcile_deaths(
    session: Session, trial_pk: int, subject_pks: set[int], file_name: str, now: datetime
) -> tuple[int, list[int]]:
    """Queries where DM, DS and AE disagree, and the death-derived AE of each death no
    site AE reports (set aside once one does, or once a person confirmed the death was
    not caused by an AE). Returns the queries opened and the new AE versions (to alert)."""
    subjects, ds, events = death_records(session, subject_pks)
    ids = [str(s) for s in subjects["subject_id"]]
    queries = death_queries(subjects, events, ds)
    opened = sync_death_queries(session, trial_pk, ids, queries, subjects, events, file_name, now)
    deaths = reconciled_deaths(subjects, ds, events)
    derived = death_derived_events(deaths)
    versions: list[int] = []
    if not derived.empty:
        pks = dict(zip(subjects["subject_id"], subjects["pk"], strict=True))
        stored = store_adverse_events(
            session, trial_pk, derived, pks, None, now, now, origin="death"
        )
        versions = stored.new_ae_versions
    existing = derived_deaths(session, subject_pks)
    if existing:
        confirmed = resolved_by_hand(session, trial_pk, ids, PREFIX)
        fatal = dict(zip(deaths["subject_id"], deaths["fatal_ae_pk"], strict=True))
        wanted: dict[int, Wanted] = {}
        for subject, ae_pk in existing.items():
            site_ae = fatal.get(subject)
            who = [
                by
                for (s, key), by in confirmed.items()
                if s == subject and key in NOT_CAUSED_BY_AE_KEYS
            ]
            if subject in fatal and site_ae is not None and not pd.isna(site_ae):
                wanted[ae_pk] = ("the site reported the fatal AE", int(site_ae))
            elif subject not in fatal:
                wanted[ae_pk] = ("no death recorded any more", None)
            elif who:
                wanted[ae_pk] = (f"death not caused by an AE: confirmed by {who[0]}", None)
            else:
                wanted[ae_pk] = (None, None)
        apply_set_aside(session, wanted, now)
    return opened, versions


def death_records(
    session: Session, subject_pks: set[int]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The subjects' DM death fields, their DS death records and their current
    site-reported AE versions that record a death (``safety.deaths.fatal_events``: only
    those take part in the reconciliation, so the others are not read)."""
    ids = sorted(subject_pks)
    subjects = frame_of(
        session,
        select(
            Subject.id,
            Subject.subject_id,
            Subject.died_on,
            Subject.death_flag,
            SourceFile.name,
        )
        .outerjoin(SourceFile, SourceFile.id == Subject.source_file_pk)
        .where(Subject.id.in_(ids)),
        ["pk", "subject_id", "died_on", "death_flag", "file_name"],
    )
    events = frame_of(
        session,
        select(
            Subject.subject_id,
            AdverseEvent.id,
            AdverseEvent.ae_key,
            AeVersion.ctcae_term,
            AeVersion.grade,
            AeVersion.outcome,
            AeVersion.death,
            AeVersion.end_on,
            AeVersion.source_row,
            SourceFile.name,
        )
        .join(AdverseEvent, AdverseEvent.subject_pk == Subject.id)
        .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
        .outerjoin(SourceFile, SourceFile.id == AeVersion.source_file_pk)
        .where(
            Subject.id.in_(ids),
            AdverseEvent.origin == "site",
            (AeVersion.grade == 5) | (AeVersion.outcome == "FATAL") | AeVersion.death.is_(True),
        ),
        [
            "subject_id",
            "ae_pk",
            "ae_key",
            "ctcae_term",
            "grade",
            "outcome",
            "death",
            "end_on",
            "source_row",
            "file_name",
        ],
    )
    ds = frame_of(
        session,
        select(Subject.subject_id, Disposition.start_on)
        .join(Disposition, Disposition.subject_pk == Subject.id)
        .where(Subject.id.in_(ids), Disposition.disposition == DEATH),
        ["subject_id", "start_on"],
    )
    return subjects, ds, events


def derived_deaths(session: Session, subject_pks: set[int]) -> dict[str, int]:
    """USUBJID → the death-derived AE (origin "death") of these subjects, if any."""
    rows = session.execute(
        select(Subject.subject_id, AdverseEvent.id)
        .join(AdverseEvent, AdverseEvent.subject_pk == Subject.id)
        .where(Subject.id.in_(sorted(subject_pks)), AdverseEvent.origin == "death")
    ).all()
    return {subject: int(pk) for subject, pk in rows}


def resolved_by_hand(
    session: Session, trial_pk: int, subject_ids: Sequence[str], prefix: str
) -> dict[tuple[str, str], str]:
    """(subject, record key) → who resolved it, for queries a person resolved by hand."""
    table = QuarantineEntry.__table__
    rows = session.execute(
        select(table.c.subject_id, table.c.record_key, table.c.resolved_by).where(
            table.c.trial_pk == trial_pk,
            table.c.subject_id.in_(list(subject_ids)),
            table.c.record_key.like(f"{prefix}%"),
            table.c.resolved_by.is_not(None),
        )
    ).all()
    return {(str(s), str(k)): str(by) for s, k, by in rows}


def sync_death_queries(
    session: Session,
    trial_pk: int,
    subject_ids: Sequence[str],
    queries: Sequence[DeathQuery],
    subjects: pd.DataFrame,
    events: pd.DataFrame,
    fallback_file: str,
    now: datetime,
    prefix: str = PREFIX,
) -> int:
    """Open the queries not yet open, resolve those that no longer hold (those whose
    record key starts with ``prefix``: one family of cross-domain queries); returns how
    many were opened."""
    open_now = open_entries_with_prefix(session, trial_pk, list(subject_ids), prefix)
    by_hand = resolved_by_hand(session, trial_pk, subject_ids, prefix)
    queries = [q for q in queries if (q.subject_id, q.key) not in by_hand]
    wanted = {(q.subject_id, q.key, q.reason) for q in queries}
    resolve_entries(
        session,
        [e.id for e in open_now if (e.subject_id, e.record_key, e.reason) not in wanted],
        now,
    )
    already = {(e.subject_id, e.record_key, e.reason) for e in open_now}
    dm_files = dict(zip(subjects["subject_id"], subjects["file_name"], strict=True))
    cited = events[events["ae_pk"].isin({q.ae_pk for q in queries if q.ae_pk is not None})]
    ae_rows = {  # only the AEs a query names: ``events`` may be all of a subject's AEs
        int(pk): (name, row)
        for pk, name, row in zip(
            cited["ae_pk"], cited["file_name"], cited["source_row"], strict=True
        )
    }
    rows = []
    for query in queries:
        if (query.subject_id, query.key, query.reason) in already:
            continue
        if query.ae_pk is not None:
            file_name, row = ae_rows.get(query.ae_pk, (None, None))
        else:
            file_name, row = dm_files.get(query.subject_id), None
        rows.append(
            {
                "trial_pk": trial_pk,
                "source_file_pk": None,
                "file_name": str(file_name or fallback_file)[:300],
                "row_number": None if row is None or pd.isna(row) else int(row),
                "domain": query.domain,
                "subject_id": query.subject_id[:64],
                "record_key": query.key[:200],
                "field": query.field,
                "value": query.value,
                "reason": query.reason,
                "kind": "query",
                "state": "open",
                "record": None,
                "created_at": now,
                "resolved_at": None,
            }
        )
    if rows:
        session.execute(QuarantineEntry.__table__.insert(), rows)
    return len(rows)


REMOVED = "DEATH-REMOVED"


def query_death_removals(
    session: Session,
    trial_pk: int,
    removals: Sequence[DeathRemoval],
    file_name: str,
    file_pk: int | None,
    now: datetime,
) -> int:
    """A re-export that clears a death keeps it: one open query per subject and field
    until a person confirms the removal (``aewatch quarantine resolve``) or the site
    sends the death again. Returns how many were opened."""
    if not removals:
        return 0
    subjects = sorted({r.subject_id for r in removals})
    already = {
        (e.subject_id, e.reason.split(" ", 1)[0])
        for e in open_entries_with_prefix(session, trial_pk, subjects, REMOVED)
    }
    rows = [
        {
            "trial_pk": trial_pk,
            "source_file_pk": file_pk,
            "file_name": file_name[:300],
            "row_number": removal.row,
            "domain": "DM",
            "subject_id": removal.subject_id[:64],
            "record_key": REMOVED,
            "field": removal.field,
            "value": removal.kept,
            "reason": f"{removal.field} was {removal.kept} and this re-export leaves it empty: "
            "the death is kept and still counts. If the death was recorded in error, a person "
            "confirms the removal with `aewatch quarantine resolve ID --by NAME --note ...`; "
            "otherwise the site sends DM with the death again",
            "kind": "query",
            "state": "open",
            "record": None,
            "created_at": now,
            "resolved_at": None,
        }
        for removal in removals
        if (removal.subject_id, removal.field) not in already
    ]
    if rows:
        session.execute(QuarantineEntry.__table__.insert(), rows)
    return len(rows)


def resolve_death_removals(
    session: Session, trial_pk: int, subject_ids: Sequence[str], now: datetime
) -> int:
    """The site sent the death again: the removal queries of these subjects are answered."""
    if not subject_ids:
        return 0
    found = open_entries_with_prefix(session, trial_pk, list(subject_ids), REMOVED)
    return resolve_entries(session, [e.id for e in found], now)
