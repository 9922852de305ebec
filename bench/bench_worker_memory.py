"""The daemon's memory over many cycles: RSS after start-up (the floor) against RSS after
every block of cycles, idle (empty inbox) and busy (a site file with an SAE every
``--busy-every`` cycles, ingested, graded, alerted and sent through the file transport).

Goal: flat (< 200 MB and no growth) over 10,000 cycles. Prints the RSS curve and the
ratio last / after start-up; asserts nothing.

``--large N`` then drops the ingest benchmark's exports (50,000 AE + 100,000 LB rows,
new AE keys and changed lab values each time) N times and prints the RSS after each:
what a large file leaves in the daemon once the cycle has given memory back.

    .venv/bin/python bench/bench_worker_memory.py [--cycles 10000] [--busy-every 10] [--large 3]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from harness import REPO, machine

sys.path.insert(0, str(REPO / "tests"))

from aewatch.clock import SystemClock
from aewatch.db import make_engine, session_factory
from aewatch.migrate import upgrade
from aewatch.worker import Worker
from support import make_settings

DM = "STUDYID,USUBJID,SITEID,RFXSTDTC\nNCT06261047,01-001,01,2026-01-10\n"
AE = (
    "STUDYID,USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEREL,AESTDTC\n"
    "NCT06261047,01-001,AE-{n},ASCITES,Ascites,3,Y,Y,POSSIBLE,2026-02-{day:02d}\n"
)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--busy-every", type=int, default=10)
    parser.add_argument("--sample-every", type=int, default=500)
    parser.add_argument("--large", type=int, default=0)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aewatch-bench-memory-"))
    try:
        url = f"sqlite:///{folder / 'memory.sqlite'}"
        settings = make_settings(folder, url)
        settings = replace(settings, worker=replace(settings.worker, poll_seconds=0.0))
        engine = make_engine(url)
        upgrade(engine)
        worker = Worker(settings, session_factory(engine), SystemClock(), worker_id="memory")
        inbox = settings.inbox
        inbox.mkdir(parents=True, exist_ok=True)
        (inbox / "dm.csv").write_text(DM)
        worker.cycle()
        gc.collect()
        start = rss_mb()
        print(machine())
        print(f"# {options.cycles:,} cycles, a file with one SAE every {options.busy_every}"
              f" cycles; RSS after start-up and the first file: {start:.1f} MB (the floor)")
        print(f"{'cycle':>7} {'files':>6} {'RSS MB':>8} {'vs floor':>9} {'s/cycle':>8}")
        files, begin, samples = 0, time.perf_counter(), []
        for n in range(1, options.cycles + 1):
            if n % options.busy_every == 0:
                files += 1
                staging = folder / f"ae_{n}.csv.part"
                staging.write_text(AE.format(n=n, day=1 + n % 27))
                os.rename(staging, inbox / f"ae_{n}.csv")
            worker.cycle()
            if n % options.sample_every == 0:
                now = rss_mb()
                samples.append(now)
                print(f"{n:>7,} {files:>6,} {now:>8.1f} {now / start:>8.2f}x"
                      f" {(time.perf_counter() - begin) / n:>8.3f}", flush=True)
        half = samples[len(samples) // 2 :] if samples else [start]
        growth = (max(half) - min(half)) if half else 0.0
        peak = max(samples, default=start)
        print(f"RSS: floor {start:.1f} MB, last {samples[-1] if samples else start:.1f} MB,"
              f" max {peak:.1f} MB; second half moved {growth:.1f} MB"
              f"  goal < 200 MB and flat: {'met' if peak < 200 else 'MISSED'}")
        if options.large:
            large_files(worker, inbox, folder, options.large, start)
        engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def large_files(worker: Worker, inbox: Path, folder: Path, rounds: int, start: float) -> None:
    """The ingest benchmark's exports, ``rounds`` times, each cycle run until the inbox
    is empty; the RSS after each round."""
    from bench_ingest import write_exports

    exports = folder / "large"
    exports.mkdir()
    files = write_exports(exports)
    print(f"# large exports: {', '.join(p.name for p in files)}, {rounds} rounds")
    for n in range(1, rounds + 1):
        begin = time.perf_counter()
        for path in files:
            text = path.read_text()
            if path.name == "ae.csv":
                text = text.replace(",AE-", f",AE{n}-")  # new AEs each round
            elif path.name == "lb.csv":
                text = text.replace(",0,40,", f",0,{40 + n},")  # a changed ULN: updated
            staging = folder / f"{n}_{path.name}.part"
            staging.write_text(text)
            os.rename(staging, inbox / f"{n}_{path.name}")
        rows = 0
        while True:
            result = worker.cycle()
            if not result.files:
                break
            rows += sum(f.rows for f in result.files)
        now = rss_mb()
        print(f"large round {n}: {rows:,} rows in {time.perf_counter() - begin:5.1f} s,"
              f" RSS {now:.1f} MB ({now / start:.2f}x the floor)", flush=True)


if __name__ == "__main__":
    main()
