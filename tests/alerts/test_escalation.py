"""Unacknowledged SAE alerts are repeated and escalated; an acknowledgement stops that."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from aewatch.alerts.ack import acknowledge, resend
from aewatch.alerts.outbox import enqueue
from aewatch.alerts.rules import ae_alerts
from aewatch.alerts.sender import check_acknowledgements, drain
from aewatch.models import Alert, AuditEntry


def queue_sae(sessions, settings, clock, trial_pk, facts) -> int:
    with sessions() as session, session.begin():
        enqueue(session, trial_pk, ae_alerts(None, facts, settings, clock.now()), clock.now())
        return session.scalars(select(Alert.id)).one()


def followups(sessions) -> list[tuple[str, str, list[str]]]:
    with sessions() as session:
        rows = session.scalars(select(Alert).where(Alert.parent_pk.is_not(None))
                               .order_by(Alert.id))
        return [(r.kind, r.dedup_key.split(":", 1)[1], r.recipients) for r in rows]


def chain_steps(sessions) -> list[tuple[str, str, list[str]]]:
    """Reminders and escalations for lack of acknowledgement (not deadline reminders)."""
    return [f for f in followups(sessions) if f[1].split(":")[1].isdigit()]


def test_an_unacknowledged_sae_escalates_along_the_chain_once_per_level(
    sessions, settings, clock, trial_pk, make_facts, transport
) -> None:
    sae_id = queue_sae(sessions, settings, clock, trial_pk, make_facts(aware_at=clock.now()))
    drain(sessions, settings, clock, worker_id="w1", transport=transport)
    chain, sae_recipients = list(settings.alerts.escalation_chain), list(settings.alerts.sae)
    clock.advance(hours=23)
    check_acknowledgements(sessions, settings, clock)
    assert chain_steps(sessions) == []
    clock.advance(hours=1)  # 24 h: reminder 1 and level 1
    check_acknowledgements(sessions, settings, clock)
    check_acknowledgements(sessions, settings, clock)  # running again queues nothing new
    assert chain_steps(sessions) == [
        ("reminder", f"{sae_id}:1", sae_recipients),
        ("escalation", f"{sae_id}:1", [chain[0]]),
    ]
    clock.advance(hours=12)  # 36 h: reminder 2 and level 2
    check_acknowledgements(sessions, settings, clock)
    clock.advance(hours=12)  # 48 h: reminder 3; the chain is exhausted
    check_acknowledgements(sessions, settings, clock)
    assert chain_steps(sessions)[2:] == [
        ("reminder", f"{sae_id}:2", sae_recipients),
        ("escalation", f"{sae_id}:2", [chain[1]]),
        ("reminder", f"{sae_id}:3", sae_recipients),
    ]
    with sessions() as session:
        assert session.get_one(Alert, sae_id).escalation_level == 2
        escalated = session.scalars(select(AuditEntry.detail)
                                    .where(AuditEntry.action == "alert escalated")).all()
    assert [d["level"] for d in escalated] == [1, 2]


def test_an_acknowledgement_stops_reminders_and_escalation(
    sessions, settings, clock, trial_pk, make_facts, transport
) -> None:
    sae_id = queue_sae(sessions, settings, clock, trial_pk, make_facts(aware_at=clock.now()))
    clock.advance(hours=2)
    with sessions() as session, session.begin():
        acknowledge(session, sae_id, "Dr Safety Officer", "sponsor notified by phone",
                    clock.now())
    clock.advance(hours=72)
    assert check_acknowledgements(sessions, settings, clock) == 0
    with sessions() as session:
        row = session.get_one(Alert, sae_id)
        audit = session.scalars(select(AuditEntry.actor)
                                .where(AuditEntry.action == "alert acknowledged")).all()
    assert (row.acknowledged_by, row.ack_note) == ("Dr Safety Officer",
                                                   "sponsor notified by phone")
    assert audit == ["Dr Safety Officer"]


def test_acknowledging_a_reminder_acknowledges_its_original(
    sessions, settings, clock, trial_pk, make_facts
) -> None:
    sae_id = queue_sae(sessions, settings, clock, trial_pk, make_facts(aware_at=clock.now()))
    clock.advance(hours=25)
    check_acknowledgements(sessions, settings, clock)
    with sessions() as session, session.begin():
        reminder_id = session.scalars(select(Alert.id).where(Alert.kind == "reminder")).first()
        root = acknowledge(session, reminder_id, "officer", None, clock.now())
    assert root.id == sae_id and root.acknowledged_by == "officer"


def test_the_sponsor_deadline_drives_a_due_soon_and_an_overdue_reminder(
    sessions, settings, clock, trial_pk, make_facts
) -> None:
    # The site became aware 19 hours before aewatch saw the SAE: 5 hours left.
    aware = clock.now() - timedelta(hours=19)
    sae_id = queue_sae(sessions, settings, clock, trial_pk, make_facts(aware_at=aware))
    assert check_acknowledgements(sessions, settings, clock) == 0
    clock.advance(hours=1)  # 4 hours left
    assert check_acknowledgements(sessions, settings, clock) == 1
    clock.advance(hours=4)
    assert check_acknowledgements(sessions, settings, clock) == 1
    keys = [k for kind, k, _ in followups(sessions)]
    assert keys == [f"{sae_id}:sponsor-notification:due-soon",
                    f"{sae_id}:sponsor-notification:overdue"]
    with sessions() as session:
        subject = session.scalars(select(Alert.subject_line).where(Alert.parent_pk == sae_id)
                                  ).first()
    assert subject.startswith("[DUE SOON: sponsor 24-hour notification] [SAE][NCT06261047]")


def test_resend_queues_the_same_message_again(
    sessions, settings, clock, trial_pk, make_facts, transport
) -> None:
    sae_id = queue_sae(sessions, settings, clock, trial_pk, make_facts())
    drain(sessions, settings, clock, worker_id="w1", transport=transport)
    with sessions() as session, session.begin():
        resend(session, sae_id, clock.now(), by="officer")
    drain(sessions, settings, clock, worker_id="w1", transport=transport)
    assert len(transport.sent) == 2 and len(set(transport.message_ids)) == 1
