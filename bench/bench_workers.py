"""Worker scaling on PostgreSQL: one trial's files drained by 1 worker, then by 2.

What a cooperative group waits for: the time from dropping a batch of site exports
into the shared inbox until every file is filed, with real `aewatch run` processes
against a throwaway PostgreSQL server. The same files are drained by one worker and
then by two (each on a fresh database, same run), and the ratio is printed.

Run: .venv/bin/python bench/bench_workers.py [FILES_PER_SUBJECT]   (needs Debian's
postgresql; prints figures, asserts nothing)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.postgres import PostgresCluster, pg_bindir  # noqa: E402

AEWATCH = str(Path(sys.executable).with_name("aewatch"))
SUBJECTS = 36
VISITS = int(sys.argv[1]) if len(sys.argv) > 1 else 6


def write_exports(inbox: Path) -> int:
    """A realistic trickle: per subject and visit, one LB panel and one AE log export."""
    tests = [
        ("ALT", "U/L", 7, 40, 30),
        ("AST", "U/L", 8, 40, 32),
        ("BILI", "umol/L", 3, 21, 12),
        ("ALB", "g/L", 35, 50, 40),
        ("PLAT", "10^9/L", 150, 400, 180),
        ("CREAT", "umol/L", 45, 90, 70),
        ("HGB", "g/L", 120, 160, 130),
    ]
    count = 0
    for visit in range(VISITS):
        day = date(2026, 2, 1) + timedelta(days=14 * visit)
        for s in range(SUBJECTS):
            subject = f"{s % 4 + 1:02d}-{s + 1:03d}"
            rows = ["USUBJID,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC"]
            for code, unit, lo, hi, value in tests:
                shift = 1 + ((s * 7 + visit * 3) % 11) / 10
                rows.append(f"{subject},{code},{value * shift:.1f},{unit},{lo},{hi},{day}")
            (inbox / f"lb_{subject}_v{visit:02d}.csv").write_text("\n".join(rows) + "\n")
            ae = ["USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AEREL,AESTDTC"]
            for k in range(visit + 1):
                grade = 1 + (s + k) % 3
                serious = "Y" if (s + k) % 17 == 0 else "N"
                ae.append(
                    f"{subject},AE-{k},FATIGUE,Fatigue,{grade},{serious},POSSIBLE,"
                    f"{date(2026, 2, 1) + timedelta(days=14 * k)}"
                )
            (inbox / f"ae_{subject}_v{visit:02d}.csv").write_text("\n".join(ae) + "\n")
            count += 2
    return count


def dm_export(folder: Path) -> Path:
    path = folder / "dm.csv"
    rows = ["USUBJID,SITEID,RFSTDTC,RFXSTDTC"]
    rows += [
        f"{s % 4 + 1:02d}-{s + 1:03d},{s % 4 + 1:02d},2026-01-10,2026-01-20"
        for s in range(SUBJECTS)
    ]
    path.write_text("\n".join(rows) + "\n")
    ex = folder / "ex.csv"
    lines = ["USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC"]
    lines += [
        f"{s % 4 + 1:02d}-{s + 1:03d},RT1,RADIOTHERAPY,8,Gy,5,LIVER,2026-01-20,2026-01-27"
        for s in range(SUBJECTS)
    ]
    ex.write_text("\n".join(lines) + "\n")
    return path


def drain(cluster: PostgresCluster, workers: int, root: Path) -> tuple[int, float]:
    """Fresh database and inbox; start `workers` daemons; time until every file is filed."""
    from sqlalchemy import create_engine, text

    name = f"bench_{workers}w_{int(time.time())}"
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    folder = root / name
    inbox = folder / "inbox"
    inbox.mkdir(parents=True)
    env = os.environ | {
        "AEWATCH_DATABASE_URL": cluster.url(name),
        "AEWATCH_WORKER__INBOX": str(inbox),
        "AEWATCH_WORKER__DATA_DIR": str(folder / "data"),
        "AEWATCH_WORKER__POLL_SECONDS": "0.05",
        "AEWATCH_ALERTS__OUTBOX_DIR": str(folder / "outbox"),
        "AEWATCH_REPORTS__OUT_DIR": str(folder / "reports"),
        "AEWATCH_REPORTS__PDF": "false",
    }
    run = {"env": env, "cwd": REPO, "check": True, "capture_output": True}
    subprocess.run([AEWATCH, "init"], **run)
    dm = dm_export(folder)
    subprocess.run([AEWATCH, "ingest", str(dm), str(folder / "ex.csv")], **run)
    subprocess.run([AEWATCH, "run", "--once"], **run)  # the month's report, once, untimed
    files = write_exports(inbox)
    started = time.perf_counter()
    daemons = [
        subprocess.Popen(
            [AEWATCH, "run"],
            env=env | {"AEWATCH_WORKER__WORKER_ID": f"w{i}"},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(workers)
    ]
    done = inbox / "done"
    while sum(1 for _ in done.glob("*")) < files if done.exists() else True:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    for daemon in daemons:
        daemon.send_signal(signal.SIGTERM)
    for daemon in daemons:
        daemon.wait(timeout=60)
    failed = list((inbox / "failed").glob("*"))
    if failed:
        raise SystemExit(f"{len(failed)} files failed: {[p.name for p in failed[:3]]}")
    return files, elapsed


def main() -> None:
    bindir = pg_bindir()
    if bindir is None:
        raise SystemExit("needs Debian's postgresql (make system-deps)")
    cluster = PostgresCluster(bindir)
    cluster.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = {}
            for workers in (1, 2):
                files, seconds = drain(cluster, workers, Path(tmp))
                results[workers] = files / seconds
                print(
                    f"{workers} worker(s): {files} files in {seconds:.1f} s = "
                    f"{results[workers]:.1f} files/s"
                )
            print(f"2 workers / 1 worker: {results[2] / results[1]:.2f}x (cores: {os.cpu_count()})")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
