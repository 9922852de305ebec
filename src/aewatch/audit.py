"""The append-only audit trail (DESIGN invariant 5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from aewatch.models import AuditEntry


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str | None = None,
    entity_id: str | int | None = None,
    detail: dict[str, Any] | None = None,
    config_hash: str | None = None,
) -> None:
    """Add one audit row to the caller's transaction, so it commits with the change."""
    session.add(
        AuditEntry(
            at=at,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            detail=detail,
            config_hash=config_hash,
        )
    )


def record_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk form for ingest, where one file can create thousands of audit rows."""
    if rows:
        session.execute(AuditEntry.__table__.insert(), rows)
