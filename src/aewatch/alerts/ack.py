"""People acting on alerts: acknowledge (stops reminders and escalation) and resend."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from aewatch import audit
from aewatch.models import Alert


class AlertNotFound(LookupError):
    pass


def _get(session: Session, alert_id: int) -> Alert:
    row = session.get(Alert, alert_id)
    if row is None:
        raise AlertNotFound(f"no alert with id {alert_id}")
    return row


def acknowledge(session: Session, alert_id: int, by: str, note: str | None,
                now: datetime, *, channel: str = "command line") -> Alert:
    """Acknowledge an alert; acknowledging a reminder or escalation acknowledges the
    original too, since that is what the reader is confirming they saw. ``channel``
    (the command line, or a signed email link) goes into the audit trail."""
    if not by.strip():
        raise ValueError("an acknowledgement needs the name of the person acknowledging")
    row = _get(session, alert_id)
    targets = [row]
    if row.parent_pk is not None:
        targets.insert(0, _get(session, row.parent_pk))
    root = targets[0]
    for target in targets:
        first = target.acknowledged_at is None
        if first:
            target.acknowledged_at, target.acknowledged_by, target.ack_note = now, by, note
        audit.record(session, at=now, actor=by, action="alert acknowledged", entity="alert",
                     entity_id=target.id,
                     detail={"note": note, "via": alert_id, "already": not first,
                             "channel": channel})
    return root


def resend(session: Session, alert_id: int, now: datetime, by: str = "aewatch") -> Alert:
    """Queue an alert again with the same Message-ID (mail clients show one message)."""
    row = _get(session, alert_id)
    previous = row.status
    row.status, row.next_attempt_at, row.attempts = "due", now, 0
    row.claimed_by, row.lease_until = None, None
    audit.record(session, at=now, actor=by, action="alert resend requested", entity="alert",
                 entity_id=row.id, detail={"previous_status": previous,
                                           "message_id": row.message_id})
    return row
