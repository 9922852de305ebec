"""Worker scaling on PostgreSQL: one trial's files drained by 1 worker, then by 2.

What a cooperative group waits for: the time from dropping a batch of site exports
into the shared inbox until every file is filed, with real `aewatch run` processes
against a throwaway PostgreSQL server. The same files are drained by one worker and
then by two (each on a fresh database, same run), and the ratio is printed.

Two layouts of the same data: ``site`` (each site sends one LB and one AE export of its
patients per visit: what sites do) and ``subject`` (one LB and one AE file per patient
per visit, a patient's two files side by side: the worst case, since a patient's files
are applied one at a time).

Run: .venv/bin/python bench/bench_workers.py [VISITS] [site|subject ...]   (needs
Debian's postgresql; prints figures, asserts nothing)
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
SITES = 4
TESTS = [
    ("ALT", "U/L", 7, 40, 30),
    ("AST", "U/L", 8, 40, 32),
    ("BILI", "umol/L", 3, 21, 12),
    ("ALB", "g/L", 35, 50, 40),
    ("PLAT", "10^9/L", 150, 400, 180),
    ("CREAT", "umol/L", 45, 90, 70),
    ("HGB", "g/L", 120, 160, 130),
]


def subject_id(s: int) -> str:
    return f"{s % SITES + 1:02d}-{s + 1:03d}"


def lab_rows(s: int, visit: int) -> list[str]:
    day = date(2026, 2, 1) + timedelta(days=14 * visit)
    rows = []
    for code, unit, lo, hi, value in TESTS:
        shift = 1 + ((s * 7 + visit * 3) % 11) / 10
        rows.append(f"{subject_id(s)},{code},{value * shift:.1f},{unit},{lo},{hi},{day}")
    return rows


def ae_rows(s: int, visit: int) -> list[str]:
    """The AE log as sites re-send it: every AE so far, each visit."""
    rows = []
    for k in range(visit + 1):
        grade = 1 + (s + k) % 3
        serious = "Y" if (s + k) % 17 == 0 else "N"
        rows.append(
            f"{subject_id(s)},AE-{k},FATIGUE,Fatigue,{grade},{serious},POSSIBLE,"
            f"{date(2026, 2, 1) + timedelta(days=14 * k)}"
        )
    return rows


LB_HEAD = "USUBJID,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC"
AE_HEAD = "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AEREL,AESTDTC"


def write_exports(inbox: Path, layout: str) -> int:
    """A realistic trickle of site exports, oldest first.

    ``site``: each visit, each site sends one LB and one AE export of its own patients
    (the sites take turns, so neighbouring files hold different patients).
    ``subject``: each visit, one LB panel and one AE log per patient, the two files of a
    patient side by side (the worst case for workers: neighbours share a patient).
    """
    files: list[tuple[str, list[str]]] = []
    for visit in range(VISITS):
        if layout == "site":
            for domain, head, rows_of in (("lb", LB_HEAD, lab_rows), ("ae", AE_HEAD, ae_rows)):
                for site in range(SITES):
                    rows = [
                        row
                        for s in range(SUBJECTS)
                        if s % SITES == site
                        for row in rows_of(s, visit)
                    ]
                    files.append((f"{domain}_site{site + 1:02d}_v{visit:02d}.csv", [head, *rows]))
        else:
            for s in range(SUBJECTS):
                files.append(
                    (f"lb_{subject_id(s)}_v{visit:02d}.csv", [LB_HEAD, *lab_rows(s, visit)])
                )
                files.append(
                    (f"ae_{subject_id(s)}_v{visit:02d}.csv", [AE_HEAD, *ae_rows(s, visit)])
                )
    settled = time.time() - 3600
    for n, (name, lines) in enumerate(files):
        path = inbox / name
        path.write_text("\n".join(lines) + "\n")
        os.utime(path, (settled + n, settled + n))  # the inbox claims oldest first
    return len(files)


def dm_export(folder: Path) -> Path:
    path = folder / "dm.csv"
    rows = ["USUBJID,SITEID,RFSTDTC,RFXSTDTC"]
    rows += [f"{subject_id(s)},{s % SITES + 1:02d},2026-01-10,2026-01-20" for s in range(SUBJECTS)]
    path.write_text("\n".join(rows) + "\n")
    ex = folder / "ex.csv"
    lines = ["USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC"]
    lines += [
        f"{subject_id(s)},RT1,RADIOTHERAPY,8,Gy,5,LIVER,2026-01-20,2026-01-27"
        for s in range(SUBJECTS)
    ]
    ex.write_text("\n".join(lines) + "\n")
    return path


def drain(cluster: PostgresCluster, workers: int, root: Path, layout: str) -> tuple[int, float]:
    """Fresh database and inbox; start `workers` daemons; time until every file is filed."""
    from sqlalchemy import create_engine, text

    name = f"bench_{layout}_{workers}w_{int(time.time())}"
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
    files = write_exports(inbox, layout)
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
    layouts = sys.argv[2:] or ["site", "subject"]
    cluster = PostgresCluster(bindir)
    cluster.start()
    print(f"{SUBJECTS} patients, {VISITS} visits, cores: {os.cpu_count()}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for layout in layouts:
                # Both orders, so a machine that speeds up or slows down during the run
                # shows as two different ratios instead of one flattering one.
                ratios = []
                for order in ((1, 2), (2, 1)):
                    seconds = {}
                    for workers in order:
                        files, seconds[workers] = drain(cluster, workers, Path(tmp), layout)
                        print(
                            f"  {layout:7} {workers} worker(s): {files} files in "
                            f"{seconds[workers]:.1f} s = {files / seconds[workers]:.2f} files/s"
                        )
                    ratios.append(seconds[1] / seconds[2])
                print(
                    f"{layout} exports: 2 workers drain them "
                    + " and ".join(f"{r:.2f}x" for r in ratios)
                    + " as fast as 1 (two paired runs)"
                )
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
