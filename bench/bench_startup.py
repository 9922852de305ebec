"""Start-up: what a person waits for when typing an aewatch command, against a bare
``python -c pass`` on the same interpreter, timed alternately in the same run.

Goals: ``aewatch boundary … --n 36`` at most 6 × the bare interpreter; every read-only
command at most 10 ×. (The issue also names clinfun's ``toxbdry`` in a fresh ``Rscript``
as a peer; it is timed too where ``Rscript`` and clinfun are installed.) The database
is the 36-patient demo trial, ingested once before timing. Prints; asserts nothing.

    .venv/bin/python bench/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import REPO, aewatch, machine, paired, ratio_line, wall

BOUNDARY = ["boundary", "--method", "pocock", "--p0", "0.15", "--p1", "0.30", "--n", "36",
            "--alpha", "0.10"]
READ_ONLY = [
    (["--help"], 10.0),
    (BOUNDARY, 6.0),
    (["rules"], 10.0),
    (["config"], 10.0),
    (["status"], 10.0),
    (["alerts", "list"], 10.0),
    (["alerts", "show", "1"], 10.0),
    (["counts", "--by", "term"], 10.0),
    (["quarantine", "list"], 10.0),
    (["ctcae", "Fatigue"], 10.0),
    (["subject", "01-001"], 10.0),
    (["subject", "01-001", "--format", "json"], 10.0),
]
R_TOXBDRY = "suppressMessages(library(clinfun)); print(toxbdry(0.15, 0.30, 1:36, cP0 = 0.10))"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", default="", help="time only commands containing this text")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aewatch-bench-startup-"))
    env = {
        **os.environ,
        "AEWATCH_CONFIG": str(REPO / "config" / "nct06261047.toml"),
        "AEWATCH_WORKER__DATA_DIR": str(folder / "data"),
        "AEWATCH_WORKER__INBOX": str(folder / "inbox"),
        "AEWATCH_ALERTS__OUTBOX_DIR": str(folder / "outbox"),
        "AEWATCH_REPORTS__OUT_DIR": str(folder / "reports"),
        "AEWATCH_DATABASE_URL": f"sqlite:///{folder / 'data' / 'aewatch.sqlite'}",
    }
    try:
        for step in (["init"], ["demo"], ["run", "--once"]):
            subprocess.run(aewatch(*step), env=env, check=True, capture_output=True)
        print(machine())
        print(f"# floor: {sys.executable} -c pass; {options.runs} alternate runs each")
        floor = lambda: wall([sys.executable, "-c", "pass"], env)  # noqa: E731
        for args, goal in READ_ONLY:
            if options.only not in " ".join(args):
                continue
            floors, tasks = paired(floor, lambda a=args: wall(aewatch(*a), env), options.runs)
            print(ratio_line("aewatch " + " ".join(args)[:50], floors, tasks, goal), flush=True)
        rscript = shutil.which("Rscript")
        if rscript and subprocess.run([rscript, "-e", "library(clinfun)"],
                                      capture_output=True).returncode == 0:
            floors, tasks = paired(floor, lambda: wall([rscript, "-e", R_TOXBDRY]), options.runs)
            print(ratio_line("Rscript clinfun::toxbdry (the peer)", floors, tasks, None))
        else:
            print("# Rscript with clinfun is not installed here: the peer is not timed")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
