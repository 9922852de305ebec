"""Exact operating characteristics of a toxicity boundary: the binomial recursion.

The numbers a protocol quotes — probability of declaring the treatment too toxic and
the expected number of patients — are computed exactly, never by simulation
(stopping_rules.md §3; the algorithm of ``clinfun::bdrycross.prob``). Stopping is
absorbing: a trial stops at the *first* look whose boundary is crossed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aewatch.safety.exact import binomial_pmf

if TYPE_CHECKING:
    from aewatch.safety.boundaries import Boundary


@dataclass(frozen=True)
class OC:
    """Operating characteristics at one true toxicity rate ``p``.

    ``p_stop`` is the probability that the boundary is crossed at any look, the last one
    included (clinfun's ``pcross``: "declared too toxic"). ``p_early`` excludes the last
    look (clinfun's ``pstop``: stopped before the planned maximum). ``expected_n`` counts
    n_k patients for a trial stopped at look k and N for one never stopped (clinfun's ESS).
    """

    p: float
    p_stop: float
    expected_n: float
    p_early: float
    p_stop_by_look: tuple[float, ...]


def crossing_by_look(
    looks: Sequence[int], max_acceptable: Sequence[int], rates: Iterable[float]
) -> list[list[float]]:
    """P(first crossing happens at look k | p) for every rate (rows) and look (columns).

    ``max_acceptable`` is clinfun's r encoding: stop when the cumulative count exceeds
    r_k; r_k >= n_k means the look cannot stop. Works for any boundary shape, including
    one that rises faster than the patients added (where clinfun's own loop fails, §3).
    Plain Python floats (a boundary has at most a few hundred looks); sums are
    correctly rounded (``math.fsum``).
    """
    return [_crossing_at(looks, max_acceptable, float(p)) for p in rates]


def _crossing_at(looks: Sequence[int], max_acceptable: Sequence[int], p: float) -> list[float]:
    out = [0.0] * len(looks)
    # mass[s]: probability of not having stopped yet with s toxicities so far.
    mass = [1.0]
    previous = 0
    for k, (n, r) in enumerate(zip(looks, max_acceptable, strict=True)):
        added = int(n) - previous
        previous = int(n)
        if added > 0:
            mass = _add_patients(mass, added, p)
        keep = max(int(r), -1) + 1  # counts 0..r continue
        if keep < len(mass):
            out[k] = math.fsum(mass[keep:])
            del mass[keep:]
    return out


def _add_patients(mass: list[float], added: int, p: float) -> list[float]:
    """Convolve the count distribution with Bin(added, p)."""
    if added == 1:
        q = 1.0 - p
        grown = [m * q for m in mass]
        grown.append(0.0)
        for s, m in enumerate(mass, start=1):
            grown[s] += m * p
        return grown
    increments = binomial_pmf(added, p)
    grown = [0.0] * (len(mass) + added)
    for j, weight in enumerate(increments):
        for s, m in enumerate(mass, start=j):
            grown[s] += m * weight
    return grown


def summarise(
    looks: Sequence[int], by_look: Sequence[Sequence[float]], rates: Sequence[float]
) -> list[OC]:
    """Turn per-look crossing probabilities into OC values (§3 outputs)."""
    last = float(looks[-1])
    results = []
    for rate, row in zip(rates, by_look, strict=True):
        p_stop = math.fsum(row)
        stopped_n = math.fsum(float(n) * v for n, v in zip(looks, row, strict=True))
        results.append(
            OC(
                p=float(rate),
                p_stop=p_stop,
                expected_n=stopped_n + last * (1.0 - p_stop),
                p_early=p_stop - row[-1],
                p_stop_by_look=tuple(float(v) for v in row),
            )
        )
    return results


def operating_characteristics(boundary: Boundary, rates: Iterable[float]) -> list[OC]:
    """Exact OC of ``boundary`` at each true rate, in the order given."""
    rates = [float(r) for r in rates]
    for rate in rates:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"toxicity rate must be between 0 and 1, got {rate!r}")
    by_look = crossing_by_look(boundary.looks, boundary.max_acceptable, rates)
    return summarise(boundary.looks, by_look, rates)
