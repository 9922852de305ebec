"""The outbox as `aewatch alerts list` and `aewatch alerts show` show it, read through
the DB-API driver.

Listing alerts is what the safety officer types most; it reads one table, so it uses
the driver directly (``aewatch.dbapi``) and not SQLAlchemy's ORM, whose import alone
takes longer than the query. Rows come back with the attributes of ``models.Alert``
that the listing prints, typed as the ORM would type them (aware UTC times, a list of
recipients, a flag), so both paths print the same thing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from aewatch.dbapi import ReadOnlyDatabase

FIELDS = (
    "id", "status", "priority", "kind", "subject_line", "recipients", "created_at", "sent_at",
    "attempts", "next_attempt_at", "last_error", "message_id", "dedup_key", "requires_ack",
    "acknowledged_at", "acknowledged_by", "ack_note", "escalation_level", "parent_pk",
    "report_due_at",
)  # fmt: skip
TIMES = ("created_at", "sent_at", "next_attempt_at", "acknowledged_at", "report_due_at")


def list_alerts(
    db: ReadOnlyDatabase, status: str = "all", kind: str | None = None, limit: int = 100
) -> list[SimpleNamespace]:
    """Newest first; ``status`` is due, sending, sent, failed, unacknowledged or all."""
    where, params = [], {"limit": int(limit)}
    if status == "unacknowledged":
        where.append("requires_ack = :yes AND acknowledged_at IS NULL")
        params["yes"] = True
    elif status != "all":
        where.append("status = :status")
        params["status"] = status
    if kind:
        where.append("kind = :kind")
        params["kind"] = kind
    sql = f"SELECT {', '.join(FIELDS)} FROM alerts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = db.rows(sql + " ORDER BY id DESC LIMIT :limit", params)
    return [_typed(dict(zip(FIELDS, row, strict=True))) for row in rows]


def find_alert(db: ReadOnlyDatabase, alert_id: int) -> SimpleNamespace | None:
    """One alert as `aewatch alerts show` renders it: the listing's attributes, its
    ``payload`` (what the email is rendered from) and its trial's ``trial_id``."""
    rows = db.rows(
        f"SELECT {', '.join('a.' + f for f in FIELDS)}, a.payload, t.trial_id FROM alerts a"
        " JOIN trials t ON t.id = a.trial_pk WHERE a.id = :id",
        {"id": int(alert_id)},
    )
    if not rows:
        return None
    *values, payload, trial_id = rows[0]
    alert = _typed(dict(zip(FIELDS, values, strict=True)))
    alert.payload = json.loads(payload) if isinstance(payload, str) else payload
    alert.trial_id = trial_id
    return alert


def alert_history(db: ReadOnlyDatabase, alert_id: int) -> list[dict[str, Any]]:
    """The audit entries about one alert, oldest first (``at`` an aware UTC time)."""
    rows = db.rows(
        "SELECT at, actor, action, detail FROM audit_log"
        " WHERE entity = 'alert' AND entity_id = :id ORDER BY id",
        {"id": str(alert_id)},
    )
    return [
        {
            "at": _utc(at),
            "actor": actor,
            "action": action,
            "detail": json.loads(detail) if isinstance(detail, str) else detail,
        }
        for at, actor, action, detail in rows
    ]


def _typed(row: dict[str, Any]) -> SimpleNamespace:
    for name in TIMES:
        row[name] = _utc(row[name])
    if isinstance(row["recipients"], str):
        row["recipients"] = json.loads(row["recipients"])
    row["requires_ack"] = bool(row["requires_ack"])
    return SimpleNamespace(**row)


def _utc(value: Any) -> datetime | None:
    """Naive UTC text on SQLite, aware on PostgreSQL (``models.UTCDateTime``)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
