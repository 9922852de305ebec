"""Disposition events (SDTM DS): a re-export with a changed record updates it in place."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from aewatch.db import frame_of
from aewatch.models import Disposition
from aewatch.store.frames import content_hash, records
from aewatch.store.result import StoreResult

DS_CONTENT = ("category", "decoded_term", "disposition", "start_on", "start_precision")


def store_dispositions(
    session: Session,
    frame: pd.DataFrame,
    subjects: dict[str, int],
    file_pk: int | None,
    now: datetime,
) -> StoreResult:
    """Insert new disposition records; update one whose re-export changed (same key)."""
    result = StoreResult(accepted=len(frame))
    if frame.empty:
        return result
    frame = frame.assign(subject_pk=frame["USUBJID"].map(subjects).astype("int64"))
    frame["content_hash"] = content_hash(frame, DS_CONTENT)
    pks = [int(x) for x in frame["subject_pk"].unique()]
    existing = frame_of(
        session,
        select(
            Disposition.id,
            Disposition.subject_pk,
            Disposition.event_key,
            *[getattr(Disposition, c) for c in DS_CONTENT],
        ).where(Disposition.subject_pk.in_(pks)),
        ["ds_pk", "subject_pk", "event_key", *DS_CONTENT],
    )
    existing["old_hash"] = content_hash(existing, DS_CONTENT) if len(existing) else None
    merged = frame.merge(
        existing[["ds_pk", "subject_pk", "event_key", "old_hash"]],
        on=["subject_pk", "event_key"],
        how="left",
    )
    is_new = merged["ds_pk"].isna()
    changed = ~is_new & (merged["old_hash"] != merged["content_hash"])
    if is_new.any():
        rows = records(merged.loc[is_new], ["subject_pk", "event_key", *DS_CONTENT, "ROW"])
        for row in rows:
            row.update(
                source_row=row.pop("ROW"), source_file_pk=file_pk, created_at=now, updated_at=now
            )
        session.execute(Disposition.__table__.insert(), rows)
    if changed.any():
        table = Disposition.__table__
        rows = records(merged.loc[changed], ["ds_pk", *DS_CONTENT])
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                {c: bindparam(c) for c in DS_CONTENT}
                | {"updated_at": now, "source_file_pk": file_pk}
            ),
            [{"b_id": int(r.pop("ds_pk")), **r} for r in rows],
        )
    result.versions = int((is_new | changed).sum())
    # Only a changed record can move a death or a withdrawal: the rules look at those.
    result.touched_subjects.update(int(s) for s in merged.loc[is_new | changed, "subject_pk"])
    return result
