"""With `[web].base_url`, each recipient gets their own copy of an alert, with their own
signed links and their own stable Message-ID, and the outbox's guarantees still hold:
a retry or a re-claimed lease sends only to those not yet served; a refusal is one
recipient's alone; `aewatch alerts resend` sends everyone their copy again."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from aewatch.alerts.links import ACK, BOARD, verify
from aewatch.alerts.outbox import enqueue
from aewatch.alerts.render import recipient_message_id
from aewatch.alerts.rules import ae_alerts, ingest_failure_alert
from aewatch.alerts.sender import check_acknowledgements, drain
from aewatch.alerts.transports import FileTransport, TransientDeliveryError
from aewatch.models import Alert, AlertDelivery, AuditEntry

OFFICER = "safety.officer@example.org"
DEPUTY = "deputy.officer@example.org"
SECRET = "s" * 43


@pytest.fixture
def linked(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """The trial's settings with links on and two SAE recipients."""
    monkeypatch.setenv("AEWATCH_WEB_SECRET", SECRET)
    return replace(
        settings,
        web=replace(settings.web, base_url="https://aewatch.hospital.example"),
        alerts=replace(settings.alerts, sae=(OFFICER, DEPUTY)),
    )


def queue_sae(sessions, settings, clock, trial_pk, facts) -> Alert:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        enqueue(session, trial_pk, ae_alerts(None, facts, settings, clock.now()), clock.now())
        return session.scalars(select(Alert)).one()


def links_in(message) -> dict[str, str]:  # type: ignore[no-untyped-def]
    text = message.get_body(("plain",)).get_content()
    return {
        "ack": re.search(r"https://\S+/alerts/\d+/ack\?t=(\S+)", text).group(1),
        "board": re.search(r"https://\S+/board/enter\?t=(\S+)", text).group(1),
    }


def test_each_recipients_reminder_replies_to_their_own_copy_of_the_alert(
    sessions, linked, clock, trial_pk, make_facts, transport
) -> None:
    """Threads and personal copies together: a mail client threads by the Message-IDs it
    holds, and each recipient holds only their own copy's."""
    queue_sae(sessions, linked, clock, trial_pk, make_facts())
    drain(sessions, linked, clock, worker_id="w1", transport=transport)
    originals = {m["To"]: m["Message-ID"] for m in transport.sent}
    clock.advance(hours=linked.alerts.ack_escalate_after_hours + 1)
    check_acknowledgements(sessions, linked, clock)
    drain(sessions, linked, clock, worker_id="w1", transport=transport)
    reminders = [m for m in transport.sent if "REMINDER" in m["Subject"] and m["To"] == OFFICER]
    assert reminders and all(m["In-Reply-To"] == originals[OFFICER] for m in reminders)
    deputy = [m for m in transport.sent if "REMINDER" in m["Subject"] and m["To"] == DEPUTY]
    assert deputy and all(m["In-Reply-To"] == originals[DEPUTY] for m in deputy)
    assert originals[OFFICER] != originals[DEPUTY]


def test_each_recipient_gets_their_own_message_with_their_own_links(
    sessions, linked, clock, trial_pk, make_facts, transport
) -> None:
    row = queue_sae(sessions, linked, clock, trial_pk, make_facts())
    result = drain(sessions, linked, clock, worker_id="w1", transport=transport)
    assert result.sent == 1
    assert [m["To"] for m in transport.sent] == [OFFICER, DEPUTY]
    assert transport.message_ids == [
        recipient_message_id(row.message_id, OFFICER),
        recipient_message_id(row.message_id, DEPUTY),
    ]
    for message, recipient in zip(transport.sent, (OFFICER, DEPUTY), strict=True):
        links = links_in(message)
        ack = verify(SECRET, links["ack"], ACK, clock.now())
        assert (ack.alert_id, ack.recipient) == (row.id, recipient)
        assert verify(SECRET, links["board"], BOARD, clock.now()).recipient == recipient
        html = message.get_body(("html",)).get_content()
        assert f"Acknowledge this alert as {recipient}" in html
        assert 'rel="noreferrer"' in html
    with sessions() as session:
        sent = session.get_one(Alert, row.id)
        audit = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "alert sent")
        ).one()
    assert sent.status == "sent"
    assert audit["recipients"] == [OFFICER, DEPUTY]
    assert audit["message_ids"] == dict(zip((OFFICER, DEPUTY), transport.message_ids, strict=True))


def test_an_alert_that_needs_no_acknowledgement_carries_only_the_board_link(
    sessions, linked, clock, trial_pk, transport
) -> None:
    with sessions() as session, session.begin():
        enqueue(
            session,
            trial_pk,
            [ingest_failure_alert("site3_ae.csv", "not a CSV", linked, clock.now())],
            clock.now(),
        )
    drain(sessions, linked, clock, worker_id="w1", transport=transport)
    (message,) = transport.sent
    text = message.get_body(("plain",)).get_content()
    assert "/board/enter?t=" in text
    assert "/ack?t=" not in text and "aewatch alerts ack" not in text


def test_without_a_base_url_one_message_goes_to_every_recipient_as_before(
    sessions, linked, clock, trial_pk, make_facts, transport
) -> None:
    plain = replace(linked, web=replace(linked.web, base_url=""))
    row = queue_sae(sessions, plain, clock, trial_pk, make_facts())
    drain(sessions, plain, clock, worker_id="w1", transport=transport)
    (message,) = transport.sent
    assert message["To"] == f"{OFFICER}, {DEPUTY}"
    assert transport.message_ids == [row.message_id]
    assert "/ack?t=" not in message.get_body(("plain",)).get_content()
    assert "aewatch alerts ack" in message.get_body(("plain",)).get_content()


def test_a_retry_goes_only_to_the_recipients_not_yet_served(
    sessions, linked, clock, trial_pk, make_facts, transport, no_jitter
) -> None:
    row = queue_sae(sessions, linked, clock, trial_pk, make_facts())

    class FailsForTheDeputyOnce:
        def __init__(self) -> None:
            self.failed = False

        async def send(self, message, recipients):  # type: ignore[no-untyped-def]
            if recipients == [DEPUTY] and not self.failed:
                self.failed = True
                raise TransientDeliveryError("451 4.3.0 try again later")
            return await transport.send(message, recipients)

    flaky = FailsForTheDeputyOnce()
    first = drain(sessions, linked, clock, worker_id="w1", transport=flaky, jitter=no_jitter)
    assert (first.sent, first.retried) == (0, 1)
    clock.advance(seconds=linked.alerts.backoff_base_seconds)
    second = drain(sessions, linked, clock, worker_id="w1", transport=flaky, jitter=no_jitter)
    assert second.sent == 1
    assert [m["To"] for m in transport.sent] == [OFFICER, DEPUTY]  # the officer once only
    with sessions() as session:
        deliveries = session.execute(
            select(AlertDelivery.recipient, AlertDelivery.status)
            .where(AlertDelivery.alert_pk == row.id)
            .order_by(AlertDelivery.id)
        ).all()
        assert session.get_one(Alert, row.id).status == "sent"
    assert [tuple(d) for d in deliveries] == [(OFFICER, "delivered"), (DEPUTY, "delivered")]


class WorkerDied(BaseException):
    """A fault injected on purpose: the process is gone mid-send (no except catches it)."""


def test_a_worker_that_dies_between_recipients_is_taken_over_without_a_duplicate(
    sessions, linked, clock, trial_pk, make_facts, transport
) -> None:
    queue_sae(sessions, linked, clock, trial_pk, make_facts())

    class DiesAtTheDeputy:
        async def send(self, message, recipients):  # type: ignore[no-untyped-def]
            if recipients == [DEPUTY]:
                raise WorkerDied
            return await transport.send(message, recipients)

    with pytest.raises(WorkerDied):
        drain(sessions, linked, clock, worker_id="doomed", transport=DiesAtTheDeputy())
    clock.advance(seconds=linked.worker.lease_seconds + 1)
    taken_over = drain(sessions, linked, clock, worker_id="w2", transport=transport)
    assert taken_over.sent == 1
    assert [m["To"] for m in transport.sent] == [OFFICER, DEPUTY]


def test_a_refused_recipient_does_not_stop_the_others_and_the_fallback_hears_of_it(
    sessions, linked, clock, trial_pk, make_facts, smtp_server
) -> None:
    settings = replace(linked, smtp=smtp_server.settings())
    smtp_server.handler.refuse.add(DEPUTY)
    row = queue_sae(sessions, settings, clock, trial_pk, make_facts())
    result = drain(sessions, settings, clock, worker_id="w1")
    assert (result.sent, result.refused_recipients) == (2, 1)  # the SAE and the fallback's
    assert [r.rcpt_tos for r in smtp_server.received] == [[OFFICER], list(linked.alerts.fallback)]
    with sessions() as session:
        sent = session.get_one(Alert, row.id)
        failure = session.scalars(select(Alert).where(Alert.kind == "delivery-failure")).one()
    assert sent.status == "sent" and DEPUTY in (sent.last_error or "")
    assert failure.payload["context"]["failure"]["recipients"] == [DEPUTY]


def test_every_recipient_refused_fails_the_alert_and_escalates(
    sessions, linked, clock, trial_pk, make_facts, smtp_server
) -> None:
    settings = replace(linked, smtp=smtp_server.settings())
    smtp_server.handler.refuse.update({OFFICER, DEPUTY})
    row = queue_sae(sessions, settings, clock, trial_pk, make_facts())
    result = drain(sessions, settings, clock, worker_id="w1")
    assert result.failed == 1
    with sessions() as session:
        assert session.get_one(Alert, row.id).status == "failed"
        failure = session.scalars(select(Alert).where(Alert.kind == "delivery-failure")).one()
    assert sorted(failure.payload["context"]["failure"]["recipients"]) == [DEPUTY, OFFICER]


def test_a_resend_sends_everyone_their_copy_again_under_the_same_message_ids(
    sessions, linked, clock, trial_pk, make_facts, tmp_path
) -> None:
    from aewatch.alerts.ack import resend

    files = FileTransport(tmp_path / "outbox")
    row = queue_sae(sessions, linked, clock, trial_pk, make_facts())
    drain(sessions, linked, clock, worker_id="w1", transport=files)
    names = sorted(p.name for p in (tmp_path / "outbox").iterdir())
    assert len(names) == 2  # one .eml per recipient, named by its own Message-ID
    with sessions() as session, session.begin():
        resend(session, row.id, clock.now())
    clock.advance(hours=1)
    again = drain(sessions, linked, clock, worker_id="w1", transport=files)
    assert again.sent == 1
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == names
    with sessions() as session:
        deliveries = session.scalars(
            select(AlertDelivery.at).where(AlertDelivery.alert_pk == row.id)
        ).all()
    assert deliveries == [clock.now(), clock.now()]


def test_links_in_a_resent_email_run_from_the_resend(
    sessions, linked, clock, trial_pk, make_facts, transport
) -> None:
    queue_sae(sessions, linked, clock, trial_pk, make_facts())
    drain(sessions, linked, clock, worker_id="w1", transport=transport)
    token = links_in(transport.sent[0])["ack"]
    expiry = verify(SECRET, token, ACK, clock.now()).expires_at
    assert expiry == clock.now() + timedelta(days=linked.web.link_days)


def test_a_sender_with_slow_recipients_keeps_its_lease_as_each_delivery_is_recorded(
    sessions, linked, clock, trial_pk, make_facts, transport
) -> None:
    from aewatch.alerts.claim import claim_next

    third = "third.officer@example.org"
    settings = replace(linked, alerts=replace(linked.alerts, sae=(OFFICER, DEPUTY, third)))
    queue_sae(sessions, settings, clock, trial_pk, make_facts())
    lease = settings.worker.lease_seconds
    rival_claims = []

    class SlowRelay:
        async def send(self, message, recipients):  # type: ignore[no-untyped-def]
            clock.advance(seconds=lease * 0.8)  # each conversation takes most of a lease
            rival_claims.append(claim_next(sessions, "w2", clock.now(), lease))
            return await transport.send(message, recipients)

    result = drain(sessions, settings, clock, worker_id="w1", transport=SlowRelay())
    assert result.sent == 1
    assert rival_claims == [None, None, None]  # never taken over while it was working
    assert [m["To"] for m in transport.sent] == [OFFICER, DEPUTY, third]
