"""`aewatch alerts list` reads the outbox through the driver: the same rows, field for
field, as the ORM gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from aewatch.alerts.ack import acknowledge
from aewatch.alerts.listing import list_alerts
from aewatch.alerts.outbox import enqueue
from aewatch.alerts.rules import ae_alerts
from aewatch.commands.alerts import STATUSES, _summary
from aewatch.dbapi import connect
from aewatch.models import Alert


def test_the_listing_equals_the_orm_rows_for_every_filter(
    sessions, settings, clock, trial_pk, make_facts, db_url
) -> None:
    with sessions() as session, session.begin():
        enqueue(
            session, trial_pk, ae_alerts(None, make_facts(), settings, clock.now()), clock.now()
        )
        acknowledge(session, 1, "Dr Li", "sponsor notified", clock.now())
    with sessions() as session:
        orm = [_summary(row) for row in session.scalars(select(Alert).order_by(Alert.id.desc()))]
    assert orm and orm[-1]["acknowledged_by"] == "Dr Li"
    with connect(db_url) as db:
        for status in STATUSES:
            light = [_summary(row) for row in list_alerts(db, status)]
            expected = [
                row
                for row in orm
                if status == "all"
                or (
                    status == "unacknowledged"
                    and row["requires_ack"]
                    and row["acknowledged_at"] is None
                )
                or row["status"] == status
            ]
            assert light == expected, status
        assert [_summary(r) for r in list_alerts(db, kind="sae-initial", limit=1)] == [
            r for r in orm if r["kind"] == "sae-initial"
        ][:1]
