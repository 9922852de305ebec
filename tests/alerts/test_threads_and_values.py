"""Alerts people act on, without noise: one thread per patient's event, the numbers
behind a derived event, and "approaching" only where and when it means something."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aewatch.alerts.rules import threshold_alert
from aewatch.alerts.sender import check_acknowledgements, drain
from aewatch.clock import ManualClock
from aewatch.pipeline import Pipeline

DM = "USUBJID,SITEID,RFXSTDTC\n03-001,03,2026-01-05\n03-002,03,2026-01-06\n"
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "03-001,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-09\n"
    "03-002,RT1,SBRT,8,Gy,5,2026-01-06,2026-01-10\n"
)
AE = (
    "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEREL,AESTDTC,AEAWDTC\n"
    "03-001,AE-1,ULCER,Duodenal ulcer,3,Y,Y,PROBABLE,2026-01-20,2026-01-21\n"
    "03-002,AE-1,BLEED,Upper gastrointestinal hemorrhage,3,Y,Y,POSSIBLE,2026-01-25,2026-01-25\n"
)
AE_FATAL = (
    "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESDTH,AEOUT,AEREL,AESTDTC,AEAWDTC\n"
    "03-002,AE-1,BLEED,Upper gastrointestinal hemorrhage,5,Y,Y,FATAL,POSSIBLE,2026-01-25,"
    "2026-02-01\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def sent(smtp_server: Any) -> list[Any]:
    return [r.message for r in smtp_server.received]


def test_the_sae_its_death_and_the_crossing_it_caused_share_one_thread(
    settings: Any, sessions: Any, tmp_path: Path, smtp_server: Any
) -> None:
    settings = replace(settings, smtp=smtp_server.settings())
    clock = ManualClock(datetime(2026, 1, 28, 8, tzinfo=UTC))
    pipeline = Pipeline(settings, sessions, clock, "w1")
    pipeline.ingest_paths([write(tmp_path, n, t) for n, t in (("dm.csv", DM), ("ex.csv", EX))])
    pipeline.ingest_paths([write(tmp_path, "ae.csv", AE)])
    drain(sessions, settings, clock, worker_id="w1")
    clock.advance(days=5)
    pipeline.ingest_paths([write(tmp_path, "ae_fatal.csv", AE_FATAL)])
    drain(sessions, settings, clock, worker_id="w1")

    messages = sent(smtp_server)
    sae = {
        m["Subject"].split("] ")[1].split(" ")[0]: m for m in messages if "[SAE]" in m["Subject"]
    }
    death = next(m for m in messages if "[DEATH]" in m["Subject"])
    crossing = next(m for m in messages if "STOPPING RULE CROSSED" in m["Subject"])
    root = sae["03-002"]["Message-ID"]
    assert root not in (sae["03-001"]["Message-ID"], death["Message-ID"])
    # 03-002's bleed: its SAE opens the thread; its death and the crossing it caused (the
    # 2nd toxic patient: boundary 2 at n = 2) reply to it.
    assert death["In-Reply-To"] == root and death["References"] == root
    assert crossing["In-Reply-To"] == root
    assert "crossed at the 2nd evaluable patient on 2026-01-25" in crossing["Subject"]
    # Another patient's SAE is another conversation.
    assert sae["03-001"]["In-Reply-To"] is None


def test_a_reminder_replies_to_the_alert_it_repeats(
    settings: Any, sessions: Any, tmp_path: Path, smtp_server: Any
) -> None:
    settings = replace(settings, smtp=smtp_server.settings())
    clock = ManualClock(datetime(2026, 1, 28, 8, tzinfo=UTC))
    pipeline = Pipeline(settings, sessions, clock, "w1")
    pipeline.ingest_paths(
        [write(tmp_path, n, t) for n, t in (("dm.csv", DM), ("ex.csv", EX), ("ae.csv", AE))]
    )
    drain(sessions, settings, clock, worker_id="w1")
    clock.advance(hours=settings.alerts.ack_escalate_after_hours + 1)
    check_acknowledgements(sessions, settings, clock)
    drain(sessions, settings, clock, worker_id="w1")
    messages = sent(smtp_server)
    original = next(
        m for m in messages if m["Subject"].startswith("[SAE]") and "03-001" in m["Subject"]
    )
    reminder = next(m for m in messages if "REMINDER" in m["Subject"] and "03-001" in m["Subject"])
    assert reminder["In-Reply-To"] == original["Message-ID"]


def test_a_lab_derived_ae_alert_shows_value_uln_baseline_ratios_and_study_day(
    settings: Any, sessions: Any, tmp_path: Path, smtp_server: Any
) -> None:
    settings = replace(settings, smtp=smtp_server.settings())
    clock = ManualClock(datetime(2026, 2, 20, 8, tzinfo=UTC))
    lb = (
        "USUBJID,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"
        "03-001,ALT,30,U/L,0,40,2026-01-02\n"  # baseline, before RT
        "03-001,ALT,260,U/L,0,40,2026-02-09\n"  # 6.5 × ULN: grade 3, no site AE
    )
    Pipeline(settings, sessions, clock, "w1").ingest_paths(
        [write(tmp_path, n, t) for n, t in (("dm.csv", DM), ("ex.csv", EX), ("lb.csv", lb))]
    )
    drain(sessions, settings, clock, worker_id="w1")
    message = next(m for m in sent(smtp_server) if m["Subject"].startswith("[LAB]"))
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    row = next(line for line in text.splitlines() if line.startswith("ALT "))
    # value and unit, ULN, × ULN, baseline, × baseline, study day (day 1 = 2026-01-05)
    assert row.split() == ["ALT", "260", "U/L", "ULN", "40", "6.5", "30", "8.67", "36"]
    assert "<td>6.5</td>" in html and "<td>8.67</td>" in html
    assert "2026-02-09" not in text + html  # dates stay inside aewatch


def test_approaching_goes_to_the_safety_officer_only_once_enough_patients_are_evaluable(
    settings: Any,
) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    minimum = settings.alerts.approaching_min_evaluable
    assert minimum == 6

    def table(n: int) -> list[dict[str, Any]]:
        return [{"rule": "g3", "state": "approaching", "evaluable_n": n, "toxic_n": 1}]

    early = threshold_alert("g3", "ok", "approaching", table(3), [], settings, now, previous_n=2)
    assert early is None  # at n = 3 one toxicity "approaches": noise
    still = threshold_alert(
        "g3", "approaching", "approaching", table(5), [], settings, now, previous_n=4
    )
    assert still is None
    now_told = threshold_alert(
        "g3", "approaching", "approaching", table(6), [], settings, now, previous_n=5
    )
    assert now_told is not None
    assert now_told.recipients == settings.alerts.approaching == ("safety.officer@example.org",)
    told_once = threshold_alert(
        "g3", "approaching", "approaching", table(7), [], settings, now, previous_n=6
    )
    assert told_once is None
    back_unannounced = threshold_alert(
        "g3", "approaching", "ok", table(5), [], settings, now, previous_n=5
    )
    assert back_unannounced is None
    crossed = threshold_alert("g3", "approaching", "crossed", table(4), [], settings, now)
    assert crossed is not None and crossed.recipients == settings.alerts.threshold
    assert "dsmb.chair@example.org" in crossed.recipients
    retracted = threshold_alert(
        "g3", "crossed", "approaching", table(4), [], settings, now, previous_n=4
    )
    assert retracted is not None and retracted.recipients == settings.alerts.threshold
