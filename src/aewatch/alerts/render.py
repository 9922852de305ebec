"""One alert → one multipart/alternative email, rendered at send time from its payload.

Three templates per kind (``<kind>.subject.txt``, ``<kind>.txt``, ``<kind>.html``) share
``layout.txt``/``layout.html``. HTML is autoescaped (a CTCAE term can be hostile text) and
a missing variable is an error, not a blank: a half-rendered SAE email is worse than a
failed one that retries and escalates.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from hashlib import sha256
from pathlib import Path
from typing import Any

import jinja2

from aewatch.alerts.privacy import one_line

AE_KINDS = frozenset({"sae-initial", "sae-followup", "death"})


@dataclass(frozen=True)
class OutgoingAlert:
    """The parts of an outbox row rendering needs, detached from the session."""

    id: int
    trial_id: str
    kind: str
    dedup_key: str
    priority: int
    subject_line: str
    recipients: tuple[str, ...]
    message_id: str
    created_at: datetime
    requires_ack: bool = False
    root_id: int | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    attachments: tuple[str, ...] = ()
    references: tuple[str, ...] = ()  # Message-IDs of the thread, oldest first

    @classmethod
    def from_row(cls, row: Any, trial_id: str, root_id: int | None = None) -> OutgoingAlert:
        payload = row.payload or {}
        return cls(
            id=row.id,
            trial_id=trial_id,
            kind=row.kind,
            dedup_key=row.dedup_key,
            priority=row.priority,
            subject_line=row.subject_line,
            recipients=tuple(row.recipients),
            message_id=row.message_id,
            created_at=row.created_at,
            requires_ack=row.requires_ack,
            root_id=root_id if root_id is not None else (row.parent_pk or row.id),
            context=payload.get("context", {}),
            attachments=tuple(payload.get("attachments", ())),
            references=tuple(payload.get("references", ())),
        )


def part_for(kind: str) -> str:
    """The body partial of a kind; reminders and escalations embed their original's."""
    return "ae" if kind in AE_KINDS else kind


def _when(value: str | datetime | None) -> str:
    if value in (None, ""):
        return "unknown"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@jinja2.pass_context
def _due_in(context: Any, value: str | datetime) -> str:
    """Relative to the send time, which the renderer puts in the context as ``now``."""
    now: datetime = context["now"]
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    hours = (moment - now).total_seconds() / 3600
    span = abs(hours)
    amount = (f"{span / 24:.0f} days" if span >= 48 else f"{span:.0f} hours" if span >= 1
              else f"{span * 60:.0f} minutes")
    return f"in {amount}" if hours >= 0 else f"overdue by {amount}"


def _number(value: Any) -> str:
    """260.0 → "260", 6.5 → "6.5"; empty for a missing value."""
    if value is None or value == "":
        return ""
    return f"{value:g}" if isinstance(value, int | float) else str(value)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("aewatch.templates", "alerts"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = _when
    env.filters["due_in"] = _due_in
    env.filters["num"] = _number
    env.globals["part_for"] = part_for
    return env


def _render(name: str, variables: Mapping[str, Any], now: datetime) -> str:
    return environment().get_template(name).render(**variables, now=now)


def render_subject(kind: str, context: Mapping[str, Any]) -> str:
    """The subject line, stored at enqueue so `aewatch alerts list` shows what is sent."""
    env = environment()
    text = env.get_template(f"{kind}.subject.txt").render(**context)
    return one_line(text, 300)


def template_variables(alert: OutgoingAlert) -> dict[str, Any]:
    """The payload's context plus the alert's own facts, as every template sees them."""
    meta = {
        "id": alert.id,
        "trial_id": alert.trial_id,
        "kind": alert.kind,
        "dedup_key": alert.dedup_key,
        "priority": alert.priority,
        "subject_line": alert.subject_line,
        "requires_ack": alert.requires_ack,
        "ack_requested": alert.requires_ack
        or bool(alert.context.get("original", {}).get("requires_ack")),
        "root_id": alert.root_id or alert.id,
        "created_at": alert.created_at,
    }
    return {**alert.context, "alert": meta}


def recipient_message_id(message_id: str, recipient: str) -> str:
    """A recipient's own copy has different content (their links), so it gets its own
    Message-ID, stable per alert and recipient: a resend still threads as one message."""
    local, _, domain = message_id.strip("<>").partition("@")
    tag = sha256(recipient.strip().lower().encode()).hexdigest()[:12]
    return f"<{local}.{tag}@{domain}>"


def render_message(
    alert: OutgoingAlert,
    *,
    from_address: str,
    now: datetime,
    recipient: str | None = None,
    links: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The complete email: text and HTML parts, stable Message-ID, attachments.

    With ``recipient`` the message is that person's own copy (To, Message-ID) and
    ``links`` are their signed acknowledgement and safety-board links."""
    variables = {**template_variables(alert), "links": links}
    text = _render(f"{alert.kind}.txt", variables, now)
    html = _render(f"{alert.kind}.html", variables, now)
    message = EmailMessage()
    message["Subject"] = one_line(alert.subject_line)
    message["From"] = from_address
    message["To"] = recipient or ", ".join(alert.recipients)
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = (recipient_message_id(alert.message_id, recipient) if recipient
                             else alert.message_id)
    if alert.references:  # RFC 5322 §3.6.4: one conversation per patient's event
        # A recipient's own copy replies to their own copies of the earlier alerts.
        references = [recipient_message_id(r, recipient) if recipient else r
                      for r in alert.references]
        message["In-Reply-To"] = references[-1]
        message["References"] = " ".join(references)
    message["X-Aewatch-Alert"] = alert.dedup_key
    message["Auto-Submitted"] = "auto-generated"
    if alert.priority <= 1:
        message["X-Priority"] = "1 (Highest)"
        message["Importance"] = "high"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    _attach(message, alert.attachments)
    return message


def _attach(message: EmailMessage, paths: Sequence[str]) -> None:
    for path in map(Path, paths):
        ctype, _ = mimetypes.guess_type(path.name)
        maintype, subtype = (ctype or "application/octet-stream").split("/", 1)
        message.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
