"""How a rendered email leaves the machine: SMTP (aiosmtplib) or one .eml file each.

Errors are sorted into two kinds the sender acts on: transient (try again later with
backoff: connection refused, timeout, 4xx) and permanent (5xx: fail now and escalate).
A recipient refused alone is not an error: the others still get the message, and the
refusal is returned so the sender can record it.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from aewatch.config import Settings, SmtpSettings


class DeliveryError(Exception):
    transient: bool = True


class TransientDeliveryError(DeliveryError):
    """Try again later: the server is down, slow, or said 4xx."""

    transient = True


class PermanentDeliveryError(DeliveryError):
    """The server said 5xx to the message itself: retrying would not help."""

    transient = False


class Transport(Protocol):
    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, str]:
        """Deliver; return the recipients refused (address → server reply)."""
        ...


class FileTransport:
    """The embedded default: one ``.eml`` per message, named by its Message-ID, so a
    resend after a crash overwrites the file instead of adding a second one."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def path_for(self, message_id: str) -> Path:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", message_id.strip("<>"))
        return self.folder / f"{stem}.eml"

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, str]:
        target = self.path_for(str(message["Message-ID"]))
        partial = target.with_suffix(".eml.partial")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(bytes(message))
            os.replace(partial, target)  # atomic: a reader never sees half a message
        except OSError as exc:  # disk full, permissions: fixable, so retry
            raise TransientDeliveryError(f"cannot write {target}: {exc}") from exc
        return {}


class SmtpTransport:
    """SMTP with STARTTLS (587) or implicit TLS (465); certificates verified by default."""

    def __init__(self, smtp: SmtpSettings, password: str = "") -> None:
        self.smtp = smtp
        self.password = password

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.smtp.ca_file or None)
        if not self.smtp.verify_certificates:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, str]:
        import aiosmtplib

        smtp = self.smtp
        tls = smtp.implicit_tls or smtp.starttls
        try:
            errors, _reply = await aiosmtplib.send(
                message,
                recipients=list(recipients),
                hostname=smtp.host,
                port=smtp.port,
                use_tls=smtp.implicit_tls,
                start_tls=smtp.starttls and not smtp.implicit_tls,
                tls_context=self.tls_context() if tls else None,
                validate_certs=smtp.verify_certificates,
                username=smtp.username or None,
                password=(self.password or None) if smtp.username else None,
                timeout=smtp.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise classify_refusals(
                {r.recipient: f"{r.code} {r.message}" for r in exc.recipients}
            ) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            # A wrong password fails every message alike; failing each alert for good would
            # also fail its fallback escalation, so keep retrying until it is fixed.
            raise TransientDeliveryError(f"SMTP authentication failed: {exc.code} "
                                         f"{exc.message}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.code} {exc.message}"
            if 400 <= exc.code < 500:
                raise TransientDeliveryError(text) from exc
            raise PermanentDeliveryError(text) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        return {address: f"{code} {text}" for address, (code, text) in errors.items()}


def classify_refusals(refused: dict[str, str]) -> DeliveryError:
    """Every recipient refused: permanent only if every refusal was 5xx."""
    text = "all recipients refused: " + "; ".join(f"{a}: {r}" for a, r in refused.items())
    if all(reply.startswith("5") for reply in refused.values()):
        return PermanentDeliveryError(text)
    return TransientDeliveryError(text)


def transport_for(settings: Settings) -> Transport:
    """SMTP when a host is configured, else the file outbox (the embedded default)."""
    if settings.smtp.host:
        return SmtpTransport(settings.smtp, settings.smtp_password)
    return FileTransport(settings.alerts.outbox_dir)
