"""Queueing: one row per dedup key, a stable Message-ID, an audit row."""

from __future__ import annotations

from sqlalchemy import func, select

from aewatch.alerts.outbox import enqueue, message_id_for
from aewatch.alerts.rules import ae_alerts
from aewatch.models import Alert, AuditEntry


def test_enqueueing_the_same_requests_twice_keeps_one_row(
    sessions, settings, clock, trial_pk, make_facts
) -> None:
    requests = ae_alerts(None, make_facts(), settings, clock.now())
    with sessions() as session, session.begin():
        first = enqueue(session, trial_pk, requests, clock.now())
    with sessions() as session, session.begin():
        second = enqueue(session, trial_pk, requests, clock.now())
    with sessions() as session:
        rows = session.scalars(select(Alert)).all()
        audits = session.scalar(select(func.count()).where(AuditEntry.action == "alert queued"))
    assert (first, second, len(rows), audits) == (1, 0, 1, 1)
    (row,) = rows
    assert row.status == "due" and row.next_attempt_at == clock.now()
    assert row.subject_line == "[SAE][NCT06261047] 012-003 Grade 4 Hepatic failure"
    assert row.message_id == message_id_for(row.dedup_key, "NCT06261047")
    assert row.message_id.endswith("@aewatch.NCT06261047>")


def test_an_alert_rolls_back_with_the_data_that_caused_it(
    sessions, settings, clock, trial_pk, make_facts
) -> None:
    requests = ae_alerts(None, make_facts(), settings, clock.now())
    session = sessions()
    with session.begin():
        enqueue(session, trial_pk, requests, clock.now())
        session.rollback()
    session.close()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
