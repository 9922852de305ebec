"""Each stopping rule's status history (one row per change of its figures)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aewatch.models import RuleStatusRecord


def last_status(session: Session, trial_pk: int, rule_name: str) -> RuleStatusRecord | None:
    return session.scalars(
        select(RuleStatusRecord)
        .where(RuleStatusRecord.trial_pk == trial_pk, RuleStatusRecord.rule_name == rule_name)
        .order_by(RuleStatusRecord.id.desc())
        .limit(1)
    ).first()


def add_status(
    session: Session,
    trial_pk: int,
    rule_name: str,
    now: datetime,
    status: Any,
    previous_state: str | None,
    detail: dict[str, Any],
) -> None:
    session.add(
        RuleStatusRecord(
            trial_pk=trial_pk,
            rule_name=rule_name,
            evaluated_at=now,
            evaluable_n=status.evaluable_n,
            toxic_n=status.toxic_n,
            stop_at=status.stop_at,
            cushion=status.cushion,
            state=status.state,
            previous_state=previous_state,
            detail=detail,
        )
    )
