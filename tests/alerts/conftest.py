"""Fixtures for the alert tests: a real SMTP server (aiosmtpd) that can misbehave on
request, a trial row, AE facts and a recording transport for the unit-level tests."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from aewatch.alerts.requests import AeFacts
from aewatch.config import Settings, SmtpSettings
from support import free_port

AWARE = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


# -- a real SMTP server ----------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class MisbehavingHandler:
    """Records envelopes; can refuse a recipient, say 4xx for a while, or stall."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    temporary_failures: int = 0
    permanent_failure: bool = False
    stall_seconds: float = 0.0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stall_seconds:
            await asyncio.sleep(self.stall_seconds)  # the server is slow, not the code
        if self.temporary_failures > 0:
            self.temporary_failures -= 1
            return "451 4.3.0 try again later"
        if self.permanent_failure:
            return "554 5.6.0 message refused"
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    handler: MisbehavingHandler
    port: int
    kwargs: dict[str, Any]
    controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     **self.kwargs)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def settings(self, **overrides: Any) -> SmtpSettings:
        values = {"host": "127.0.0.1", "port": self.port, "starttls": False,
                  "timeout_seconds": 5.0, **overrides}
        return SmtpSettings(**values)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(MisbehavingHandler(), free_port(), {})
    server.start()
    yield server
    server.stop()


def _test_ca(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A throwaway CA (trustme) and a server certificate for 127.0.0.1."""
    import trustme

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server_context, ca_file


@pytest.fixture
def implicit_tls_smtp_server(tmp_path: Path) -> Iterator[tuple[SmtpServer, Path]]:
    """TLS from the first byte (port 465 style)."""
    server_context, ca_file = _test_ca(tmp_path)
    server = SmtpServer(MisbehavingHandler(), free_port(), {"ssl_context": server_context})
    server.start()
    yield server, ca_file
    server.stop()


@pytest.fixture
def tls_smtp_server(tmp_path: Path) -> Iterator[tuple[SmtpServer, Path]]:
    """STARTTLS with a trustme certificate for 127.0.0.1; AUTH only after TLS."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    server_context, ca_file = _test_ca(tmp_path)

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"aewatch"
              and auth_data.password == b"s3cret")
        return AuthResult(success=ok, handled=False)

    server = SmtpServer(
        MisbehavingHandler(),
        free_port(),
        {"tls_context": server_context, "require_starttls": True,
         "authenticator": authenticator, "auth_require_tls": True, "auth_required": True},
    )
    server.start()
    yield server, ca_file
    server.stop()


# -- database and settings --------------------------------------------------------------------


@pytest.fixture
def trial_pk(sessions: Any, settings: Settings, clock: Any) -> int:
    from aewatch.trials import ensure_trial

    with sessions() as session, session.begin():
        return ensure_trial(session, settings, clock.now()).id


@pytest.fixture
def no_jitter() -> Callable[[], float]:
    return lambda: 1.0  # the full exponential step, so delays are exact


# -- AE facts ---------------------------------------------------------------------------------


@pytest.fixture
def make_facts() -> Callable[..., AeFacts]:
    def build(**overrides: Any) -> AeFacts:
        values: dict[str, Any] = {
            "trial_id": "NCT06261047", "site": "012", "subject_id": "012-003",
            "ae_key": "AE-7", "version": 1, "ctcae_term": "Hepatic failure",
            "ctcae_soc": "Hepatobiliary disorders", "grade": 4, "serious": True,
            "death": False, "life_threatening": False, "hospitalisation": True,
            "disability": False, "congenital_anomaly": False, "medically_important": False,
            "rt_relation": "probable", "systemic_relation": "unlikely",
            "outcome": "NOT RECOVERED/NOT RESOLVED", "onset_study_day": 43,
            "aware_at": AWARE, "origin": "site",
        }
        values.update(overrides)
        return AeFacts(**values)

    return build


# -- a transport that records, for tests that are not about SMTP -------------------------------


@dataclass
class RecordingTransport:
    """Delivers into a list; can be scripted to fail the next sends."""

    sent: list[EmailMessage] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    pause: float = 0.0

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, str]:
        if self.pause:
            await asyncio.sleep(self.pause)  # lets two drainers interleave
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return {}

    @property
    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.sent]


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()
