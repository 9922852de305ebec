"""Benchmark: the DSMB report (both parts) for a 36-patient trial (< 5 s) and a synthetic
5,000-patient / 200,000-AE trial (< 60 s), HTML and PDF, on SQLite. Prints figures.

    .venv/bin/python bench/bench_report.py [--large-patients 5000] [--large-aes 200000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_counts import CONFIG, build_synthetic_db


def time_report(url: str, out: Path, month: str, pdf: bool) -> tuple[float, str]:
    from aewatch.clock import ManualClock
    from aewatch.config import load_settings
    from aewatch.db import make_engine, session_factory
    from aewatch.reports.dsmb import build_dsmb_report

    settings = replace(load_settings(CONFIG, env={}), database_url=url)
    engine = make_engine(url)
    clock = ManualClock(datetime(2026, 2, 5, 6, 0, tzinfo=UTC))
    begin = time.perf_counter()
    result = build_dsmb_report(session_factory(engine), settings, month, clock, out, pdf)
    elapsed = time.perf_counter() - begin
    engine.dispose()
    sizes = []
    for part, files in result.parts.items():
        size = f"{part}: HTML {files.html_path.stat().st_size / 1024:.0f} KB"
        if files.pdf_path:
            size += f", PDF {files.pdf_path.stat().st_size / 1024:.0f} KB"
        sizes.append(size)
    return elapsed, "; ".join(sizes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large-patients", type=int, default=5_000)
    parser.add_argument("--large-aes", type=int, default=200_000)
    options = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="aewatch-bench-report-"))
    try:
        cases = (
            ("36 patients", 36, 36 * 12, 5.0),
            (
                f"{options.large_patients:,} patients / {options.large_aes:,} AEs",
                options.large_patients,
                options.large_aes,
                60.0,
            ),
        )
        for label, patients, aes, limit in cases:
            url = f"sqlite:///{folder / f'{patients}.sqlite'}"
            begin = time.perf_counter()
            build_synthetic_db(url, patients, aes)
            print(f"{label}: database built in {time.perf_counter() - begin:.1f} s")
            for pdf in (False, True):
                elapsed, sizes = time_report(url, folder / f"out-{patients}", "2026-01", pdf)
                verdict = "OK" if elapsed < limit else "SLOW"
                kind = "HTML + PDF" if pdf else "HTML only "
                print(f"  report {kind}: {elapsed:6.2f} s  ({sizes})  [{verdict} < {limit:g} s]")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
