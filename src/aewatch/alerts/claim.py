"""Claiming one outbox row with a lease: the only way a sender may touch a row.

A claim is a compare-and-set UPDATE (``… WHERE id = ? AND <still claimable> RETURNING``),
so of two workers only the one whose UPDATE hit the row sends it. On PostgreSQL the
candidate is also picked ``FOR UPDATE SKIP LOCKED`` so concurrent workers pick different
rows instead of queueing behind one another (SQLAlchemy drops that clause on SQLite,
where ``BEGIN IMMEDIATE`` serialises writers anyway; see PITFALLS).

A lease, not a "done" mark, guards the send: if the worker dies between claim and
commit, the lease runs out and another claim re-sends with the same Message-ID
(at-least-once; healthchecks marks work done first and can lose it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from aewatch.models import Alert


def claimable(now: datetime) -> ColumnElement[bool]:
    """Due now, or being sent by a worker whose lease has run out."""
    return or_(
        and_(Alert.status == "due", Alert.next_attempt_at <= now),
        and_(Alert.status == "sending", Alert.lease_until < now),
    )


def claim_next(
    sessions: sessionmaker[Session], worker_id: str, now: datetime, lease_seconds: float
) -> int | None:
    """Claim the most urgent claimable row (priority, then age); its id, or None."""
    with sessions() as session, session.begin():
        for _ in range(5):  # another worker may win the race for a candidate: pick again
            candidate = session.scalars(
                select(Alert.id)
                .where(claimable(now))
                .order_by(Alert.priority, Alert.created_at, Alert.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if candidate is None:
                return None
            claimed = session.execute(
                update(Alert)
                .where(Alert.id == candidate, claimable(now))
                .values(
                    status="sending",
                    claimed_by=worker_id,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=Alert.attempts + 1,
                )
                .returning(Alert.id)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if claimed is not None:
                return int(claimed)
    return None


def still_mine(worker_id: str, alert_id: int) -> ColumnElement[bool]:
    """Guard for every write after the send: only the lease holder records the outcome."""
    return and_(Alert.id == alert_id, Alert.status == "sending", Alert.claimed_by == worker_id)
