"""Exact operating characteristics of a toxicity boundary: the binomial recursion.

The numbers a protocol quotes — probability of declaring the treatment too toxic and
the expected number of patients — are computed exactly, never by simulation
(stopping_rules.md §3; the algorithm of ``clinfun::bdrycross.prob``). Stopping is
absorbing: a trial stops at the *first* look whose boundary is crossed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import binom

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
) -> np.ndarray:
    """P(first crossing happens at look k | p) for every rate (rows) and look (columns).

    ``max_acceptable`` is clinfun's r encoding: stop when the cumulative count exceeds
    r_k; r_k >= n_k means the look cannot stop. Works for any boundary shape, including
    one that rises faster than the patients added (where clinfun's own loop fails, §3).
    """
    p = np.atleast_1d(np.asarray(list(rates), dtype=float))
    n_rates, n_looks = p.size, len(looks)
    out = np.zeros((n_rates, n_looks))
    # mass[:, s]: probability of not having stopped yet with s toxicities so far.
    mass = np.ones((n_rates, 1))
    previous = 0
    for k, (n, r) in enumerate(zip(looks, max_acceptable, strict=True)):
        added = int(n) - previous
        previous = int(n)
        if added > 0:
            mass = _add_patients(mass, added, p)
        keep = max(int(r), -1) + 1  # counts 0..r continue
        if keep < mass.shape[1]:
            out[:, k] = mass[:, keep:].sum(axis=1)
            mass = mass[:, :keep]
    return out


def _add_patients(mass: np.ndarray, added: int, p: np.ndarray) -> np.ndarray:
    """Convolve each row's count distribution with Bin(added, p)."""
    width = mass.shape[1]
    grown = np.zeros((mass.shape[0], width + added))
    if added == 1:
        grown[:, :width] = mass * (1.0 - p)[:, None]
        grown[:, 1:] += mass * p[:, None]
        return grown
    increments = binom.pmf(np.arange(added + 1)[None, :], added, p[:, None])
    for j in range(added + 1):
        grown[:, j : j + width] += mass * increments[:, j : j + 1]
    return grown


def summarise(looks: Sequence[int], by_look: np.ndarray, rates: Sequence[float]) -> list[OC]:
    """Turn per-look crossing probabilities into OC values (§3 outputs)."""
    n_looks = np.asarray(looks, dtype=float)
    last = float(n_looks[-1])
    results = []
    for i, rate in enumerate(rates):
        row = by_look[i]
        p_stop = float(row.sum())
        results.append(
            OC(
                p=float(rate),
                p_stop=p_stop,
                expected_n=float((n_looks * row).sum() + last * (1.0 - p_stop)),
                p_early=float(p_stop - row[-1]),
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
