"""A rule that crossed early is told as it happened, everywhere alike.

Fourteen patients' data arrive at once: the first two evaluable patients had an
RT-related grade 3 toxicity (the Pocock boundary at n = 2 is 2: crossed), the next
eleven were followed through the 90-day window without one, and the fourteenth was
toxic again. Counted against the boundary *now* (3 of 14, boundary 6) the rule would
look fine; the email, `aewatch status` and the report's chart data must all say it
crossed at the 2nd evaluable patient.
"""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aewatch.alerts.sender import drain
from aewatch.clock import ManualClock
from aewatch.pipeline import Pipeline
from aewatch.reports.counting import trial_pk_for
from aewatch.reports.datacut import DataCut
from aewatch.reports.dsmb import build_dsmb_report
from aewatch.reports.sections import compute_sections
from aewatch.reports.snapshot import load_snapshot
from aewatch.runtime import Runtime

START = date(2026, 1, 5)
TOXIC_ONSET = {1: START + timedelta(days=20), 2: START + timedelta(days=23)}
RULE = "grade3-rt-related"


def patient(n: int) -> str:
    return f"02-{n:03d}"


def write_trial(folder: Path) -> list[Path]:
    """One file per domain for 14 patients (RT 5 × 8 Gy); the follow-up labs arrive before
    the AEs, so the crossing is detected with all 14 evaluable."""
    dm, ex, ae, lb = ["USUBJID,SITEID,RFXSTDTC"], [], [], []
    ex.append("USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC")
    ae.append("USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AEREL,AESTDTC,AEAWDTC")
    lb.append("USUBJID,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC")
    for n in range(1, 15):
        start = START + timedelta(days=2 * (n - 1)) if n <= 2 else START + timedelta(days=n)
        end = start + timedelta(days=5)
        dm.append(f"{patient(n)},02,{start}")
        ex.append(f"{patient(n)},RT1,SBRT,8,Gy,5,{start},{end}")
        onset = TOXIC_ONSET.get(n)
        if n == 14:
            onset = end + timedelta(days=90)  # after every clean patient's window end
        if onset is not None:
            ae.append(f"{patient(n)},AE-1,ULCER,Duodenal ulcer,3,N,PROBABLE,{onset},{onset}")
        lb.append(f"{patient(n)},ALT,20,U/L,0,40,{end + timedelta(days=95)}")
    paths = []
    for name, lines in (("dm", dm), ("ex", ex), ("lb", lb), ("ae", ae)):
        path = folder / f"{name}.csv"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def test_a_crossing_at_n_2_is_shown_at_n_2_in_email_status_and_chart(
    settings: Any, sessions: Any, engine: Any, tmp_path: Path, smtp_server: Any
) -> None:
    settings = replace(settings, smtp=smtp_server.settings())
    clock = ManualClock(datetime(2026, 7, 1, 8, tzinfo=UTC))  # every window has ended
    Pipeline(settings, sessions, clock, "w1").ingest_paths(write_trial(tmp_path))
    crossed_on = TOXIC_ONSET[2].isoformat()

    # The email: subject and body say where it crossed, and where it stands now.
    drain(sessions, settings, clock, worker_id="w1")
    crossing = [
        r.message for r in smtp_server.received if "STOPPING RULE CROSSED" in r.message["Subject"]
    ]
    assert len(crossing) == 1
    message = crossing[0]
    headline = (
        f"crossed at the 2nd evaluable patient on {crossed_on} (2 toxic, boundary 2); now 3 of 14"
    )
    assert headline in " ".join(message["Subject"].split())
    body = message.get_body(("plain",)).get_content()
    assert headline[0].upper() + headline[1:] in body
    assert "crossed (14 evaluable)" not in message["Subject"]
    # To the safety officer and the DSMB chair.
    recipients = {a.strip() for a in message["To"].split(",")}
    assert recipients == set(settings.alerts.threshold)

    # `aewatch status`: crossed_at_n and crossed_on, at today's cut and at the data cut.
    from aewatch.commands.status import current_status

    runtime = Runtime(settings=settings, engine=engine, sessions=sessions, clock=clock)
    for cut in (None, DataCut(clinical_day=date(2026, 6, 30))):
        row = next(r for r in current_status(runtime, cut=cut) if r["rule"] == RULE)
        assert (row["state"], row["crossed_at_n"], row["crossed_on"]) == (
            "crossed",
            2,
            crossed_on,
        )
        assert (row["toxic_n"], row["evaluable_n"], row["crossed_toxic_n"]) == (3, 14, 2)
        assert row["cushion"] is None  # "3 toxic / stop at 6 / cushion 2" was the lie

    # The report's chart data: the cumulative count in the rule's order, crossed at n = 2.
    with sessions() as session:
        trial_pk = trial_pk_for(session, settings.trial.id)
        assert trial_pk is not None
        snap = load_snapshot(session, trial_pk, DataCut(date(2026, 6, 30), clock.now()))
    tabs = compute_sections(snap, settings, datetime(2026, 6, 1, tzinfo=UTC), clock.now())
    trajectory = tabs.frames[f"rule_trajectory:{RULE}"]
    assert trajectory["n"].tolist() == list(range(1, 15))
    assert trajectory["toxic_n"].tolist() == [1, 2, *[2] * 11, 3]
    assert trajectory.loc[trajectory["crossed_here"], "n"].tolist() == [2]
    at_two = trajectory.set_index("n").loc[2]
    assert at_two["toxic_n"] >= at_two["stop_at"] == 2  # on the boundary: crossed
    status = tabs.frames["rule_status"].set_index("rule").loc[RULE]
    assert (status["crossed_at_n"], status["crossed_on"]) == (2, crossed_on)

    # ... and the drawn chart marks the crossing.
    result = build_dsmb_report(
        sessions, settings, "2026-06", clock, tmp_path / "out", False, parts=("open",)
    )
    html = result.parts["open"].html_path.read_text()
    charts = [
        base64.b64decode(data).decode()
        for data in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", html)
    ]
    rule_chart = next(svg for svg in charts if RULE in svg)
    assert 'id="crossing"' in rule_chart
    assert "crossed at n = 2 (2 toxic)" in rule_chart
    assert headline in html
