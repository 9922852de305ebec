"""After a cycle that ingested a large export the daemon hands memory back (idle
connections and their page caches closed, Arrow's and malloc's free memory released),
and goes on working; a cycle of small files keeps its connections (aewatch.memory)."""

from __future__ import annotations

from pathlib import Path

import pytest

import aewatch.worker as worker_module
from aewatch.config import Settings
from aewatch.worker import Worker

DM = "STUDYID,USUBJID,SITEID,RFXSTDTC\nNCT06261047,01-001,01,2026-01-10\n"
LB = (
    "STUDYID,USUBJID,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"
    "NCT06261047,01-001,ALT,30,U/L,0,40,2026-01-05\n"
    "NCT06261047,01-001,ALT,130,U/L,0,40,2026-02-05\n"
    "NCT06261047,01-001,AST,35,U/L,0,40,2026-02-05\n"
)


def test_a_large_cycle_gives_memory_back_and_the_next_cycle_reconnects(
    settings: Settings, sessions, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "LARGE_CYCLE_ROWS", 3)  # "large": three rows here
    engine = sessions.kw["bind"]
    worker = Worker(settings, sessions, clock, worker_id="w1")
    inbox = Path(settings.worker.inbox)
    inbox.mkdir(parents=True, exist_ok=True)

    (inbox / "dm.csv").write_text(DM)
    small = worker.cycle()
    assert [(f.status, f.rows) for f in small.files] == [("done", 1)]
    assert engine.pool.checkedin() >= 1  # below the threshold: the connection is kept

    (inbox / "lb.csv").write_text(LB)
    large = worker.cycle()
    assert [(f.status, f.rows) for f in large.files] == [("done", 3)]
    assert engine.pool.checkedin() == 0  # idle connections (and page caches) closed

    (inbox / "lb_more.csv").write_text(LB.replace("2026-02-05", "2026-03-05"))
    after = worker.cycle()
    assert [f.status for f in after.files] == ["done"]
    with sessions() as session:
        stored = session.connection().exec_driver_sql("SELECT COUNT(*) FROM lab_results")
        assert stored.scalar() == 5

