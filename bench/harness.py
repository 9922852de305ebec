"""Shared by the benchmarks: whole-process timings, interleaved with their floor.

The machine is shared, so an absolute figure says more about the neighbours than about
aewatch. Every benchmark therefore runs the floor (the least any tool could do for the
same result: a bare interpreter, the sqlite3 shell, a plain CSV copy …) and the command
in the same run, alternately, several times, and reports the ratio of each pair — its
median and its range — beside the seconds.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
AEWATCH = str(BIN / "aewatch") if (BIN / "aewatch").exists() else None


def ensure_bytecode() -> None:
    """Byte-compile aewatch's sources as an install does. The editable install runs them
    from src/, and where PYTHONDONTWRITEBYTECODE is set no .pyc is ever written: every
    timed command would compile aewatch afresh (0.2-0.3 s), which no user's installed copy
    does. The third-party packages were compiled when pip installed them."""
    import compileall

    compileall.compile_dir(str(REPO / "src" / "aewatch"), quiet=1)


ensure_bytecode()


def aewatch(*args: str) -> list[str]:
    """The console script a user runs (python -m aewatch.cli where it is not installed)."""
    return [AEWATCH, *args] if AEWATCH else [sys.executable, "-m", "aewatch.cli", *args]


def wall(command: Sequence[str], env: Mapping[str, str] | None = None, check: bool = True) -> float:
    """Seconds from fork to exit of one process (output discarded)."""
    begin = time.perf_counter()
    done = subprocess.run(list(command), env=dict(env) if env else None, capture_output=True)
    seconds = time.perf_counter() - begin
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()[-2000:]}")
    return seconds


def paired(
    floor: Callable[[], float], task: Callable[[], float], runs: int
) -> tuple[list[float], list[float]]:
    """Run floor and task alternately ``runs`` times (task first on odd runs)."""
    floors, tasks = [], []
    for i in range(runs):
        if i % 2:
            tasks.append(task())
            floors.append(floor())
        else:
            floors.append(floor())
            tasks.append(task())
    return floors, tasks


def ratio_line(label: str, floors: list[float], tasks: list[float], goal: float | None) -> str:
    """``label  0.123 s (0.11–0.15)  floor 0.021 s  ratio 5.8× (5.1–6.9)  goal ≤ 6×: met``."""
    ratios = sorted(t / f for t, f in zip(tasks, floors, strict=True))
    median = statistics.median(ratios)
    verdict = ""
    if goal is not None:
        verdict = f"  goal <= {goal:g}x: {'met' if median <= goal else 'MISSED'}"
    return (
        f"{label:58s} {statistics.median(tasks):7.3f} s ({min(tasks):.3f}-{max(tasks):.3f})"
        f"  floor {statistics.median(floors):6.3f} s  ratio {median:5.1f}x"
        f" ({ratios[0]:.1f}-{ratios[-1]:.1f}){verdict}"
    )


def machine() -> str:
    """Date, CPUs, load and Python: printed at the top of every benchmark."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {platform.machine()} {os.cpu_count()} CPUs"
        f"  load {load}  Python {platform.python_version()}  {platform.node()}"
    )
