"""Source files: one row per distinct file content."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aewatch.models import SourceFile


def ingested_file(session: Session, digest: str) -> SourceFile | None:
    """The file with these bytes, if it was ingested before (the same file twice is a no-op)."""
    return session.scalars(
        select(SourceFile).where(SourceFile.sha256 == digest, SourceFile.status == "done")
    ).first()


def source_row(
    session: Session, digest: str, trial_pk: int, path: Path, now: datetime
) -> SourceFile:
    """The file's row: new, or the row of an earlier failed attempt with the same bytes
    (a file that failed, e.g. on a since-fixed mapping, can be sent again and is taken)."""
    source = session.scalars(select(SourceFile).where(SourceFile.sha256 == digest)).first()
    if source is None:
        source = SourceFile(sha256=digest, received_at=now, status="processing")
        session.add(source)
    source.trial_pk, source.name = trial_pk, path.name[:300]
    source.size_bytes = path.stat().st_size
    return source
