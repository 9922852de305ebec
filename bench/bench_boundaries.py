"""Timings of boundary construction + exact OC (targets: N = 36 < 50 ms, N = 500 < 2 s).

Run: .venv/bin/python bench/bench_boundaries.py
Prints figures only; it asserts nothing (machines differ). Each figure is the median of
several cold runs (the functions do not cache; the rule-level cache is bypassed).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from aewatch.safety.boundaries import bayesian, fixed, obrien_fleming, pocock
from aewatch.safety.operating import operating_characteristics

GRID = [0.05 * i for i in range(1, 9)]  # 0.05 … 0.40


def _median_ms(task: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        task()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    cases: list[tuple[str, Callable[[int], object]]] = [
        ("pocock p0=.15 a=.10", lambda n: pocock(0.15, 0.30, n, 0.10)),
        ("obf    p0=.15 a=.10", lambda n: obrien_fleming(0.15, 0.30, n, 0.10)),
        ("bayes  Beta(.6,2.4) pmax=.2 th=.9", lambda n: bayesian(0.2, 0.9, 0.6, 2.4, n)),
        ("fixed  k=1", lambda n: fixed(1, None, n)),
    ]
    print(f"{'design':36} {'N':>4} {'boundary+OC (8 rates)':>22}")
    for label, build in cases:
        for n in (36, 100, 500):
            repeat = 15 if n <= 100 else 5
            ms = _median_ms(lambda b=build, n=n: operating_characteristics(b(n), GRID), repeat)
            print(f"{label:36} {n:>4} {ms:>19.1f} ms")
    boundary = pocock(0.15, 0.30, 500, 0.10)
    ms = _median_ms(lambda: operating_characteristics(boundary, GRID), 5)
    print(f"{'OC only, pocock N=500, 8 rates':36} {500:>4} {ms:>19.1f} ms")


if __name__ == "__main__":
    main()
