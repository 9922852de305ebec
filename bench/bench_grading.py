"""Throughput of lab baseline derivation and CTCAE grading on synthetic SDTM LB rows.

    .venv/bin/python bench/bench_grading.py            # 1,000,000 rows
    .venv/bin/python bench/bench_grading.py 200000     # fewer

Builds rows across every mapped test code (SI, conventional and convertible units, some
missing ranges and values, partial dates), then times ``derive_baseline`` and
``grade_labs`` separately (best of 3) and prints rows per second. It never asserts:
the target (>= 1,000,000 rows/s on 2 cores) is for a person to read.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from aewatch.ctcae.labs import derive_baseline, grade_labs

# (LBTESTCD, unit, typical value, LLN, ULN)
TESTS = [
    ("ALT", "U/L", 30, 0, 40),
    ("AST", "U/L", 28, 0, 40),
    ("ALP", "U/L", 90, 40, 130),
    ("BILI", "umol/L", 12, 3, 21),
    ("GGT", "U/L", 35, 8, 61),
    ("CREAT", "umol/L", 80, 50, 110),
    ("ALB", "g/L", 40, 35, 50),
    ("INR", "", 1.05, 0.8, 1.2),
    ("PLAT", "GI/L", 220, 150, 400),
    ("NEUT", "10^9/L", 4.0, 2.0, 7.5),
    ("WBC", "GI/L", 6.5, 4.0, 10.0),
    ("LYM", "10^9/L", 1.8, 1.0, 4.0),
    ("HGB", "mmol/L", 8.4, 7.4, 10.0),
    ("HGB", "g/dL", 13.5, 12.0, 16.0),
    ("K", "mmol/L", 4.2, 3.5, 5.1),
    ("SODIUM", "mmol/L", 140, 135, 145),
    ("CA", "mmol/L", 2.35, 2.15, 2.55),
    ("MG", "mmol/L", 0.85, 0.7, 1.0),
    ("GLUC", "mg/dL", 95, 70, 110),
    ("LIPASE", "U/L", 40, 10, 60),
    ("AMYLASE", "U/L", 70, 30, 110),
    ("CK", "U/L", 120, 30, 200),
    ("CHOL", "mmol/L", 5.0, 3.0, 5.2),
    ("TRIG", "mmol/L", 1.5, 0.5, 1.7),
    ("URATE", "umol/L", 300, 150, 420),
    ("FIBRINO", "g/L", 3.0, 2.0, 4.0),
    ("APTT", "s", 30, 25, 35),
    ("LDH", "U/L", 200, 120, 250),
    ("CD4", "10^9/L", 0.8, 0.5, 1.5),
    ("BUN", "mmol/L", 5, 2.5, 7.5),
]


def synthetic_lb(rows: int, seed: int = 20240501) -> tuple[pd.DataFrame, pd.Series]:
    """``rows`` LB records over ~rows/100 subjects, and each subject's reference start."""
    rng = np.random.default_rng(seed)
    n_subjects = max(rows // 100, 1)
    subject = rng.integers(0, n_subjects, rows)
    test = rng.integers(0, len(TESTS), rows)
    codes = np.array([t[0] for t in TESTS], dtype=object)
    units = np.array([t[1] or None for t in TESTS], dtype=object)
    typical = np.array([t[2] for t in TESTS], dtype=float)
    lln = np.array([t[3] for t in TESTS], dtype=float)[test]
    uln = np.array([t[4] for t in TESTS], dtype=float)[test]
    value = typical[test] * rng.lognormal(0.0, 0.5, rows)
    value[rng.random(rows) < 0.01] = np.nan
    lln[rng.random(rows) < 0.02] = np.nan
    uln[rng.random(rows) < 0.02] = np.nan
    day = rng.integers(0, 365, rows)
    dates = (np.datetime64("2024-01-01") + day.astype("timedelta64[D]")).astype(str)
    dtc = pd.Series(dates, dtype=object)
    partial = rng.random(rows) < 0.01
    dtc[partial] = dtc[partial].str.slice(0, 7)
    ids = np.array([f"NCT06261047-{i:05d}" for i in range(n_subjects)], dtype=object)
    lb = pd.DataFrame(
        {
            "USUBJID": ids[subject],
            "LBTESTCD": codes[test],
            "LBSTRESN": value,
            "LBSTRESU": units[test],
            "LBSTNRLO": lln,
            "LBSTNRHI": uln,
            "LBDTC": dtc.to_numpy(),
            "LBBLFL": np.where(day < 10, "Y", None),
        }
    )
    ref = pd.Series(np.full(n_subjects, "2024-02-01", dtype=object), index=ids)
    return lb, ref


def best_of(runs: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def main(rows: int = 1_000_000) -> None:
    lb, ref = synthetic_lb(rows)
    baseline = derive_baseline(lb, ref)
    t_base = best_of(3, lambda: derive_baseline(lb, ref))
    t_grade = best_of(3, lambda: grade_labs(lb, baseline))
    graded = grade_labs(lb, baseline)
    gradable = int(graded["tox_grade"].notna().sum())
    print(f"rows: {rows:,}  subjects: {lb['USUBJID'].nunique():,}  CPUs: {os.cpu_count()}")
    print(f"derive_baseline: {t_base:.3f} s  {rows / t_base:,.0f} rows/s")
    print(f"grade_labs:      {t_grade:.3f} s  {rows / t_grade:,.0f} rows/s")
    print(f"graded rows: {gradable:,}  baselines: {len(baseline):,}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
