"""Alerts about alerts: reminders, escalations and delivery failures.

Each embeds its original's full context, so the person it reaches learns the SAE
itself, not merely that one exists (an alert is complete in itself). Dedup keys name
the original's id and the step, so each step is queued exactly once.
"""

from __future__ import annotations

from typing import Any

from aewatch.alerts.requests import AlertRequest
from aewatch.alerts.rules import recipients_for
from aewatch.config import Settings
from aewatch.models import Alert


def _original(row: Alert) -> dict[str, Any]:
    return {
        "alert_id": row.id,
        "kind": row.kind,
        "subject_line": row.subject_line,
        "dedup_key": row.dedup_key,
        "message_id": row.message_id,
        "recipients": list(row.recipients),
        "requires_ack": row.requires_ack,
        "created_at": row.created_at.isoformat(),
    }


def _context(row: Alert, **extra: Any) -> dict[str, Any]:
    base = dict((row.payload or {}).get("context", {}))
    return {**base, "original": _original(row), **extra}


def reminder_request(
    row: Alert, tag: str, key: str, hours_unacknowledged: float,
    deadline: dict[str, Any] | None = None,
) -> AlertRequest:
    return AlertRequest(
        kind="reminder",
        dedup_key=f"reminder:{row.id}:{key}",
        priority=row.priority,
        subject_id=row.subject_id,
        recipients=tuple(row.recipients),
        context=_context(
            row,
            reminder={"tag": tag, "hours_unacknowledged": round(hours_unacknowledged),
                      "deadline": deadline},
        ),
    )


def escalation_request(
    row: Alert, level: int, recipient: str, hours_unacknowledged: float
) -> AlertRequest:
    return AlertRequest(
        kind="escalation",
        dedup_key=f"escalation:{row.id}:{level}",
        priority=row.priority,
        subject_id=row.subject_id,
        recipients=(recipient,),
        context=_context(
            row,
            escalation={"level": level, "hours_unacknowledged": round(hours_unacknowledged)},
        ),
    )


def delivery_failure_request(
    row: Alert, settings: Settings, error: str, recipients: list[str], step: str = "failed"
) -> AlertRequest:
    return AlertRequest(
        kind="delivery-failure",
        dedup_key=f"delivery-failure:{row.id}:{step}",
        priority=row.priority,
        subject_id=row.subject_id,
        recipients=recipients_for(settings.alerts.fallback, settings),
        context=_context(
            row,
            failure={"attempts": row.attempts, "last_error": error[:500],
                     "recipients": recipients},
        ),
    )
