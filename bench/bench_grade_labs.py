"""`aewatch grade-labs` on 1,000,000 SDTM LB rows, whole process, against the floor of
reading and writing the same CSV with Arrow and doing nothing else, timed alternately.

Goal: at least 300,000 rows/s for the whole command (start-up, read, baselines,
grading, write, summary). The rows are synthetic but shaped like the CDISC pilot LB
export (its 23 variables, text as sites write it, a DM with RFXSTDTC). Prints; asserts
nothing.

    .venv/bin/python bench/bench_grade_labs.py [--rows 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from harness import aewatch, machine, paired, ratio_line, wall

from aewatch.ctcae.csv_io import write_csv

# (LBTESTCD, LBTEST, LBCAT, SI unit, typical, LLN, ULN)
TESTS = [
    ("ALT", "Alanine Aminotransferase", "CHEMISTRY", "U/L", 30, 0, 40),
    ("AST", "Aspartate Aminotransferase", "CHEMISTRY", "U/L", 28, 0, 40),
    ("ALP", "Alkaline Phosphatase", "CHEMISTRY", "U/L", 90, 40, 130),
    ("BILI", "Bilirubin", "CHEMISTRY", "umol/L", 12, 3, 21),
    ("ALB", "Albumin", "CHEMISTRY", "g/L", 40, 35, 50),
    ("CREAT", "Creatinine", "CHEMISTRY", "umol/L", 80, 50, 110),
    ("K", "Potassium", "CHEMISTRY", "mmol/L", 4.2, 3.5, 5.1),
    ("SODIUM", "Sodium", "CHEMISTRY", "mmol/L", 140, 135, 145),
    ("GLUC", "Glucose", "CHEMISTRY", "mmol/L", 5.5, 3.9, 6.1),
    ("PLAT", "Platelet", "HEMATOLOGY", "GI/L", 220, 150, 400),
    ("WBC", "Leukocytes", "HEMATOLOGY", "GI/L", 6.5, 4.0, 10.0),
    ("NEUT", "Neutrophils", "HEMATOLOGY", "GI/L", 4.0, 2.0, 7.5),
    ("LYM", "Lymphocytes", "HEMATOLOGY", "GI/L", 1.8, 1.0, 4.0),
    ("HGB", "Hemoglobin", "HEMATOLOGY", "mmol/L", 8.4, 7.4, 10.0),
]
COLUMNS = ["STUDYID", "DOMAIN", "USUBJID", "LBSEQ", "LBTESTCD", "LBTEST", "LBCAT", "LBORRES",
           "LBORRESU", "LBORNRLO", "LBORNRHI", "LBSTRESC", "LBSTRESN", "LBSTRESU", "LBSTNRLO",
           "LBSTNRHI", "LBNRIND", "LBBLFL", "VISITNUM", "VISIT", "VISITDY", "LBDTC", "LBDY"]


def write_export(folder: Path, rows: int, seed: int = 6261047) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    subjects = max(rows // 200, 1)
    subject = rng.integers(0, subjects, rows)
    test = rng.integers(0, len(TESTS), rows)
    pick = lambda k: np.array([t[k] for t in TESTS], dtype=object)[test]  # noqa: E731
    typical = np.array([t[4] for t in TESTS], dtype=float)[test]
    value = np.round(typical * rng.lognormal(0.0, 0.45, rows), 2)
    text = value.astype(str).astype(object)
    text[rng.random(rows) < 0.01] = None  # not done
    visit = rng.integers(0, 12, rows)
    day = visit * 14 - 7 + rng.integers(0, 3, rows)
    when = (np.datetime64("2026-01-10") + day.astype("timedelta64[D]")).astype(str)
    ids = np.array([f"01-{700 + i // 1000:03d}-{i % 1000:04d}" for i in range(subjects)],
                   dtype=object)
    lln = pick(5).astype(str)
    uln = pick(6).astype(str)
    frame = pd.DataFrame({
        "STUDYID": "NCT06261047", "DOMAIN": "LB", "USUBJID": ids[subject],
        "LBSEQ": np.arange(1, rows + 1).astype(str), "LBTESTCD": pick(0), "LBTEST": pick(1),
        "LBCAT": pick(2), "LBORRES": text, "LBORRESU": pick(3), "LBORNRLO": lln,
        "LBORNRHI": uln, "LBSTRESC": text, "LBSTRESN": text, "LBSTRESU": pick(3),
        "LBSTNRLO": lln, "LBSTNRHI": uln,
        "LBNRIND": np.where(value > pick(6).astype(float), "HIGH", "NORMAL"),
        "LBBLFL": np.where(visit == 0, "Y", None), "VISITNUM": (visit + 1).astype(str),
        "VISIT": np.char.add("WEEK ", (visit * 2).astype(str)).astype(object),
        "VISITDY": (visit * 14).astype(str), "LBDTC": when, "LBDY": day.astype(str),
    })[COLUMNS]
    for column in frame.columns:
        frame[column] = frame[column].astype("str").where(frame[column].notna(), None)
    lb, dm = folder / "lb.csv", folder / "dm.csv"
    write_csv(frame, lb)
    pd.DataFrame({"USUBJID": ids, "RFXSTDTC": "2026-01-12"}).to_csv(dm, index=False)
    return lb, dm


FLOOR = (
    "import sys, pyarrow as pa, pyarrow.csv as c\n"
    "names = c.open_csv(sys.argv[1]).schema.names\n"
    "t = c.read_csv(sys.argv[1], convert_options=c.ConvertOptions("
    "column_types={n: pa.string() for n in names}))\n"
    "c.write_csv(t, sys.argv[2])\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aewatch-bench-grade-"))
    try:
        lb, dm = write_export(folder, options.rows)
        print(machine())
        print(f"# {options.rows:,} LB rows ({lb.stat().st_size / 1e6:.0f} MB);"
              " floor: Arrow read + write of the same CSV, no grading")
        out = folder / "graded.csv"
        floors, tasks = paired(
            lambda: wall([sys.executable, "-c", FLOOR, str(lb), str(folder / "copy.csv")]),
            lambda: wall(aewatch("grade-labs", str(lb), "--dm", str(dm), "--out", str(out))),
            options.runs,
        )
        print(ratio_line("aewatch grade-labs lb.csv --dm dm.csv --out graded.csv",
                         floors, tasks, None))
        rates = sorted(options.rows / t for t in tasks)
        goal = "met" if rates[len(rates) // 2] >= 300_000 else "MISSED"
        print(f"{'':58s} {rates[len(rates) // 2]:,.0f} rows/s ({rates[0]:,.0f}-{rates[-1]:,.0f})"
              f"  goal >= 300,000 rows/s: {goal}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
