"""The sender: leases, retries with backoff, failure escalation, crash recovery."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from aewatch.alerts.backoff import backoff_delay
from aewatch.alerts.claim import claim_next
from aewatch.alerts.outbox import enqueue
from aewatch.alerts.rules import ae_alerts, ingest_failure_alert, site_silence_alerts
from aewatch.alerts.sender import drain
from aewatch.alerts.transports import (
    FileTransport,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from aewatch.models import Alert, AuditEntry

REFUSED = TransientDeliveryError("SMTPConnectError: connection refused")


def queue_sae(sessions, settings, clock, trial_pk, facts) -> None:
    with sessions() as session, session.begin():
        enqueue(session, trial_pk, ae_alerts(None, facts, settings, clock.now()), clock.now())


def alerts(sessions) -> list[Alert]:
    with sessions() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def actions(sessions) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_backoff_grows_exponentially_and_is_capped() -> None:
    delays = [backoff_delay(n, 30, 3600, lambda: 1.0).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff_delay(3, 30, 3600, lambda: 0.0).total_seconds() == 60  # jitter keeps ≥ half


def test_a_due_alert_is_sent_once_and_recorded(
    sessions, settings, clock, trial_pk, make_facts, transport
) -> None:
    queue_sae(sessions, settings, clock, trial_pk, make_facts())
    first = drain(sessions, settings, clock, worker_id="w1", transport=transport)
    second = drain(sessions, settings, clock, worker_id="w1", transport=transport)
    (row,) = alerts(sessions)
    assert (first.sent, second.sent) == (1, 0)
    assert (row.status, row.sent_at, row.attempts) == ("sent", clock.now(), 1)
    assert transport.message_ids == [row.message_id]
    assert actions(sessions) == ["alert queued", "alert sent"]


def test_a_transient_failure_backs_off_then_delivers(
    sessions, settings, clock, trial_pk, make_facts, transport, no_jitter
) -> None:
    queue_sae(sessions, settings, clock, trial_pk, make_facts())
    transport.failures = [REFUSED, REFUSED]
    drain(sessions, settings, clock, worker_id="w1", transport=transport, jitter=no_jitter)
    (row,) = alerts(sessions)
    assert (row.status, row.attempts) == ("due", 1)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert drain(sessions, settings, clock, worker_id="w1", transport=transport).sent == 0
    clock.advance(seconds=30)
    drain(sessions, settings, clock, worker_id="w1", transport=transport, jitter=no_jitter)
    assert alerts(sessions)[0].next_attempt_at == clock.now() + timedelta(seconds=60)
    clock.advance(seconds=60)
    assert drain(sessions, settings, clock, worker_id="w1", transport=transport).sent == 1
    assert actions(sessions).count("alert retry") == 2


def test_past_the_last_attempt_the_alert_fails_and_the_fallback_learns_of_it(
    sessions, settings, clock, trial_pk, make_facts, transport, no_jitter
) -> None:
    settings = replace(settings, alerts=replace(settings.alerts, max_attempts=2))
    queue_sae(sessions, settings, clock, trial_pk, make_facts())
    transport.failures = [REFUSED, REFUSED]
    drain(sessions, settings, clock, worker_id="w1", transport=transport, jitter=no_jitter)
    clock.advance(hours=1)
    result = drain(sessions, settings, clock, worker_id="w1", transport=transport)
    sae, fallback = alerts(sessions)
    assert result.failed == 1 and sae.status == "failed" and "refused" in sae.last_error
    assert (fallback.kind, fallback.status, fallback.parent_pk) == ("delivery-failure", "sent",
                                                                    sae.id)
    assert fallback.recipients == list(settings.alerts.fallback)
    (message,) = transport.sent
    assert message["Subject"].startswith("[DELIVERY FAILED] [SAE][NCT06261047] 012-003")
    assert "Hepatic failure" in message.get_body(("plain",)).get_content()
    assert {"alert failed", "alert escalated"} <= set(actions(sessions))


def test_a_permanent_refusal_fails_at_once(
    sessions, settings, clock, trial_pk, make_facts, transport
) -> None:
    queue_sae(sessions, settings, clock, trial_pk, make_facts())
    transport.failures = [PermanentDeliveryError("SMTP 554 message refused")]
    drain(sessions, settings, clock, worker_id="w1", transport=transport)
    assert [(a.kind, a.status) for a in alerts(sessions)] == [
        ("sae-initial", "failed"), ("delivery-failure", "sent")]


def test_a_failed_delivery_failure_does_not_escalate_again(
    sessions, settings, clock, trial_pk, make_facts, transport
) -> None:
    queue_sae(sessions, settings, clock, trial_pk, make_facts())
    transport.failures = [PermanentDeliveryError("554"), PermanentDeliveryError("554")]
    drain(sessions, settings, clock, worker_id="w1", transport=transport)
    assert [(a.kind, a.status) for a in alerts(sessions)] == [
        ("sae-initial", "failed"), ("delivery-failure", "failed")]
    assert "alert not escalated" in actions(sessions)


def test_alerts_go_out_most_urgent_first(
    sessions, settings, clock, trial_pk, make_facts, transport
) -> None:
    now = clock.now()
    with sessions() as session, session.begin():
        enqueue(session, trial_pk, [ingest_failure_alert("x.csv", "bad", settings, now)], now)
        enqueue(session, trial_pk, site_silence_alerts(
            {"011": now - timedelta(days=40)}, settings, now), now)
        enqueue(session, trial_pk, ae_alerts(None, make_facts(), settings, now), now)
        enqueue(session, trial_pk, ae_alerts(None, make_facts(ae_key="AE-9", grade=5),
                                             settings, now), now)
    drain(sessions, settings, clock, worker_id="w1", transport=transport)
    tags = [str(m["Subject"]).split("]")[0] for m in transport.sent]
    assert tags == ["[DEATH", "[SAE", "[INGEST FAILED", "[SITE SILENT"]


def test_a_worker_that_died_after_claiming_is_replaced_when_its_lease_expires(
    sessions, settings, clock, trial_pk, make_facts, transport
) -> None:
    queue_sae(sessions, settings, clock, trial_pk, make_facts())
    assert claim_next(sessions, "dead-worker", clock.now(), settings.worker.lease_seconds)
    assert drain(sessions, settings, clock, worker_id="w2", transport=transport).sent == 0
    clock.advance(seconds=settings.worker.lease_seconds + 1)
    assert drain(sessions, settings, clock, worker_id="w2", transport=transport).sent == 1
    (row,) = alerts(sessions)
    assert (row.status, row.claimed_by, row.attempts) == ("sent", "w2", 2)
    assert transport.message_ids == [row.message_id]


def test_a_crash_between_sending_and_recording_resends_with_the_same_message_id(
    sessions, settings, clock, trial_pk, make_facts, tmp_path
) -> None:
    """The first send reaches the outbox folder but its 'sent' mark never commits."""
    import asyncio

    from aewatch.alerts.render import OutgoingAlert, render_message
    from aewatch.models import Trial

    queue_sae(sessions, settings, clock, trial_pk, make_facts())
    files = FileTransport(tmp_path / "outbox")
    alert_id = claim_next(sessions, "dying-worker", clock.now(), settings.worker.lease_seconds)
    with sessions() as session:
        row = session.get_one(Alert, alert_id)
        trial_id = session.get_one(Trial, row.trial_pk).trial_id
        message = render_message(OutgoingAlert.from_row(row, trial_id),
                                 from_address="aewatch@example.org", now=clock.now())
    asyncio.run(files.send(message, row.recipients))  # …and the process dies here
    clock.advance(seconds=settings.worker.lease_seconds + 1)
    drain(sessions, settings, clock, worker_id="w2", transport=files)
    (row,) = alerts(sessions)
    assert row.status == "sent"
    (eml,) = (tmp_path / "outbox").glob("*.eml")  # overwritten, not duplicated
    assert row.message_id.strip("<>").split("@")[0] in eml.name


def test_two_drainers_at_once_never_send_the_same_alert_twice(
    sessions, settings, clock, trial_pk, make_facts, transport
) -> None:
    import threading

    now = clock.now()
    with sessions() as session, session.begin():
        for n in range(20):
            enqueue(session, trial_pk, ae_alerts(None, make_facts(ae_key=f"AE-{n}"), settings,
                                                 now), now)
    transport.pause = 0.005
    threads = [
        threading.Thread(target=drain, args=(sessions, settings, clock),
                         kwargs={"worker_id": f"w{i}", "transport": transport})
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(transport.message_ids) == len(set(transport.message_ids)) == 20
    assert {a.status for a in alerts(sessions)} == {"sent"}
    assert {a.claimed_by for a in alerts(sessions)} == {"w0", "w1"}  # both did work


def test_an_unexpected_transport_error_is_retried_not_lost(
    sessions, settings, clock, trial_pk, make_facts, transport
) -> None:
    queue_sae(sessions, settings, clock, trial_pk, make_facts())
    transport.failures = [RuntimeError("library bug")]
    assert drain(sessions, settings, clock, worker_id="w1", transport=transport).retried == 1
    (row,) = alerts(sessions)
    assert row.status == "due" and "RuntimeError: library bug" in row.last_error


def test_a_broken_subject_template_does_not_block_queueing(
    sessions, settings, clock, trial_pk, make_facts, monkeypatch
) -> None:
    import aewatch.alerts.outbox as outbox

    def broken(kind, context):
        raise KeyError("ae")

    monkeypatch.setattr(outbox, "render_subject", broken)
    queue_sae(sessions, settings, clock, trial_pk, make_facts())
    assert alerts(sessions)[0].subject_line == "[SAE-INITIAL][NCT06261047] 012-003"
