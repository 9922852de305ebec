"""Ingest throughput: 100,000 AE + LB rows from CSV into SQLite through the real pipeline.

Target (issue 2): ≥ 20,000 rows/s on a 2-core machine. Prints figures; asserts nothing.
Run: .venv/bin/python bench/bench_ingest.py
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from aewatch.clock import SystemClock
from aewatch.db import make_engine, session_factory
from aewatch.migrate import upgrade
from aewatch.pipeline import Pipeline
from support import make_settings

SUBJECTS = 500
AE_ROWS = 20_000
LB_ROWS = 80_000


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


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        dm, ae, lb = write_exports(folder)
        url = f"sqlite:///{folder / 'bench.sqlite'}"
        engine = make_engine(url)
        upgrade(engine)
        pipeline = Pipeline(make_settings(folder, url), session_factory(engine), SystemClock(),
                            "bench")
        pipeline.ingest_paths([dm])
        rows = 0
        started = time.perf_counter()
        for path in (ae, lb):
            t0 = time.perf_counter()
            outcome = pipeline.ingest_paths([path])[0]
            seconds = time.perf_counter() - t0
            rows += outcome.rows
            print(f"{path.name}: {outcome.rows:,} rows in {seconds:.2f} s "
                  f"= {outcome.rows / seconds:,.0f} rows/s (accepted {outcome.accepted:,})")
        total = time.perf_counter() - started
        print(f"total: {rows:,} AE+LB rows in {total:.2f} s = {rows / total:,.0f} rows/s "
              "(target >= 20,000 rows/s)")


if __name__ == "__main__":
    main()
