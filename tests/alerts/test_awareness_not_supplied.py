"""An SAE email never passes aewatch's receipt time off as the site's awareness: without
AEAWDTC it says the clock runs from receipt."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aewatch.alerts.sender import drain
from aewatch.clock import ManualClock
from aewatch.pipeline import Pipeline

DM = "USUBJID,SITEID,RFXSTDTC\n09-001,09,2026-01-05\n09-002,09,2026-01-05\n"
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "09-001,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-09\n"
    "09-002,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-09\n"
)
AE = (
    "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEREL,AESTDTC,AEAWDTC\n"
    "09-001,AE-1,ASCITES,Ascites,3,Y,Y,PROBABLE,2026-01-20,\n"
    "09-002,AE-1,ASCITES,Ascites,3,Y,Y,PROBABLE,2026-01-20,2026-01-21\n"
)


def test_an_sae_without_an_awareness_date_says_its_clock_runs_from_receipt(
    settings: Any, sessions: Any, tmp_path: Path, smtp_server: Any
) -> None:
    settings = replace(settings, smtp=smtp_server.settings())
    clock = ManualClock(datetime(2026, 1, 22, 8, 30, tzinfo=UTC))
    paths = []
    for name, text in (("dm.csv", DM), ("ex.csv", EX), ("ae.csv", AE)):
        paths.append(tmp_path / name)
        paths[-1].write_text(text, encoding="utf-8")
    Pipeline(settings, sessions, clock, "w1").ingest_paths(paths)
    drain(sessions, settings, clock, worker_id="w1")
    mails = {
        m["Subject"].split("] ")[1].split(" ")[0]: m
        for m in (r.message for r in smtp_server.received)
        if m["Subject"].startswith("[SAE]")
    }
    note = "(awareness date not supplied — clock from receipt)"
    unsupplied = mails["09-001"].get_body(("plain",)).get_content()
    assert note in unsupplied
    assert note in mails["09-001"].get_body(("html",)).get_content()
    assert note not in mails["09-002"].get_body(("plain",)).get_content()
