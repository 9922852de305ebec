"""Several workers on one PostgreSQL database: every file is ingested once, AE versions
stay consecutive with one current version, and no alert is queued twice."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aewatch.models import AdverseEvent, AeVersion, Alert, SourceFile
from aewatch.pipeline import Pipeline

DM = "USUBJID,SITEID,RFXSTDTC\n" + "".join(f"01-{i:03d},01,2026-01-05\n" for i in range(8))


def ae_file(version: int) -> str:
    rows = "".join(
        f"01-{i:03d},AE-1,ASCITES,Ascites,{1 + (version + i) % 4},"
        f"{'Y' if (version + i) % 4 == 2 else 'N'},2026-02-0{1 + version % 8},{version}\n"
        for i in range(8)
    )
    return "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESTDTC,EXPORT_NO\n" + rows


def test_two_workers_racing_on_the_same_aes_lose_and_duplicate_nothing(
    db_url: str, settings, sessions, clock, tmp_path: Path
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers share a database only on PostgreSQL")
    first = Pipeline(settings, sessions, clock, "worker-a")
    second = Pipeline(settings, sessions, clock, "worker-b")
    first.ingest_paths([_write(tmp_path / "dm.csv", DM)])
    inbox = first.inbox
    inbox.ensure()
    for version in range(12):
        _write(inbox.root / f"ae_{version:02d}.csv", ae_file(version))
    outcomes: list[object] = []

    def drain(pipeline: Pipeline) -> None:
        while (outcome := pipeline.ingest_next()) is not None:
            outcomes.append(outcome)

    threads = [threading.Thread(target=drain, args=(p,)) for p in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(o.status for o in outcomes) == ["done"] * 12  # type: ignore[attr-defined]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SourceFile)) == 13
        for ae in session.scalars(select(AdverseEvent)).all():
            versions = session.scalars(
                select(AeVersion).where(AeVersion.ae_pk == ae.id).order_by(AeVersion.version)
            ).all()
            assert [v.version for v in versions] == list(range(1, len(versions) + 1))
            assert sum(v.is_current for v in versions) == 1
            assert ae.current_version == len(versions)
        keys = session.scalars(select(Alert.dedup_key)).all()
    assert len(keys) == len(set(keys))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
