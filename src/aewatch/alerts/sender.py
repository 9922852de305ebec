"""Drain the outbox: claim one row, render, send, record — until nothing is due.

Thin on purpose (healthchecks' sendalerts): each step claims one row under a lease and
acts on it, so a crash costs at most one resend with the same Message-ID. The outcome
is written only by the lease holder (``still_mine``), and always with an audit row.

When ``[web].base_url`` puts personal links in emails, each recipient gets a message of
their own (their links, their own stable Message-ID), and each delivery is recorded
as it happens, so a retry or a re-claimed lease sends only to those not yet served.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from aewatch import audit
from aewatch.alerts.backoff import Jitter, backoff_delay
from aewatch.alerts.claim import claim_next, still_mine
from aewatch.alerts.escalation import check_acknowledgements
from aewatch.alerts.followups import delivery_failure_request
from aewatch.alerts.links import email_links, links_on, secret_problem
from aewatch.alerts.outbox import enqueue
from aewatch.alerts.render import OutgoingAlert, render_message
from aewatch.alerts.transports import DeliveryError, Transport, transport_for
from aewatch.clock import Clock
from aewatch.config import Settings
from aewatch.models import Alert, AlertDelivery, Trial

__all__ = ["DrainResult", "check_acknowledgements", "drain"]

log = logging.getLogger("aewatch.alerts")


@dataclass(frozen=True)
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    refused_recipients: int = 0

    def __add__(self, other: DrainResult) -> DrainResult:
        return DrainResult(
            self.sent + other.sent,
            self.retried + other.retried,
            self.failed + other.failed,
            self.refused_recipients + other.refused_recipients,
        )


def drain(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    *,
    worker_id: str,
    transport: Transport | None = None,
    max_batch: int = 100,
    jitter: Jitter = random.random,
) -> DrainResult:
    """Send every claimable alert (up to ``max_batch``), most urgent first."""
    sender = _Sender(sessions, settings, clock, worker_id, transport or transport_for(settings),
                     jitter)
    return asyncio.run(sender.drain(max_batch))


class _Sender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        clock: Clock,
        worker_id: str,
        transport: Transport,
        jitter: Jitter,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.worker_id = worker_id
        self.transport = transport
        self.jitter = jitter

    async def drain(self, max_batch: int) -> DrainResult:
        total = DrainResult()
        for _ in range(max_batch):
            alert_id = claim_next(self.sessions, self.worker_id, self.clock.now(),
                                  self.settings.worker.lease_seconds)
            if alert_id is None:
                break
            result = await self.deliver(alert_id)
            total += result
            if result.retried:
                # The relay is down or pushing back: leave the rest for their next turn
                # instead of holding leases through one timeout after another.
                break
        return total

    async def deliver(self, alert_id: int) -> DrainResult:
        outgoing, attempts = self._load(alert_id)
        if attempts > self.settings.alerts.max_attempts:
            # Claimed more often than allowed: a worker died on it each time (poison row).
            return self._fail(alert_id, "claimed past max_attempts without a recorded outcome")
        if self.settings.web.base_url:
            if links_on(self.settings):
                return await self.deliver_each(alert_id, outgoing, attempts)
            # `aewatch run` refuses to start like this; never hold an alert back for a link.
            log.error("alert=%s sent without links: %s", alert_id,
                      secret_problem(self.settings))
        try:
            message = render_message(outgoing, from_address=self.settings.alerts.from_address,
                                     now=self.clock.now())
        except Exception as exc:  # a template bug must fail loudly, then escalate
            log.exception("alert=%s render failed", alert_id)
            return self._fail(alert_id, f"render failed: {type(exc).__name__}: {exc}")
        try:
            refused = await self.transport.send(message, list(outgoing.recipients))
        except DeliveryError as exc:
            if exc.transient and attempts < self.settings.alerts.max_attempts:
                return self._retry(alert_id, attempts, str(exc))
            return self._fail(alert_id, str(exc))
        except Exception as exc:  # an unforeseen transport error: retry, never drop it
            log.exception("alert=%s unexpected transport error", alert_id)
            error = f"{type(exc).__name__}: {exc}"
            if attempts < self.settings.alerts.max_attempts:
                return self._retry(alert_id, attempts, error)
            return self._fail(alert_id, error)
        return self._sent(alert_id, outgoing, refused)

    async def deliver_each(self, alert_id: int, outgoing: OutgoingAlert,
                           attempts: int) -> DrainResult:
        """One message per recipient, with their own links; a refusal (5xx) is that
        recipient's alone, a transient failure leaves the rest for the retry."""
        served = self._served(alert_id, fresh=attempts == 1)
        if served is None:
            return DrainResult()  # the lease was lost: the new holder sends
        for recipient in outgoing.recipients:
            if recipient in served:
                continue
            now = self.clock.now()
            try:
                links = email_links(self.settings, alert_id=outgoing.id, recipient=recipient,
                                    now=now)
                message = render_message(outgoing, from_address=self.settings.alerts.from_address,
                                         now=now, recipient=recipient, links=links)
            except Exception as exc:  # a template bug must fail loudly, then escalate
                log.exception("alert=%s render failed", alert_id)
                return self._fail(alert_id, f"render failed: {type(exc).__name__}: {exc}",
                                  _unserved(outgoing, served))
            try:
                refused = await self.transport.send(message, [recipient])
            except DeliveryError as exc:
                if exc.transient:
                    return self._retry_or_fail(alert_id, attempts, str(exc),
                                               _unserved(outgoing, served))
                refused = {recipient: str(exc)}
            except Exception as exc:  # an unforeseen transport error: retry, never drop it
                log.exception("alert=%s unexpected transport error", alert_id)
                return self._retry_or_fail(alert_id, attempts, f"{type(exc).__name__}: {exc}",
                                           _unserved(outgoing, served))
            message_id = str(message["Message-ID"])
            status = "refused" if refused else "delivered"
            if not self._record_delivery(alert_id, recipient, message_id, status,
                                         refused.get(recipient)):
                return DrainResult()
            served[recipient] = (status, refused.get(recipient), message_id)
        refused_all = {r: detail or "" for r, (status, detail, _) in served.items()
                       if status == "refused"}
        message_ids = {r: mid for r, (status, _, mid) in served.items() if status == "delivered"}
        if len(refused_all) == len(set(outgoing.recipients)):
            error = "all recipients refused: " + "; ".join(
                f"{a}: {r}" for a, r in refused_all.items())
            return self._fail(alert_id, error, sorted(refused_all))
        return self._sent(alert_id, outgoing, refused_all, message_ids)

    def _retry_or_fail(self, alert_id: int, attempts: int, error: str,
                       unserved: list[str]) -> DrainResult:
        if attempts < self.settings.alerts.max_attempts:
            return self._retry(alert_id, attempts, error)
        return self._fail(alert_id, error, unserved)

    def _served(self, alert_id: int, *, fresh: bool
                ) -> dict[str, tuple[str, str | None, str]] | None:
        """Recipients already delivered to or refused for good in this round of sending.
        The first attempt starts a new round (a first send, or `aewatch alerts resend`)."""
        with self.sessions() as session, session.begin():
            if session.scalar(select(Alert.id).where(still_mine(self.worker_id, alert_id))) \
                    is None:
                return None
            if fresh:
                session.execute(delete(AlertDelivery).where(AlertDelivery.alert_pk == alert_id))
                return {}
            rows = session.execute(
                select(AlertDelivery.recipient, AlertDelivery.status, AlertDelivery.detail,
                       AlertDelivery.message_id)
                .where(AlertDelivery.alert_pk == alert_id)
            ).all()
            return {r.recipient: (r.status, r.detail, r.message_id) for r in rows}

    def _record_delivery(self, alert_id: int, recipient: str, message_id: str, status: str,
                         detail: str | None) -> bool:
        """Written at once, so a crash before the alert is marked sent does not send this
        recipient's copy again; the lease is renewed, so a live sender with many recipients
        keeps its claim. False if another worker has taken the alert over."""
        now = self.clock.now()
        with self.sessions() as session, session.begin():
            renewed = session.execute(
                update(Alert)
                .where(still_mine(self.worker_id, alert_id))
                .values(lease_until=now + timedelta(seconds=self.settings.worker.lease_seconds))
                .returning(Alert.id)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if renewed is None:
                return False
            session.add(AlertDelivery(alert_pk=alert_id, recipient=recipient,
                                      message_id=message_id, status=status,
                                      at=now, detail=detail))
        return True

    # -- reading and recording ------------------------------------------------------------

    def _load(self, alert_id: int) -> tuple[OutgoingAlert, int]:
        with self.sessions() as session:
            row = session.get_one(Alert, alert_id)
            trial_id = session.scalars(select(Trial.trial_id).where(Trial.id == row.trial_pk)).one()
            return OutgoingAlert.from_row(row, trial_id), row.attempts

    def _record(self, session: Session, action: str, alert_id: int, detail: dict[str, Any],
                now: datetime) -> None:
        audit.record(session, at=now, actor=self.worker_id, action=action, entity="alert",
                     entity_id=alert_id, detail=detail, config_hash=self.settings.config_hash)

    def _sent(self, alert_id: int, outgoing: OutgoingAlert, refused: dict[str, str],
              message_ids: dict[str, str] | None = None) -> DrainResult:
        now = self.clock.now()
        error = "; ".join(f"{a} refused: {r}" for a, r in refused.items()) or None
        with self.sessions() as session, session.begin():
            hit = session.execute(
                update(Alert)
                .where(still_mine(self.worker_id, alert_id))
                .values(status="sent", sent_at=now, lease_until=None, last_error=error)
                .returning(Alert.id)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            delivered = [r for r in outgoing.recipients if r not in refused]
            detail = {"message_id": outgoing.message_id, "recipients": delivered,
                      "lease_lost": hit is None}
            if message_ids:
                detail["message_ids"] = message_ids  # each recipient's own copy
            self._record(session, "alert sent", alert_id, detail, now)
            if refused:
                self._record(session, "recipient refused", alert_id, {"refused": refused}, now)
                row = session.get_one(Alert, alert_id)
                self._escalate(session, row, error or "", sorted(refused), "refused", now)
        log.info("alert=%s sent message_id=%s refused=%d", alert_id, outgoing.message_id,
                 len(refused))
        return DrainResult(sent=1, refused_recipients=len(refused))

    def _retry(self, alert_id: int, attempts: int, error: str) -> DrainResult:
        now = self.clock.now()
        alerts = self.settings.alerts
        delay = backoff_delay(attempts, alerts.backoff_base_seconds, alerts.backoff_max_seconds,
                              self.jitter)
        with self.sessions() as session, session.begin():
            session.execute(
                update(Alert)
                .where(still_mine(self.worker_id, alert_id))
                .values(status="due", next_attempt_at=now + delay, claimed_by=None,
                        lease_until=None, last_error=error)
                .execution_options(synchronize_session=False)
            )
            self._record(session, "alert retry", alert_id,
                         {"attempts": attempts, "error": error,
                          "next_attempt_at": (now + delay).isoformat()}, now)
        log.warning("alert=%s transient failure attempt=%d retry_in=%ss: %s", alert_id,
                    attempts, int(delay.total_seconds()), error)
        return DrainResult(retried=1)

    def _fail(self, alert_id: int, error: str, unserved: list[str] | None = None) -> DrainResult:
        """``unserved``: the recipients who did not get their own copy (default: all)."""
        now = self.clock.now()
        with self.sessions() as session, session.begin():
            hit = session.execute(
                update(Alert)
                .where(still_mine(self.worker_id, alert_id))
                .values(status="failed", lease_until=None, last_error=error)
                .returning(Alert.id)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if hit is None:
                return DrainResult()
            row = session.get_one(Alert, alert_id)
            self._record(session, "alert failed", alert_id,
                         {"attempts": row.attempts, "error": error}, now)
            missed = list(row.recipients) if unserved is None else unserved
            self._escalate(session, row, error, missed, "failed", now)
        log.error("alert=%s failed: %s", alert_id, error)
        return DrainResult(failed=1)

    def _escalate(self, session: Session, row: Alert, error: str, recipients: list[str],
                  step: str, now: datetime) -> None:
        """Tell the fallback recipients, with the full content; never about a fallback
        message itself, or one broken relay would loop forever."""
        if row.kind == "delivery-failure":
            self._record(session, "alert not escalated", row.id,
                         {"reason": "a delivery-failure alert has no further fallback"}, now)
            return
        request = delivery_failure_request(row, self.settings, error, recipients, step)
        root = row.parent_pk or row.id
        if enqueue(session, row.trial_pk, [request], now, config_hash=self.settings.config_hash,
                   actor=self.worker_id, parent_pk=root):
            self._record(session, "alert escalated", row.id,
                         {"to": list(request.recipients), "kind": "delivery-failure",
                          "dedup_key": request.dedup_key}, now)


def _unserved(outgoing: OutgoingAlert, served: dict[str, Any]) -> list[str]:
    return [r for r in outgoing.recipients if r not in served or served[r][0] != "delivered"]
