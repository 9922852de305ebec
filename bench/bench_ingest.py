"""`aewatch ingest dm.csv ae.csv lb.csv` — 50,000 AE + 100,000 LB rows for 500 patients —
whole process (start-up, read, checks, coding, store, lab grading with baselines, derived
AEs, stopping rules, outbox), against the raw floor measured in the same run: Python's
``csv`` module reading the same three files and ``sqlite3.executemany`` inserting them
into the project's own tables (subjects, adverse_events with their ae_versions,
lab_results) in one WAL transaction, in a fresh interpreter. Each run uses a fresh
database made by `aewatch init`. Goal (a later change): at least 1/3 of the floor's rows/s.

    .venv/bin/python bench/bench_ingest.py [--runs 3] [--profile] [--postgres]

``--profile`` also runs the ingest once under cProfile and prints where the time goes.
``--postgres`` also runs the same ingest into a private PostgreSQL server (Debian's
binaries, as the tests start it), alternately with SQLite: PostgreSQL, the engine of
multi-worker deployments, must not be the slower one.
Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from harness import REPO, aewatch, machine, paired, wall

SUBJECTS = 500
AE_ROWS = 50_000
LB_ROWS = 100_000


def write_exports(folder: Path) -> list[Path]:
    rng = np.random.default_rng(1)
    start = date(2025, 1, 1)
    dm = folder / "dm.csv"
    with dm.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["STUDYID", "USUBJID", "SITEID", "RFXSTDTC"])
        for s in range(SUBJECTS):
            w.writerow(["NCT06261047", f"{s % 9:02d}-{s:04d}", f"{s % 9:02d}", "2025-01-10"])
    ae = folder / "ae.csv"
    terms = ["Fatigue", "Nausea", "Ascites", "Alanine aminotransferase increased", "Anorexia"]
    with ae.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["STUDYID", "USUBJID", "AESPID", "AETERM", "AEDECOD", "AETOXGR", "AESER",
                    "AEREL", "AESTDTC"])
        for i in range(AE_ROWS):
            s = i % SUBJECTS
            term = terms[i % len(terms)]
            w.writerow(["NCT06261047", f"{s % 9:02d}-{s:04d}", f"AE-{i}", term.upper(), term,
                        int(rng.integers(1, 4)), "N", "POSSIBLE",
                        (start + timedelta(days=int(rng.integers(0, 400)))).isoformat()])
    lb = folder / "lb.csv"
    tests = [("ALT", "U/L", 0, 40), ("AST", "U/L", 0, 40), ("PLAT", "10^9/L", 150, 400),
             ("BILI", "umol/L", 3, 21), ("ALB", "g/L", 35, 55)]
    with lb.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["STUDYID", "USUBJID", "LBSEQ", "LBTESTCD", "LBSTRESN", "LBSTRESU",
                    "LBSTNRLO", "LBSTNRHI", "LBDTC"])
        for i in range(LB_ROWS):
            s = i % SUBJECTS
            code, unit, lo, hi = tests[i % len(tests)]
            w.writerow(["NCT06261047", f"{s % 9:02d}-{s:04d}", i, code,
                        round(float(rng.normal((lo + hi) / 2, (hi - lo) / 3)), 2), unit, lo, hi,
                        (start + timedelta(days=i // SUBJECTS)).isoformat()])
    return [dm, ae, lb]


# The raw floor, run as its own process: csv + executemany, one WAL transaction.
FLOOR = r'''
import csv, sqlite3, sys
db, dm, ae, lb = sys.argv[1:5]
now = "2026-02-01 00:00:00.000000"
c = sqlite3.connect(db, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=NORMAL")
c.execute("BEGIN IMMEDIATE")
trial = c.execute("SELECT id FROM trials").fetchone()[0]  # made by aewatch init
with open(dm, newline="") as f:
    rows = list(csv.DictReader(f))
c.executemany("INSERT INTO subjects (trial_pk, subject_id, study_id, site, updated_at)"
              " VALUES (?, ?, ?, ?, ?)",
              [(trial, r["USUBJID"], r["STUDYID"], r["SITEID"], now) for r in rows])
pk = dict(c.execute("SELECT subject_id, id FROM subjects"))
with open(ae, newline="") as f:
    rows = list(csv.DictReader(f))
first = (c.execute("SELECT COALESCE(MAX(id), 0) FROM adverse_events").fetchone()[0]) + 1
c.executemany("INSERT INTO adverse_events (id, trial_pk, subject_pk, ae_key, origin,"
              " current_version, created_at) VALUES (?, ?, ?, ?, 'site', 1, ?)",
              [(first + i, trial, pk[r["USUBJID"]], r["AESPID"], now) for i, r in enumerate(rows)])
c.executemany("INSERT INTO ae_versions (ae_pk, version, is_current, content_hash, recorded_at,"
              " serious, death, life_threatening, hospitalisation, disability,"
              " congenital_anomaly, medically_important, verbatim_term, ctcae_term, grade,"
              " rt_relation, onset_on) VALUES (?, 1, 1, ?, ?, 0, 0, 0, 0, 0, 0, 0, ?, ?, ?, ?, ?)",
              [(first + i, r["AESPID"], now, r["AETERM"], r["AEDECOD"], int(r["AETOXGR"]),
                r["AEREL"].lower(), r["AESTDTC"]) for i, r in enumerate(rows)])
with open(lb, newline="") as f:
    rows = list(csv.DictReader(f))
c.executemany("INSERT INTO lab_results (subject_pk, lab_key, test_code, value, unit,"
              " lower_limit, upper_limit, collected_on, baseline_flag, updated_at)"
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
              [(pk[r["USUBJID"]], r["USUBJID"] + r["LBTESTCD"] + r["LBDTC"] + r["LBSEQ"],
                r["LBTESTCD"], float(r["LBSTRESN"]), r["LBSTRESU"], float(r["LBSTNRLO"]),
                float(r["LBSTNRHI"]), r["LBDTC"], now)
               for r in rows])
c.execute("COMMIT")
'''


def fresh_database(folder: Path, env: dict[str, str], name: str) -> Path:
    path = folder / f"{name}.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    run_env = {**env, "AEWATCH_DATABASE_URL": f"sqlite:///{path}"}
    subprocess.run(aewatch("init"), env=run_env, check=True, capture_output=True)
    return path


def compare_postgres(
    folder: Path, env: dict[str, str], files: list[Path], rows: int, runs: int
) -> None:
    """The same ingest on SQLite and on a private PostgreSQL server, alternately."""
    sys.path.insert(0, str(REPO / "tests"))
    from support.postgres import PostgresCluster, pg_bindir

    bindir = pg_bindir()
    if bindir is None:
        print("# PostgreSQL binaries not found: --postgres skipped")
        return
    cluster = PostgresCluster(bindir)
    cluster.start()
    try:
        import psycopg

        def postgres() -> float:
            admin = cluster.url().replace("postgresql+psycopg", "postgresql")
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute("DROP DATABASE IF EXISTS bench")
                connection.execute("CREATE DATABASE bench")
            run_env = {**env, "AEWATCH_DATABASE_URL": cluster.url("bench")}
            subprocess.run(aewatch("init"), env=run_env, check=True, capture_output=True)
            return wall(aewatch("ingest", *map(str, files)), run_env)

        def sqlite() -> float:
            db = fresh_database(folder, env, "ingest")
            return wall(aewatch("ingest", *map(str, files)),
                        {**env, "AEWATCH_DATABASE_URL": f"sqlite:///{db}"})

        lite, pg = paired(sqlite, postgres, runs)
        shares = sorted(p / s for s, p in zip(lite, pg, strict=True))
        for label, times in (("aewatch ingest, SQLite", lite), ("aewatch ingest, PostgreSQL", pg)):
            rates = sorted(rows / t for t in times)
            print(f"{label:40s} {sorted(times)[len(times) // 2]:7.2f} s"
                  f"  {rates[len(rates) // 2]:9,.0f} rows/s ({rates[0]:,.0f}-{rates[-1]:,.0f})")
        share = shares[len(shares) // 2]
        spread = f"({shares[0]:.2f}-{shares[-1]:.2f})"
        print(f"{'PostgreSQL / SQLite (seconds)':40s} {share:7.2f} {spread}"
              f"  goal <= 1: {'met' if share <= 1 else 'MISSED'}")
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aewatch-bench-ingest-"))
    env = {
        **os.environ,
        "AEWATCH_CONFIG": str(REPO / "config" / "nct06261047.toml"),
        "AEWATCH_WORKER__DATA_DIR": str(folder / "data"),
        "AEWATCH_WORKER__INBOX": str(folder / "inbox"),
        "AEWATCH_ALERTS__OUTBOX_DIR": str(folder / "outbox"),
    }
    try:
        files = write_exports(folder)
        rows = AE_ROWS + LB_ROWS
        print(machine())
        print(f"# {AE_ROWS:,} AE + {LB_ROWS:,} LB rows, {SUBJECTS} patients; each run a fresh"
              " database (aewatch init, not timed)")

        def floor() -> float:
            db = fresh_database(folder, env, "floor")
            return wall([sys.executable, "-c", FLOOR, str(db), *map(str, files)])

        def ingest() -> float:
            db = fresh_database(folder, env, "ingest")
            run_env = {**env, "AEWATCH_DATABASE_URL": f"sqlite:///{db}"}
            return wall(aewatch("ingest", *map(str, files)), run_env)

        floors, tasks = paired(floor, ingest, options.runs)
        shares = sorted(f / t for f, t in zip(floors, tasks, strict=True))
        for label, times in (("raw floor (csv + executemany)", floors),
                             ("aewatch ingest dm.csv ae.csv lb.csv", tasks)):
            rates = sorted(rows / t for t in times)
            print(f"{label:40s} {sorted(times)[len(times) // 2]:7.2f} s"
                  f"  {rates[len(rates) // 2]:9,.0f} rows/s ({rates[0]:,.0f}-{rates[-1]:,.0f})")
        share = shares[len(shares) // 2]
        print(f"{'aewatch / floor (rows/s)':40s} {share:7.2f} ({shares[0]:.2f}-{shares[-1]:.2f})"
              f"  goal >= 0.33: {'met' if share >= 1 / 3 else 'MISSED'}")
        if options.postgres:
            compare_postgres(folder, env, files, rows, options.runs)
        if options.profile:
            db = fresh_database(folder, env, "profile")
            run_env = {**env, "AEWATCH_DATABASE_URL": f"sqlite:///{db}"}
            program = (
                "import cProfile, pstats, sys\n"
                "from aewatch.cli import main\n"
                "sys.argv = ['aewatch', 'ingest', *sys.argv[1:]]\n"
                "cProfile.run('main()', sys.argv[0] + '.prof') if False else None\n"
                "p = cProfile.Profile(); p.enable()\n"
                "try:\n    main()\nexcept SystemExit:\n    pass\n"
                "p.disable(); pstats.Stats(p, stream=sys.stderr).sort_stats('cumtime')"
                ".print_stats(60)\n"
            )
            done = subprocess.run([sys.executable, "-c", program, *map(str, files)],
                                  env=run_env, capture_output=True, text=True)
            print(done.stderr[-20000:])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
