"""The monthly report runs on or after the configured day, and is emailed exactly once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from aewatch.clock import ManualClock
from aewatch.models import Alert, Report
from aewatch.reports.schedule import maybe_run_monthly_report


@pytest.fixture
def monthly(settings: Any) -> Any:
    return replace(settings, reports=replace(settings.reports, dsmb_day_of_month=5, pdf=False))


def reports_and_emails(sessions: Any) -> tuple[list[str], list[Alert]]:
    """The months reported (one entry per month, both parts present) and the emails."""
    with sessions() as session:
        rows = session.execute(select(Report.period, Report.kind)).all()
        emails = list(
            session.scalars(
                select(Alert).where(Alert.kind == "dsmb-report").order_by(Alert.dedup_key)
            )
        )
    periods = sorted({period for period, _ in rows})
    for period in periods:
        assert sorted(k for p, k in rows if p == period) == ["dsmb-closed", "dsmb-open"]
    return periods, emails


def test_nothing_runs_before_the_reporting_day(
    sessions: Any, monthly: Any, small_trial: Any
) -> None:
    clock = ManualClock(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))
    assert maybe_run_monthly_report(sessions, monthly, clock) is None
    assert reports_and_emails(sessions) == ([], [])


def test_last_months_report_is_built_and_emailed_exactly_once(
    sessions: Any, monthly: Any, small_trial: Any
) -> None:
    pytest.importorskip("aewatch.alerts.outbox")
    clock = ManualClock(datetime(2026, 3, 5, 6, 0, tzinfo=UTC))
    assert maybe_run_monthly_report(sessions, monthly, clock) == "2026-02"
    clock.advance(hours=1)
    assert maybe_run_monthly_report(sessions, monthly, clock) is None
    clock.advance(days=10)
    assert maybe_run_monthly_report(sessions, monthly, clock) is None
    periods, emails = reports_and_emails(sessions)
    assert periods == ["2026-02"]
    closed, opened = emails
    assert closed.dedup_key == "dsmb-report:NCT06261047:2026-02:closed"
    assert opened.dedup_key == "dsmb-report:NCT06261047:2026-02:open"
    # Each part to the recipients configured for it: the closed part to the DSMB only.
    assert tuple(closed.recipients) == monthly.alerts.dsmb
    assert tuple(opened.recipients) == monthly.alerts.dsmb_open
    assert "sponsor.safety@example.org" not in closed.recipients
    assert "closed part" in closed.subject_line and "open part" in opened.subject_line
    for email in emails:
        assert "P0" not in email.subject_line
        assert email.payload["context"]["part"] in ("open", "closed")


def test_a_report_built_by_hand_is_still_emailed_once(
    sessions: Any, monthly: Any, small_trial: Any, tmp_path: Any
) -> None:
    pytest.importorskip("aewatch.alerts.outbox")
    from aewatch.reports.dsmb import build_dsmb_report

    clock = ManualClock(datetime(2026, 3, 2, tzinfo=UTC))
    build_dsmb_report(sessions, monthly, "2026-02", clock, tmp_path, False)
    clock.set(datetime(2026, 3, 6, tzinfo=UTC))
    assert maybe_run_monthly_report(sessions, monthly, clock) == "2026-02"
    assert maybe_run_monthly_report(sessions, monthly, clock) is None
    assert len(reports_and_emails(sessions)[1]) == 2  # one per part


def test_the_next_month_gets_its_own_report(sessions: Any, monthly: Any, small_trial: Any) -> None:
    clock = ManualClock(datetime(2026, 3, 5, tzinfo=UTC))
    maybe_run_monthly_report(sessions, monthly, clock)
    clock.set(datetime(2026, 4, 7, tzinfo=UTC))
    assert maybe_run_monthly_report(sessions, monthly, clock) == "2026-03"
    assert sorted(reports_and_emails(sessions)[0]) == ["2026-02", "2026-03"]
