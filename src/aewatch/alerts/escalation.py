"""Unacknowledged SAE and death alerts are repeated and escalated (DESIGN invariant 3).

After ``ack_escalate_after_hours`` an unacknowledged alert gets reminder 1 to its own
recipients and escalation level 1 to ``escalation_chain[0]``; every
``reminder_every_hours`` after that, the next reminder and the next level. Reporting
deadlines (sponsor 24-hour notification, SUSAR clocks) get a "due soon" and an
"overdue" reminder. Each step has its own dedup key, so it happens once however often
this runs; an acknowledgement stops all of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aewatch import audit
from aewatch.alerts.followups import escalation_request, reminder_request
from aewatch.alerts.outbox import enqueue
from aewatch.alerts.requests import AlertRequest
from aewatch.clock import Clock
from aewatch.config import Settings
from aewatch.models import Alert

DEADLINE_WARNING = timedelta(hours=4)  # "sponsor 24-hour notification due in 4 hours"


def check_acknowledgements(
    sessions: sessionmaker[Session], settings: Settings, clock: Clock
) -> int:
    """Queue the reminders and escalations now due; returns how many were queued."""
    now = clock.now()
    queued = 0
    with sessions() as session, session.begin():
        waiting = session.scalars(
            select(Alert)
            .where(Alert.requires_ack.is_(True), Alert.acknowledged_at.is_(None))
            .order_by(Alert.priority, Alert.id)
        ).all()
        for row in waiting:
            queued += _follow_up(session, row, settings, now)
    return queued


def _follow_up(session: Session, row: Alert, settings: Settings, now: datetime) -> int:
    alerts = settings.alerts
    hours = (now - row.created_at).total_seconds() / 3600
    queued = 0
    if hours >= alerts.ack_escalate_after_hours:
        every = alerts.reminder_every_hours
        number = int((hours - alerts.ack_escalate_after_hours) // every) + 1 if every > 0 else 1
        # Only the current reminder: after downtime, one reminder, not a backlog of them.
        queued += _queue(session, row, settings, now,
                         reminder_request(row, f"REMINDER {number}", str(number), hours))
        level = min(number, len(alerts.escalation_chain))
        for step in range(1, level + 1):  # each person on the chain hears once
            request = escalation_request(row, step, alerts.escalation_chain[step - 1], hours)
            if _queue(session, row, settings, now, request):
                queued += 1
                row.escalation_level = max(row.escalation_level, step)
                audit.record(session, at=now, actor="aewatch", action="alert escalated",
                             entity="alert", entity_id=row.id,
                             detail={"level": step, "to": list(request.recipients)},
                             config_hash=settings.config_hash)
    for deadline in _deadlines(row):
        due = datetime.fromisoformat(deadline["due_at"])
        if now >= due:
            tag, step = "OVERDUE", "overdue"
        elif now >= due - DEADLINE_WARNING:
            tag, step = "DUE SOON", "due-soon"
        else:
            continue
        request = reminder_request(row, f"{tag}: {deadline['label']}",
                                   f"{deadline['key']}:{step}", hours, deadline)
        queued += _queue(session, row, settings, now, request)
    return queued


def _deadlines(row: Alert) -> list[dict[str, str]]:
    context = (row.payload or {}).get("context", {})
    return list(context.get("clock", {}).get("deadlines", []))


def _queue(
    session: Session, row: Alert, settings: Settings, now: datetime, request: AlertRequest
) -> int:
    return enqueue(session, row.trial_pk, [request], now, config_hash=settings.config_hash,
                   parent_pk=row.id)
