"""What every response of `aewatch serve` carries, and the checks in front of its pages.

* Headers: a Content-Security-Policy that allows no script at all (inline or not),
  ``Referrer-Policy: no-referrer`` (a token in the address bar never travels on in a
  Referer header), no framing, no caching (a proxy must not keep a page a token opened),
  no indexing.
* An access log that names the path only: tokens travel in the query string and in
  form bodies, and neither is ever logged.
* A rate limit on token checks per client address, so a token cannot be guessed by
  trying (an HMAC-SHA256 cannot be anyway; the limit keeps the log and the database
  quiet under a scan).
* Form tokens (CSRF) and board sessions, both signed with keys of their own.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from threading import Lock
from typing import Any

from aewatch.alerts.links import LinkGrant, derive_key, sign, verify

log = logging.getLogger("aewatch.web")

PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# A stored DSMB report is one self-contained file with inline CSS and data: images; it
# is shown sandboxed (no script, an origin of its own).
REPORT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'; sandbox"
)
HEADERS = {
    "content-security-policy": PAGE_POLICY,
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "x-robots-tag": "noindex, nofollow",
}
SESSION = "session"
FORM = "form"


class SecurityHeaders:
    """ASGI middleware: the headers above on every response (a route may set its own
    Content-Security-Policy), and one access-log line without the query string."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("-", 0))[0]
        answered = False

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (k.encode(), v.encode())
                    for k, v in HEADERS.items()
                    if k.encode() not in present
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
                # Logged as the answer starts, so the line is written before the client
                # has the page (the path only: the query string is never logged).
                log.info("%s %s %s %s", client, scope["method"], scope["path"], message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if not answered:
                log.info("%s %s %s -", client, scope["method"], scope["path"])


class RateLimiter:
    """At most ``limit`` token checks per client address in any ``window``; the clock is
    injected, so tests move time instead of waiting."""

    def __init__(
        self,
        limit: int,
        now: Callable[[], datetime],
        window: timedelta = timedelta(minutes=1),
        max_clients: int = 10_000,
    ) -> None:
        self.limit = limit
        self.now = now
        self.window = window
        self.max_clients = max_clients
        self.checks: dict[str, deque[datetime]] = {}
        self.lock = Lock()

    def allow(self, client: str) -> bool:
        now = self.now()
        with self.lock:
            if len(self.checks) > self.max_clients:  # a scan from many addresses
                self._forget_idle(now)
            recent = self.checks.setdefault(client, deque())
            while recent and recent[0] <= now - self.window:
                recent.popleft()
            if len(recent) >= self.limit:
                return False
            recent.append(now)
            return True

    def _forget_idle(self, now: datetime) -> None:
        for client in [c for c, q in self.checks.items() if not q or q[-1] <= now - self.window]:
            del self.checks[client]


def new_form_nonce() -> str:
    return secrets.token_urlsafe(18)


def form_token(secret: str, nonce: str, link_token: str) -> str:
    """The confirmation form's CSRF token: bound to this browser's form cookie and to the
    link the page was opened with, so it cannot be replayed from elsewhere."""
    message = f"{nonce}|{link_token}".encode()
    return hmac.new(derive_key(secret, FORM), message, hashlib.sha256).hexdigest()


def form_token_ok(secret: str, nonce: str | None, link_token: str, given: str | None) -> bool:
    if not nonce or not given:
        return False
    return hmac.compare_digest(form_token(secret, nonce, link_token), given)


def session_value(secret: str, recipient: str, expires_at: datetime) -> str:
    return sign(secret, LinkGrant(SESSION, recipient, expires_at))


def session_recipient(secret: str, value: str | None, now: datetime) -> LinkGrant | None:
    """The board session's grant, or None when missing, altered or over."""
    if not value:
        return None
    try:
        return verify(secret, value, SESSION, now)
    except ValueError:
        return None
