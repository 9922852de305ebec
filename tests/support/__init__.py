"""Helpers shared by the test folders (importable as `support`, see pytest pythonpath)."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest

from aewatch.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CDISC = SHARED / "data" / "cdisc-pilot"
CONFIG = REPO / "config" / "nct06261047.toml"
DATA = REPO / "tests" / "data"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    """The environment of an `aewatch` command in a test: the trial's config, every path
    inside the test's temp folder."""
    return {
        "AEWATCH_CONFIG": str(CONFIG),
        "AEWATCH_DATABASE_URL": db_url,
        "AEWATCH_WORKER__INBOX": str(tmp_path / "inbox"),
        "AEWATCH_WORKER__DATA_DIR": str(tmp_path / "data"),
        "AEWATCH_ALERTS__OUTBOX_DIR": str(tmp_path / "outbox"),
        "AEWATCH_REPORTS__OUT_DIR": str(tmp_path / "reports"),
    }


def make_settings(tmp_path: Path, db_url: str) -> Settings:
    base = load_settings(CONFIG, env={})
    return replace(
        base,
        worker=replace(
            base.worker,
            inbox=str(tmp_path / "inbox"),
            data_dir=str(tmp_path / "data"),
            poll_seconds=0.05,
            worker_id="test-worker",
        ),
        alerts=replace(base.alerts, outbox_dir=str(tmp_path / "outbox")),
        reports=replace(base.reports, out_dir=str(tmp_path / "reports")),
        database_url=db_url,
    )


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:  # type: ignore[no-untyped-def]
    """Poll a condition on a real server (not a clock sleep in the code under test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


requires_shared = pytest.mark.skipif(
    not CDISC.is_dir(),
    reason="../shared/data/cdisc-pilot is not present in this checkout",
)
