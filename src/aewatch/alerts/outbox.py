"""Queue alerts in the caller's transaction (DESIGN invariant 3: the outbox).

An alert commits with the data that caused it or not at all; a dedup key that is
already queued is skipped by the database itself (ON CONFLICT DO NOTHING), so two
workers re-processing the same file can never queue it twice.

Threads: alerts about one patient's event carry one ``thread_key``; each later alert
names the thread's first one in In-Reply-To/References, and a reminder or escalation
names its original, so a mail client shows the SAE, its follow-ups, the death and the
threshold alert they caused as one conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from hashlib import sha256
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aewatch import audit
from aewatch.alerts.privacy import check_context
from aewatch.alerts.render import render_subject
from aewatch.alerts.requests import AlertRequest
from aewatch.models import Alert, Trial

log = logging.getLogger("aewatch.alerts")


def message_id_for(dedup_key: str, trial_id: str) -> str:
    """Stable per alert, so a resend after a crash threads as the same message."""
    domain = "".join(c if c.isalnum() or c in ".-" else "-" for c in trial_id) or "trial"
    return f"<{sha256(dedup_key.encode()).hexdigest()[:32]}@aewatch.{domain}>"


def _subject_line(request: AlertRequest, trial_id: str) -> str:
    """Never let a template bug roll back the ingest of an SAE: fall back to a plain line
    (the body is rendered at send time, where a failure retries and escalates)."""
    try:
        return render_subject(request.kind, request.context)
    except Exception:
        log.exception("subject template failed for %s", request.dedup_key)
        subject = f" {request.subject_id}" if request.subject_id else ""
        return f"[{request.kind.upper()}][{trial_id}]{subject}"


def _insert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(Alert)


def enqueue(
    session: Session,
    trial_pk: int,
    requests: Iterable[AlertRequest | None],
    now: datetime,
    *,
    config_hash: str | None = None,
    actor: str = "aewatch",
    parent_pk: int | None = None,
) -> int:
    """Insert new outbox rows; returns how many were new (duplicates are skipped)."""
    trial = session.get(Trial, trial_pk)
    if trial is None:
        raise ValueError(f"no trial with primary key {trial_pk}")
    new = 0
    for request in requests:
        if request is None:
            continue
        check_context(request.context)
        payload = {"context": dict(request.context), "attachments": list(request.attachments)}
        references = _references(session, trial_pk, request.thread, parent_pk)
        if references:
            payload["references"] = references
        values = {
            "trial_pk": trial_pk,
            "dedup_key": request.dedup_key,
            "kind": request.kind,
            "priority": request.priority,
            "subject_id": request.subject_id,
            "subject_line": _subject_line(request, trial.trial_id),
            "recipients": list(request.recipients),
            "payload": payload,
            "status": "due",
            "attempts": 0,
            "next_attempt_at": now,
            "message_id": message_id_for(request.dedup_key, trial.trial_id),
            "created_at": now,
            "requires_ack": request.requires_ack,
            "escalation_level": 0,
            "parent_pk": parent_pk,
            "report_due_at": request.report_due_at,
            "thread_key": request.thread,
        }
        statement = (
            _insert(session)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(Alert.id)
        )
        alert_id = session.execute(statement).scalar_one_or_none()
        if alert_id is None:
            continue
        new += 1
        audit.record(
            session,
            at=now,
            actor=actor,
            action="alert queued",
            entity="alert",
            entity_id=alert_id,
            detail={"dedup_key": request.dedup_key, "kind": request.kind,
                    "priority": request.priority, "recipients": list(request.recipients)},
            config_hash=config_hash,
        )
    return new


def _references(
    session: Session, trial_pk: int, thread: str | None, parent_pk: int | None
) -> list[str]:
    """Message-IDs this alert replies to: its original's thread and the original itself,
    or the first alert of its event thread."""
    if parent_pk is not None:
        parent = session.get(Alert, parent_pk)
        if parent is not None:
            earlier = list((parent.payload or {}).get("references", []))
            return [*earlier, parent.message_id]
    if thread:
        root = session.scalars(
            select(Alert.message_id)
            .where(Alert.trial_pk == trial_pk, Alert.thread_key == thread)
            .order_by(Alert.id)
            .limit(1)
        ).first()
        if root is not None:
            return [root]
    return []
