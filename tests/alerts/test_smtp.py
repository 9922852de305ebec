"""Delivery through a real SMTP server (aiosmtpd on 127.0.0.1), including its faults."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from aewatch.alerts.outbox import enqueue
from aewatch.alerts.rules import ae_alerts, ingest_failure_alert, threshold_alert
from aewatch.alerts.sender import drain
from aewatch.alerts.transports import FileTransport, SmtpTransport, transport_for
from aewatch.models import Alert, AuditEntry
from support import wait_for


def queue(sessions, trial_pk, clock, requests) -> None:
    with sessions() as session, session.begin():
        enqueue(session, trial_pk, requests, clock.now())


def rows(sessions) -> list[Alert]:
    with sessions() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_an_sae_arrives_complete_escaped_and_without_identifiers(
    sessions, settings, clock, trial_pk, make_facts, smtp_server
) -> None:
    from datetime import date

    from aewatch.alerts.requests import ae_facts_from_record

    settings = replace(settings, smtp=smtp_server.settings())
    record = {
        "USUBJID": "012-003", "AESPID": "AE-7", "AETOXGR": "4", "AESER": "Y", "AESHOSP": "Y",
        "AEDECOD": "Hepatic failure <script>alert(1)</script>", "AEREL": "PROBABLE",
        "AERELSYS": "UNLIKELY", "AESTDTC": "2026-02-20", "NAME": "Zhang Wei",
        "INITIALS": "ZW", "BRTHDTC": "1951-07-04", "NARRATIVE": "Mr Zhang, bed 12, Ward 7B",
        "AETERM": "liver failure (Zhang Wei, MRN 448812)",
    }
    facts = ae_facts_from_record(record, trial_id="NCT06261047", site="012",
                                 aware_at=clock.now(), reference_start=date(2026, 1, 9))
    queue(sessions, trial_pk, clock, ae_alerts(None, facts, settings, clock.now()))
    assert drain(sessions, settings, clock, worker_id="w1").sent == 1
    assert wait_for(lambda: len(smtp_server.received) == 1)
    (received,) = smtp_server.received
    (row,) = rows(sessions)
    message = received.message
    assert received.rcpt_tos == list(settings.alerts.sae)
    assert received.mail_from == settings.alerts.from_address
    assert message["Message-ID"] == row.message_id
    assert message["X-Aewatch-Alert"] == row.dedup_key
    assert message["Subject"].strip().startswith("[SAE][NCT06261047] 012-003 Grade 4 Hepatic")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Attribution to RT:          probable" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "study day 43" in html and "2026-02" not in html + text
    raw = text + html + "".join(f"{k}: {v}" for k, v in message.items())
    for identifier in ("Zhang", "ZW", "1951", "Ward 7B", "448812"):
        assert identifier not in raw


def test_one_refused_recipient_does_not_block_the_others(
    sessions, settings, clock, trial_pk, smtp_server
) -> None:
    settings = replace(settings, smtp=smtp_server.settings())
    smtp_server.handler.refuse = {"dsmb.chair@example.org"}
    table = [{"rule": "g3", "evaluable_n": 10, "toxic_n": 4}]
    queue(sessions, trial_pk, clock,
          [threshold_alert("g3", "approaching", "crossed", table, [], settings, clock.now())])
    result = drain(sessions, settings, clock, worker_id="w1")
    assert (result.sent, result.refused_recipients) == (2, 1)  # the alert and its fallback note
    threshold, note = rows(sessions)
    assert threshold.status == "sent" and "dsmb.chair@example.org refused: 550" in \
        threshold.last_error
    assert note.kind == "delivery-failure" and note.recipients == list(settings.alerts.fallback)
    assert [r.rcpt_tos for r in smtp_server.received] == [
        ["safety.officer@example.org"], ["trial.office@example.org"]]
    with sessions() as session:
        assert session.scalar(select(AuditEntry.detail)
                              .where(AuditEntry.action == "recipient refused"))


def test_a_temporary_4xx_is_retried_and_then_delivered(
    sessions, settings, clock, trial_pk, make_facts, smtp_server
) -> None:
    settings = replace(settings, smtp=smtp_server.settings())
    smtp_server.handler.temporary_failures = 1
    queue(sessions, trial_pk, clock, ae_alerts(None, make_facts(), settings, clock.now()))
    assert drain(sessions, settings, clock, worker_id="w1").retried == 1
    assert "451" in rows(sessions)[0].last_error
    clock.advance(minutes=5)
    assert drain(sessions, settings, clock, worker_id="w1").sent == 1
    assert len(smtp_server.received) == 1


def test_a_server_slower_than_the_timeout_counts_as_a_transient_failure(
    sessions, settings, clock, trial_pk, make_facts, smtp_server
) -> None:
    settings = replace(settings, smtp=smtp_server.settings(timeout_seconds=0.3))
    smtp_server.handler.stall_seconds = 2.0
    queue(sessions, trial_pk, clock, ae_alerts(None, make_facts(), settings, clock.now()))
    result = drain(sessions, settings, clock, worker_id="w1")
    (row,) = rows(sessions)
    assert result.retried == 1 and row.status == "due" and "Timeout" in row.last_error


def test_smtp_down_then_back_delivers_everything_most_urgent_first(
    sessions, settings, clock, trial_pk, make_facts, smtp_server
) -> None:
    settings = replace(settings, smtp=smtp_server.settings())
    now = clock.now()
    queue(sessions, trial_pk, clock, [ingest_failure_alert("a.csv", "unreadable", settings, now)])
    queue(sessions, trial_pk, clock, ae_alerts(None, make_facts(), settings, now))
    queue(sessions, trial_pk, clock, ae_alerts(None, make_facts(ae_key="AE-8", grade=5),
                                               settings, now))
    smtp_server.stop()
    for _ in range(3):  # three polls while the relay is down
        assert drain(sessions, settings, clock, worker_id="w1").sent == 0
        clock.advance(seconds=1)
    assert {r.status for r in rows(sessions)} == {"due"}
    smtp_server.start()
    clock.advance(hours=2)
    assert drain(sessions, settings, clock, worker_id="w1").sent == 3
    subjects = [r.message["Subject"].strip().split("]")[0] for r in smtp_server.received]
    assert subjects == ["[DEATH", "[SAE", "[INGEST FAILED"]


def test_starttls_with_verified_certificate_and_auth(
    sessions, settings, clock, trial_pk, make_facts, tls_smtp_server, monkeypatch
) -> None:
    server, ca_file = tls_smtp_server
    smtp = server.settings(starttls=True, username="aewatch", ca_file=str(ca_file))
    monkeypatch.setenv("AEWATCH_SMTP_PASSWORD", "s3cret")
    settings = replace(settings, smtp=smtp)
    assert isinstance(transport_for(settings), SmtpTransport)
    queue(sessions, trial_pk, clock, ae_alerts(None, make_facts(), settings, clock.now()))
    assert drain(sessions, settings, clock, worker_id="w1").sent == 1
    assert len(server.received) == 1


def test_an_untrusted_certificate_or_a_wrong_password_is_not_delivered(
    sessions, settings, clock, trial_pk, make_facts, tls_smtp_server, monkeypatch
) -> None:
    server, ca_file = tls_smtp_server
    monkeypatch.setenv("AEWATCH_SMTP_PASSWORD", "wrong")
    queue(sessions, trial_pk, clock, ae_alerts(None, make_facts(), settings, clock.now()))
    untrusted = replace(settings, smtp=server.settings(starttls=True, username="aewatch"))
    assert drain(sessions, untrusted, clock, worker_id="w1").retried == 1
    assert "CERTIFICATE_VERIFY_FAILED" in rows(sessions)[0].last_error
    clock.advance(hours=2)
    wrong_password = replace(settings, smtp=server.settings(
        starttls=True, username="aewatch", ca_file=str(ca_file)))
    assert drain(sessions, wrong_password, clock, worker_id="w1").retried == 1
    assert "authentication failed" in rows(sessions)[0].last_error
    assert server.received == []


def test_without_an_smtp_host_alerts_are_written_as_files(settings, tmp_path) -> None:
    transport = transport_for(settings)
    assert isinstance(transport, FileTransport)
    assert transport.folder == tmp_path / "outbox"


def test_implicit_tls_with_a_verified_certificate(
    sessions, settings, clock, trial_pk, make_facts, implicit_tls_smtp_server
) -> None:
    server, ca_file = implicit_tls_smtp_server
    smtp = server.settings(starttls=False, implicit_tls=True, ca_file=str(ca_file))
    settings = replace(settings, smtp=smtp)
    queue(sessions, trial_pk, clock, ae_alerts(None, make_facts(), settings, clock.now()))
    assert drain(sessions, settings, clock, worker_id="w1").sent == 1
    assert len(server.received) == 1
