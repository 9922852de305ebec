"""Signed links in alert emails: acknowledge as one recipient, or open the safety board.

A link carries what it grants (its purpose, the alert for an acknowledgement, the
recipient, an expiry time) and an HMAC-SHA256 over exactly those bytes, keyed from
``AEWATCH_WEB_SECRET``. Nothing is stored to check one, and altering any part of it
breaks the signature. A link only *identifies*: corporate mail scanners and link
previews open (GET) every link in a message, so opening one changes nothing; the page it
leads to asks the person to confirm with a button (a POST). Changing the secret revokes
every link at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SECRET_VARIABLE = "AEWATCH_WEB_SECRET"
MIN_SECRET_CHARS = 32
MAX_TOKEN_CHARS = 1024
ACK = "ack"
BOARD = "board"
VERSION = "v1"


@dataclass(frozen=True)
class LinkGrant:
    """What a valid link (or a session cookie, or a form token) vouches for."""

    purpose: str
    recipient: str
    expires_at: datetime
    alert_id: int | None = None
    extra: str = ""


class LinkError(ValueError):
    """A token that grants nothing. ``reason`` is one of ``malformed``, ``tampered`` and
    ``expired``; the page shown for it says what the person can do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def derive_key(secret: str, purpose: str) -> bytes:
    """One key per purpose, so a board link can never pass as an acknowledgement link
    or a session cookie, whatever its payload says."""
    return hmac.new(
        secret.encode(), f"aewatch/{purpose}/{VERSION}".encode(), hashlib.sha256
    ).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, grant: LinkGrant) -> str:
    """``v1.<payload>.<mac>``, URL-safe, about 150 characters."""
    payload: dict[str, Any] = {
        "p": grant.purpose,
        "r": grant.recipient,
        "e": int(grant.expires_at.timestamp()),
    }
    if grant.alert_id is not None:
        payload["a"] = grant.alert_id
    if grant.extra:
        payload["x"] = grant.extra
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(derive_key(secret, grant.purpose), body.encode(), hashlib.sha256).digest()
    return f"{VERSION}.{body}.{_b64(mac)}"


def verify(secret: str, token: str, purpose: str, now: datetime) -> LinkGrant:
    """The grant of a genuine, unexpired token for ``purpose``; else ``LinkError``.

    The signature is checked (in constant time) before the payload is even parsed."""
    parts = token.split(".") if token and len(token) <= MAX_TOKEN_CHARS else []
    if len(parts) != 3 or parts[0] != VERSION:
        raise LinkError("malformed", "this is not a complete aewatch link")
    _, body, mac = parts
    expected = hmac.new(derive_key(secret, purpose), body.encode(), hashlib.sha256).digest()
    try:
        given = _unb64(mac)
        payload = json.loads(_unb64(body)) if hmac.compare_digest(given, expected) else None
    except (binascii.Error, ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict) or payload.get("p") != purpose:
        raise LinkError("tampered", "this link has been altered or was not issued by aewatch")
    try:
        grant = LinkGrant(
            purpose=purpose,
            recipient=str(payload["r"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), UTC),
            alert_id=int(payload["a"]) if "a" in payload else None,
            extra=str(payload.get("x", "")),
        )
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise LinkError("malformed", "this is not a complete aewatch link") from exc
    if now >= grant.expires_at:
        raise LinkError("expired", f"this link expired on {grant.expires_at:%Y-%m-%d %H:%M} UTC")
    return grant


def secret_problem(settings: Any, *, required: bool = False) -> str | None:
    """Why links cannot be signed with this configuration, or None. The secret is needed
    when ``[web].base_url`` turns links on (the sender) or always (the server)."""
    if not (required or settings.web.base_url):
        return None
    secret = settings.web_secret
    if len(secret) < MIN_SECRET_CHARS:
        state = "is not set" if not secret else f"has only {len(secret)} characters"
        return (
            f"{SECRET_VARIABLE} {state}; it must hold at least {MIN_SECRET_CHARS} random "
            "characters (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return None


def links_on(settings: Any) -> bool:
    """Emails carry personal links when a base URL is configured and a secret is set."""
    return bool(settings.web.base_url) and secret_problem(settings) is None


def email_links(settings: Any, *, alert_id: int, recipient: str, now: datetime) -> dict[str, str]:
    """One recipient's links for one alert email: acknowledge it, open the board."""
    secret = settings.web_secret
    base = settings.web.base_url
    expires = now + timedelta(days=settings.web.link_days)
    ack = sign(secret, LinkGrant(ACK, recipient, expires, alert_id=alert_id))
    board = sign(secret, LinkGrant(BOARD, recipient, expires))
    return {
        "recipient": recipient,
        "ack": f"{base}/alerts/{alert_id}/ack?t={ack}",
        "board": f"{base}/board/enter?t={board}",
        "expires_at": expires.isoformat(),
    }
