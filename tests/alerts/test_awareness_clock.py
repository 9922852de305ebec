"""The sponsor's 24-hour clock starts at the site's awareness, to the minute, in the site's
own time zone (AEAWDTC 2026-11-27T15:00 at a site in Shanghai is 07:00 UTC): the due
time, the "overdue" state and the OVERDUE reminder all run from that instant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aewatch.alerts.escalation import check_acknowledgements
from aewatch.clock import ManualClock
from aewatch.models import AdverseEvent, AeVersion, Alert, Subject
from aewatch.pipeline import Pipeline
from aewatch.reports.currency import data_currency

DM = (
    "USUBJID,SITEID,RFXSTDTC\n"
    "01-001,01,2026-11-02\n"  # Shanghai (+08:00 all year)
    "02-001,02,2026-11-02\n"  # no zone of its own: the trial's (UTC)
)
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "01-001,RT1,SBRT,8,Gy,5,2026-11-02,2026-11-06\n"
    "02-001,RT1,SBRT,8,Gy,5,2026-11-02,2026-11-06\n"
)
AE_HEADER = "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEREL,AESTDTC,AEAWDTC\n"
RECEIVED = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def ae_row(subject: str, spid: str, aware: str) -> str:
    return f"{subject},{spid},ASCITES,Ascites,3,Y,Y,PROBABLE,2026-11-26,{aware}\n"


@pytest.fixture
def zoned(settings: Any) -> Any:
    return replace(settings, trial=replace(settings.trial, site_timezones={"01": "Asia/Shanghai"}))


def ingest(settings: Any, sessions: Any, clock: ManualClock, tmp_path: Path, **files: str) -> None:
    paths = []
    for name, text in files.items():
        paths.append(tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.csv")
        paths[-1].write_text(text, encoding="utf-8")
    Pipeline(settings, sessions, clock, "w1").ingest_paths(paths)


def aware_times(sessions: Any) -> dict[tuple[str, str], tuple[datetime, bool | None]]:
    with sessions() as session:
        rows = session.execute(
            select(
                Subject.subject_id,
                AdverseEvent.ae_key,
                AeVersion.aware_at,
                AeVersion.aware_at_supplied,
            )
            .join(AdverseEvent, AdverseEvent.subject_pk == Subject.id)
            .join(AeVersion, AeVersion.ae_pk == AdverseEvent.id)
        ).all()
    return {(s, k): (_utc(at), supplied) for s, k, at, supplied in rows}


def sae_alerts(sessions: Any) -> dict[str, Alert]:
    with sessions() as session:
        rows = session.scalars(select(Alert).where(Alert.kind == "sae-initial")).all()
        session.expunge_all()
    return {r.subject_id: r for r in rows}


def reminder_keys(sessions: Any) -> list[str]:
    with sessions() as session:
        keys = session.scalars(
            select(Alert.dedup_key).where(Alert.kind == "reminder").order_by(Alert.id)
        ).all()
    return [k.split(":", 2)[2] for k in keys]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_awareness_at_15_00_in_shanghai_is_due_at_07_00_utc_the_next_day_and_not_before(
    zoned: Any, sessions: Any, tmp_path: Path
) -> None:
    clock = ManualClock(RECEIVED)
    ingest(
        zoned,
        sessions,
        clock,
        tmp_path,
        dm=DM,
        ex=EX,
        ae=AE_HEADER + ae_row("01-001", "AE-1", "2026-11-27T15:00"),
    )
    aware = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    due = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert aware_times(sessions) == {("01-001", "AE-1"): (aware, True)}
    alert = sae_alerts(sessions)["01-001"]
    assert _utc(alert.report_due_at) == due
    context = alert.payload["context"]
    assert datetime.fromisoformat(context["aware_at"]) == aware
    assert [d["due_at"] for d in context["clock"]["deadlines"]] == [due.isoformat()]

    clock.set(due - timedelta(minutes=1))  # 06:59Z: due soon, not overdue
    check_acknowledgements(sessions, zoned, clock)
    assert reminder_keys(sessions) == ["sponsor-notification:due-soon"]
    assert overdue_clocks(sessions, clock.now()) == 0

    clock.set(due + timedelta(minutes=1))  # 07:01Z: overdue
    check_acknowledgements(sessions, zoned, clock)
    assert reminder_keys(sessions) == [
        "sponsor-notification:due-soon",
        "sponsor-notification:overdue",
    ]
    assert overdue_clocks(sessions, clock.now()) == 1
    with sessions() as session:
        subjects = session.scalars(
            select(Alert.subject_line).where(Alert.kind == "reminder").order_by(Alert.id)
        ).all()
    assert subjects[1].startswith("[OVERDUE: sponsor 24-hour notification] [SAE]")


def overdue_clocks(sessions: Any, now: datetime) -> int:
    """The report's "SAE clocks overdue" for site 01 (reports.currency)."""
    import pandas as pd

    with sessions() as session:
        alerts = pd.DataFrame(
            session.execute(
                select(Alert.kind, Alert.subject_id, Alert.report_due_at, Alert.acknowledged_at)
            ).all(),
            columns=["kind", "subject_id", "report_due_at", "acknowledged_at"],
        )
    alerts["report_due_at"] = pd.to_datetime(alerts["report_due_at"], utc=True)
    subjects = pd.DataFrame({"subject_id": ["01-001"], "site": ["01"]})
    empty = pd.DataFrame(columns=["site", "received_at"])
    quarantine = pd.DataFrame(columns=["subject_id", "state", "kind"])
    table = data_currency(subjects, empty, quarantine, alerts, now)
    return int(table.loc[table["site"] == "01", "sae_clocks_overdue"].iloc[0])


@pytest.mark.parametrize(
    ("subject", "written", "aware"),
    [
        # An explicit offset wins over the site's zone.
        ("01-001", "2026-11-27T15:00Z", datetime(2026, 11, 27, 15, 0, tzinfo=UTC)),
        ("01-001", "2026-11-27T15:00+05:30", datetime(2026, 11, 27, 9, 30, tzinfo=UTC)),
        # Seconds are optional.
        ("01-001", "2026-11-27T15:00:45", datetime(2026, 11, 27, 7, 0, 45, tzinfo=UTC)),
        # A date alone is the start of the site's day: the clock is due earlier, never later.
        ("01-001", "2026-11-27", datetime(2026, 11, 26, 16, 0, tzinfo=UTC)),
        # A site without a zone of its own is in the trial's.
        ("02-001", "2026-11-27T15:00", datetime(2026, 11, 27, 15, 0, tzinfo=UTC)),
        # Never after receipt: the site knew of the event when it sent it at the latest.
        ("01-001", "2026-11-28T18:00", RECEIVED),
    ],
)
def test_awareness_is_placed_in_utc_by_its_offset_or_its_sites_zone(
    zoned: Any, sessions: Any, tmp_path: Path, subject: str, written: str, aware: datetime
) -> None:
    clock = ManualClock(RECEIVED)
    ingest(
        zoned,
        sessions,
        clock,
        tmp_path,
        dm=DM,
        ex=EX,
        ae=AE_HEADER + ae_row(subject, "AE-1", written),
    )
    assert aware_times(sessions) == {(subject, "AE-1"): (aware, True)}
    alert = sae_alerts(sessions)[subject]
    assert _utc(alert.report_due_at) == aware + timedelta(hours=24)


def test_an_impossible_awareness_time_is_rejected_with_what_to_write(
    zoned: Any, sessions: Any, tmp_path: Path
) -> None:
    from aewatch.models import QuarantineEntry

    clock = ManualClock(RECEIVED)
    ingest(
        zoned,
        sessions,
        clock,
        tmp_path,
        dm=DM,
        ex=EX,
        ae=AE_HEADER + ae_row("01-001", "AE-1", "2026-11-27T25:00"),
    )
    with sessions() as session:
        entry = session.scalars(
            select(QuarantineEntry).where(QuarantineEntry.field == "AEAWDTC")
        ).one()
    assert (entry.kind, entry.value, entry.row_number) == ("rejected", "2026-11-27T25:00", 1)
    assert "YYYY-MM-DDThh:mm" in entry.reason and "+08:00" in entry.reason


def test_an_sae_held_six_days_for_its_dm_record_runs_its_clock_from_its_own_awareness(
    zoned: Any, sessions: Any, tmp_path: Path
) -> None:
    # The SAE file arrives on 22 Nov; the subjects' DM record only on 28 Nov.
    clock = ManualClock(datetime(2026, 11, 22, 1, 0, tzinfo=UTC))
    ae = AE_HEADER + ae_row("01-001", "AE-1", "2026-11-21T15:00") + ae_row("01-002", "AE-1", "")
    ingest(zoned, sessions, clock, tmp_path, ae=ae)
    aware = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai
    held = sae_alerts(sessions)
    assert _utc(held["01-001"].report_due_at) == aware + timedelta(hours=24)
    assert held["01-001"].payload["context"]["aware_at_supplied"] is True
    # Without AEAWDTC: from the SAE file's receipt, and the alert says so.
    assert _utc(held["01-002"].report_due_at) == clock.now() + timedelta(hours=24)
    assert held["01-002"].payload["context"]["aware_at_supplied"] is False

    clock.advance(days=6)
    dm = DM + "01-002,01,2026-11-02\n"
    ex = EX + "01-002,RT1,SBRT,8,Gy,5,2026-11-02,2026-11-06\n"
    ingest(zoned, sessions, clock, tmp_path, dm=dm, ex=ex)
    assert aware_times(sessions) == {
        ("01-001", "AE-1"): (aware, True),
        ("01-002", "AE-1"): (datetime(2026, 11, 22, 1, 0, tzinfo=UTC), False),
    }
    after = sae_alerts(sessions)
    assert {s: a.id for s, a in after.items()} == {s: a.id for s, a in held.items()}
    assert _utc(after["01-001"].report_due_at) == aware + timedelta(hours=24)
