"""Helpers for the tests of `aewatch serve`: a real server in a thread, alert emails
rendered by the real sender, and what a person (or a scanner) does with their links."""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from aewatch.alerts.requests import AeFacts
from aewatch.config import Settings
from support import wait_for

SECRET = "test-secret-" + "w" * 40
OFFICER = "safety.officer@example.org"
DEPUTY = "deputy.officer@example.org"


@dataclass
class RunningServer:
    url: str
    server: Any
    thread: threading.Thread

    def client(self) -> httpx.Client:
        """A browser-like client: keeps the cookies the server sets."""
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)

    def scanner_get(self, url: str) -> httpx.Response:
        """A mail scanner: a plain GET, no cookies kept, no JavaScript."""
        return httpx.get(url, follow_redirects=True, timeout=30)


def start_server(
    settings: Settings, engine: Any, sessions: Any, clock: Any, port: int
) -> RunningServer:
    from aewatch.runtime import Runtime
    from aewatch.web.server import make_server

    runtime = Runtime(settings=settings, engine=engine, sessions=sessions, clock=clock)
    server = make_server(runtime, SECRET, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, name="aewatch-serve", daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, 30), "uvicorn did not start"
    return RunningServer(f"http://127.0.0.1:{port}", server, thread)


def sae_facts(**overrides: Any) -> AeFacts:
    values: dict[str, Any] = {
        "trial_id": "NCT06261047",
        "site": "012",
        "subject_id": "012-003",
        "ae_key": "AE-7",
        "version": 1,
        "ctcae_term": "Hepatic failure",
        "ctcae_soc": "Hepatobiliary disorders",
        "grade": 4,
        "serious": True,
        "death": False,
        "life_threatening": False,
        "hospitalisation": True,
        "disability": False,
        "congenital_anomaly": False,
        "medically_important": False,
        "rt_relation": "probable",
        "systemic_relation": "unlikely",
        "outcome": "NOT RECOVERED/NOT RESOLVED",
        "onset_study_day": 43,
        "aware_at": datetime(2026, 3, 1, 6, 0, tzinfo=UTC),
        "origin": "site",
    }
    values.update(overrides)
    return AeFacts(**values)


@dataclass
class Recorder:
    """A transport that keeps what it is given (the SMTP path has its own tests)."""

    sent: list[Any] = field(default_factory=list)

    async def send(self, message: Any, recipients: Any) -> dict[str, str]:
        self.sent.append(message)
        return {}


@dataclass
class SentAlert:
    alert_id: int
    links: dict[str, dict[str, str]]  # recipient → {"ack": url, "board": url}


def links_of(message: Any) -> dict[str, str]:
    """The links in an email's HTML part, as a person would click them."""
    body = message.get_body(("html",)).get_content()
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', body)]
    return {
        "ack": next((h for h in hrefs if "/ack?t=" in h), ""),
        "board": next(h for h in hrefs if "/board/enter?t=" in h),
    }


def send_sae(
    sessions: Any, settings: Settings, clock: Any, trial_pk: int, **facts: Any
) -> SentAlert:
    """Queue an SAE alert and send it through the real sender; its recipients' links."""
    from sqlalchemy import select

    from aewatch.alerts.outbox import enqueue
    from aewatch.alerts.rules import ae_alerts
    from aewatch.alerts.sender import drain
    from aewatch.models import Alert

    with sessions() as session, session.begin():
        enqueue(
            session,
            trial_pk,
            ae_alerts(None, sae_facts(**facts), settings, clock.now()),
            clock.now(),
        )
        alert_id = max(session.scalars(select(Alert.id)).all())
    recorder = Recorder()
    drain(sessions, settings, clock, worker_id="w1", transport=recorder)
    return SentAlert(alert_id, {str(m["To"]): links_of(m) for m in recorder.sent})


def form_fields(page: str) -> dict[str, str]:
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    }


@dataclass
class MailInbox:
    """A real SMTP server (aiosmtpd on 127.0.0.1) that keeps every message it accepts."""

    port: int
    messages: list[Any] = field(default_factory=list)
    controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def start(self) -> MailInbox:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def to(self, recipient: str, subject_contains: str) -> list[Any]:
        return [
            m
            for m in self.messages
            if m["To"] == recipient and subject_contains in str(m["Subject"])
        ]
