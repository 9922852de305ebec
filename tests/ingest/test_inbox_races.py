"""Several workers on one inbox: files vanish between listing, stat and claim all the
time, and a file can be ingested by another worker while this one prepares it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aewatch.ingest.inbox import Inbox
from aewatch.models import QuarantineEntry, SourceFile
from aewatch.pipeline import Pipeline, runner

DM = "USUBJID,SITEID,RFXSTDTC\n01-001,01,2026-01-05\n01-002,01,2026-01-05\n"
# One rejected row (grade 7) and one data query (uncoded term) per ingest of this file.
AE = (
    "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESTDTC\n"
    "01-001,AE-1,ASCITES,Ascites,2,N,2026-02-01\n"
    "01-002,AE-2,WOBBLY KNEES,Wobbly knees,2,N,2026-02-02\n"
    "01-002,AE-3,NAUSEA,Nausea,7,N,2026-02-03\n"
)


def test_listing_the_inbox_while_another_worker_takes_the_files_raises_nothing(
    tmp_path: Path,
) -> None:
    inbox = Inbox(tmp_path / "inbox", "worker-a")
    inbox.ensure()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    names = [f"ae_{i:04d}.csv" for i in range(3000)]
    for name in names:
        (inbox.root / name).write_text("USUBJID\n")
    errors: list[BaseException] = []
    listed: list[Path] = []
    done = threading.Event()

    def other_worker() -> None:
        try:
            for name in names:
                try:
                    os.rename(inbox.root / name, elsewhere / name)
                except FileNotFoundError:
                    continue  # this worker lost the race for it: the other one claimed it
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        while not done.is_set():
            waiting = inbox.waiting()
            listed.extend(waiting)
            for path in waiting[:5]:
                inbox.claim(path)  # losing the race is silent: None
    finally:
        thread.join(timeout=60)
    assert errors == []
    assert listed, "the listing never saw a file: the race was not exercised"
    claimed = sorted(p.name for p in inbox.processing.iterdir())
    moved = sorted(p.name for p in elsewhere.iterdir())
    assert sorted(claimed + moved) == names  # every file is in exactly one place


def test_a_claim_that_loses_the_race_is_none(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path, "worker-a")
    inbox.ensure()
    path = tmp_path / "dm.csv"
    path.write_text(DM)
    path.rename(tmp_path / "taken-by-b.csv")
    assert inbox.claim(path) is None
    assert inbox.waiting() == [tmp_path / "taken-by-b.csv"]


def test_an_absent_inbox_has_nothing_waiting(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "not-there", "worker-a")
    assert inbox.waiting() == [] and inbox.orphans() == []


def test_a_file_ingested_by_another_worker_while_this_one_prepared_it_is_a_duplicate(
    settings, sessions, clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Preparing runs outside the trial lock; the other worker may commit the same bytes
    meanwhile. Storing them again would repeat every quarantine entry and query."""
    worker_a = Pipeline(settings, sessions, clock, "worker-a")
    worker_b = Pipeline(settings, sessions, clock, "worker-b")
    dm = tmp_path / "dm.csv"
    dm.write_text(DM)
    worker_a.ingest_paths([dm])
    ae_a, ae_b = tmp_path / "a" / "ae.csv", tmp_path / "b" / "ae.csv"
    for path in (ae_a, ae_b):
        path.parent.mkdir()
        path.write_text(AE)
    original = runner.prepare

    def prepare_while_a_commits(*args):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(runner, "prepare", original)  # once
        assert worker_a.ingest_paths([ae_a])[0].status == "done"
        return original(*args)

    monkeypatch.setattr(runner, "prepare", prepare_while_a_commits)
    outcome = worker_b.ingest_paths([ae_b])[0]
    assert outcome.status == "duplicate"
    with sessions() as session:
        entries = session.execute(
            select(
                QuarantineEntry.kind,
                QuarantineEntry.row_number,
                QuarantineEntry.field,
                QuarantineEntry.reason,
            )
        ).all()
        files = session.scalar(select(func.count()).select_from(SourceFile))
    assert {kind for kind, *_ in entries} == {"query", "rejected"}
    assert len(entries) == len(set(entries)), "each entry once, not once per worker"
    assert files == 2
    assert not list(worker_b.inbox.processing.iterdir())  # filed, not left behind


def test_a_claimed_file_moved_away_before_it_was_read_is_skipped(
    settings, sessions, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = Pipeline(settings, sessions, clock, "worker-a")
    inbox = pipeline.inbox
    inbox.ensure()
    (inbox.root / "a_dm.csv").write_text(DM)
    (inbox.root / "b_dm.csv").write_text(DM.replace("01-002", "01-003"))
    original_claim = Inbox.claim

    def claim_then_a_person_moves_it(self: Inbox, path: Path) -> Path | None:
        claimed = original_claim(self, path)
        if claimed is not None and claimed.name == "a_dm.csv":
            claimed.rename(self.root / "rescued.txt.part")
        return claimed

    monkeypatch.setattr(Inbox, "claim", claim_then_a_person_moves_it)
    outcome = pipeline.ingest_next()
    assert outcome is not None and outcome.path == "b_dm.csv" and outcome.status == "done"
