"""What DM and AE say about deaths, and the open queries where they disagree.

DM and AE often arrive in different files, so the comparison reads stored data
(aewatch.safety.data_queries decides); the queries it raises live in the quarantine
table like every other (kind "query", record key ``DEATH:…``) and are resolved here as
soon as the two domains agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from aewatch.db import frame_of
from aewatch.models import AdverseEvent, AeVersion, QuarantineEntry, SourceFile, Subject
from aewatch.store.quarantine import open_entries_with_prefix, resolve_entries

if TYPE_CHECKING:
    from aewatch.safety.data_queries import DeathQuery

PREFIX = "DEATH:"


def death_records(session: Session, subject_pks: set[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The subjects' DM death fields, and their current site-reported AE versions."""
    ids = sorted(subject_pks)
    subjects = frame_of(
        session,
        select(
            Subject.subject_id,
            Subject.died_on,
            Subject.death_flag,
            SourceFile.name,
        )
        .outerjoin(SourceFile, SourceFile.id == Subject.source_file_pk)
        .where(Subject.id.in_(ids)),
        ["subject_id", "died_on", "death_flag", "file_name"],
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
            AeVersion.source_row,
            SourceFile.name,
        )
        .join(AdverseEvent, AdverseEvent.subject_pk == Subject.id)
        .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
        .outerjoin(SourceFile, SourceFile.id == AeVersion.source_file_pk)
        .where(Subject.id.in_(ids), AdverseEvent.origin == "site"),
        [
            "subject_id",
            "ae_pk",
            "ae_key",
            "ctcae_term",
            "grade",
            "outcome",
            "death",
            "source_row",
            "file_name",
        ],
    )
    return subjects, events


def sync_death_queries(
    session: Session,
    trial_pk: int,
    subject_ids: Sequence[str],
    queries: Sequence[DeathQuery],
    subjects: pd.DataFrame,
    events: pd.DataFrame,
    fallback_file: str,
    now: datetime,
) -> int:
    """Open the queries not yet open, resolve those that no longer hold; returns how many
    were opened."""
    open_now = open_entries_with_prefix(session, trial_pk, list(subject_ids), PREFIX)
    wanted = {(q.subject_id, q.key, q.reason) for q in queries}
    resolve_entries(
        session,
        [e.id for e in open_now if (e.subject_id, e.record_key, e.reason) not in wanted],
        now,
    )
    already = {(e.subject_id, e.record_key, e.reason) for e in open_now}
    dm_files = dict(zip(subjects["subject_id"], subjects["file_name"], strict=True))
    ae_rows = {
        int(pk): (name, row)
        for pk, name, row in zip(
            events["ae_pk"], events["file_name"], events["source_row"], strict=True
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
