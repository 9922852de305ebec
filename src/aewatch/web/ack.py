"""Acknowledging from an email link: check the link against the alert, then acknowledge
through ``alerts.ack.acknowledge`` — the code `aewatch alerts ack` runs — in one
transaction with its audit row.

Only a POST from the page acknowledges; reading a link (what mail scanners do) calls
``check_link`` alone, which writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aewatch.alerts.ack import acknowledge
from aewatch.alerts.links import ACK, LinkError, LinkGrant, verify
from aewatch.alerts.privacy import one_line
from aewatch.alerts.render import OutgoingAlert, template_variables
from aewatch.models import Alert, Trial

NOTE_CHARS = 500
CHANNEL = "email link"


class LinkRefused(Exception):
    """A link that acknowledges nothing, with the page that says why."""

    def __init__(self, status: int, reason: str, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.title = title
        self.message = message


@dataclass(frozen=True)
class CheckedLink:
    grant: LinkGrant
    alert_id: int
    root: Alert
    trial_id: str


def refusal(error: LinkError) -> LinkRefused:
    if error.reason == "expired":
        return LinkRefused(
            410,
            "expired",
            "This link has expired",
            f"{str(error)[:1].upper()}{str(error)[1:]}. Nothing was changed. Use the link in the "
            "most recent "
            "reminder for this alert, or acknowledge on the server with “aewatch alerts ack”.",
        )
    return LinkRefused(
        400,
        error.reason,
        "This link is not valid",
        "The link is incomplete or has been altered (some mail programs break long links). "
        "Nothing was changed. Open it again from the email, or acknowledge on the server "
        "with “aewatch alerts ack”.",
    )


def check_link(
    session: Session, secret: str, token: str, alert_id: int, now: datetime
) -> CheckedLink:
    """The link's grant and the alert it acknowledges (the original of a reminder or
    escalation), or ``LinkRefused``. Reads only."""
    try:
        grant = verify(secret, token, ACK, now)
    except LinkError as exc:
        raise refusal(exc) from exc
    if grant.alert_id != alert_id:
        raise LinkRefused(
            400,
            "wrong-alert",
            "This link belongs to another alert",
            "The link was issued for a different alert than the page it opened. Nothing was "
            "changed. Open the link from the email about the alert you mean to acknowledge.",
        )
    row = session.get(Alert, alert_id)
    if row is None:
        raise LinkRefused(
            404,
            "unknown-alert",
            "No such alert",
            f"There is no alert {alert_id} in this database. Nothing was changed.",
        )
    if grant.recipient not in row.recipients:
        raise LinkRefused(
            403,
            "wrong-recipient",
            "This link was not issued to a recipient of this alert",
            "Only the people an alert was sent to can acknowledge it from their email. "
            "Nothing was changed.",
        )
    root = row if row.parent_pk is None else session.get_one(Alert, row.parent_pk)
    trial_id = session.scalars(select(Trial.trial_id).where(Trial.id == root.trial_pk)).one()
    return CheckedLink(grant, alert_id, root, trial_id)


def acknowledge_from_link(
    session: Session, link: CheckedLink, note: str | None, now: datetime
) -> tuple[Alert, bool]:
    """Acknowledge as the link's recipient; (the original alert, whether this did it).

    The original is locked and read again (PostgreSQL; SQLite's writers queue anyway), so
    of two clicks at once exactly one acknowledges and the other reads "already
    acknowledged". ``populate_existing``: the link check loaded the row before the lock."""
    root = session.scalars(
        select(Alert)
        .where(Alert.id == link.root.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if root.acknowledged_at is not None:
        return root, False
    text = one_line(note or "", NOTE_CHARS) or None
    root = acknowledge(session, link.alert_id, link.grant.recipient, text, now, channel=CHANNEL)
    return root, True


def summary_variables(link: CheckedLink) -> dict[str, Any]:
    """What the alert's email body partial needs, from the original's stored payload."""
    return template_variables(OutgoingAlert.from_row(link.root, link.trial_id))
