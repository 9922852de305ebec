"""Toxicity stopping boundaries for a single-arm trial: integer tables, computed once.

A boundary is stored as the *minimum toxicity count that stops* at each look
(``stop_at`` = b_k: stop if X(n_k) >= b_k; None where the look cannot stop). clinfun
prints the *maximum acceptable* count r_k = b_k - 1 instead; ``Boundary.max_acceptable``
converts (stopping_rules.md §1, pitfall 1). Methods:

* ``pocock`` / ``obrien_fleming`` — Ivanova, Qaqish & Schell (2005) repeated significance
  testing, ported line by line from ``clinfun::toxbdry`` 1.1.5 (§2), including its
  bracketing search, so published clinfun vectors are reproduced exactly.
* ``bayesian`` — Thall, Simon & Estey (1995) style posterior rule, exact Beta tail (§4).
* ``fixed`` — "stop if >= k toxicities among the first m" (§5).

The integer table is the rule (pitfall 6/7): compute it at configuration time and
compare integers at run time. The probabilities come from ``exact`` (plain Python,
correctly rounded), so building a boundary imports neither NumPy nor SciPy.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
import numbers
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from aewatch.safety.exact import BinomialCdf, beta_sf, ndtr, ndtri
from aewatch.safety.methods import METHODS, canonical_method  # noqa: F401 (re-exported)
from aewatch.safety.operating import crossing_by_look

_EPS = sys.float_info.epsilon


@dataclass(frozen=True)
class Boundary:
    """An integer stopping table: stop at look ``looks[k]`` if toxicities >= ``stop_at[k]``."""

    method: str
    n_max: int
    looks: tuple[int, ...]
    stop_at: tuple[int | None, ...]
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not self.looks:
            raise ValueError("a boundary needs at least one look")
        if len(self.looks) != len(self.stop_at):
            raise ValueError("looks and stop_at must have the same length")
        if any(b <= a for a, b in itertools.pairwise(self.looks)):
            raise ValueError(f"looks must be strictly increasing, got {self.looks}")
        if self.looks[0] < 1 or self.looks[-1] != self.n_max:
            raise ValueError(f"looks must run from >= 1 to n_max={self.n_max}, got {self.looks}")
        for n, b in zip(self.looks, self.stop_at, strict=True):
            if b is not None and not 1 <= b <= n:
                raise ValueError(f"stop_at {b} at n={n} must be None or between 1 and n")
        object.__setattr__(self, "looks", tuple(int(n) for n in self.looks))
        object.__setattr__(
            self, "stop_at", tuple(None if b is None else int(b) for b in self.stop_at)
        )
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def max_acceptable(self) -> tuple[int, ...]:
        """clinfun's r encoding: stop if toxicities > r_k; r_k = n_k where no stop is possible."""
        return tuple(
            n if b is None else b - 1 for n, b in zip(self.looks, self.stop_at, strict=True)
        )

    def stop_at_n(self, n: int) -> int | None:
        """The boundary that applies with ``n`` evaluable patients: that of the last look <= n.

        None before the first look. Beyond n_max (over-enrolment) the final look's boundary
        keeps applying.
        """
        index = bisect.bisect_right(self.looks, n) - 1
        return None if index < 0 else self.stop_at[index]

    def is_look(self, n: int) -> bool:
        """True where the rule is checked: a scheduled look, or any n beyond n_max."""
        index = bisect.bisect_left(self.looks, n)
        return n > self.n_max or (index < len(self.looks) and self.looks[index] == n)

    @property
    def digest(self) -> str:
        """A short hash of method, inputs and the integer table, for the audit log (pitfall 6)."""
        document = {
            "method": self.method,
            "n_max": self.n_max,
            "looks": list(self.looks),
            "stop_at": list(self.stop_at),
            "params": {k: _jsonable(v) for k, v in sorted(self.params.items())},
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if type(value).__module__ == "numpy":  # a NumPy scalar given by a caller
        return value.item()
    return value


# ----------------------------------------------------------------------------- looks


def look_schedule(n_max: int, every: int = 1, first_look: int | None = None) -> tuple[int, ...]:
    """Looks at every, 2·every, …, always ending with n_max; none before ``first_look``.

    ``every=3`` gives cohort reviews 3, 6, …; N is always a look so the final verdict is
    taken on the full sample. ``first_look`` drops earlier looks (clinfun's ``n = 2:N``).
    """
    _check_int("n_max", n_max, 1)
    _check_int("every", every, 1)
    if every > n_max:
        raise ValueError(f"every={every} is larger than n_max={n_max}")
    start = every if first_look is None else first_look
    _check_int("first_look", start, 1)
    if start > n_max:
        raise ValueError(f"first_look={start} is larger than n_max={n_max}")
    looks = [n for n in range(every, n_max + 1, every) if n >= start]
    if not looks or looks[-1] != n_max:
        looks.append(n_max)
    return tuple(looks)


def _resolve_looks(
    n_max: int, every: int, first_look: int | None, looks: Sequence[int] | None
) -> tuple[int, ...]:
    if looks is None:
        return look_schedule(n_max, every, first_look)
    result = tuple(int(n) for n in looks)
    if any(b <= a for a, b in itertools.pairwise(result)) or not result:
        raise ValueError(f"looks must be strictly increasing, got {list(looks)}")
    if result[0] < 1 or result[-1] != n_max:
        raise ValueError(f"looks must start at >= 1 and end at n_max={n_max}, got {list(looks)}")
    return result


# -------------------------------------------------------------- Pocock / O'Brien-Fleming


@dataclass(frozen=True)
class ToxBoundaryPair:
    """clinfun's two brackets: ``lo`` (P(cross|p*) >= target) and ``hi`` (< target).

    Encoded as r (stop if > r), exactly as clinfun returns ``lo.bdry`` / ``hi.bdry``.
    ``lo_alpha``/``hi_alpha`` are the nominal levels that produced ``lo``/``hi`` (usually
    clinfun's final ``alpha1``/``alpha0``). Under priority "null" only ``hi`` keeps
    P(cross | p_lo) <= cP0 (pitfall 3).
    """

    looks: tuple[int, ...]
    lo: tuple[int, ...]
    hi: tuple[int, ...]
    lo_alpha: float
    hi_alpha: float
    delta: float
    small_n_warning: bool


def toxbdry(
    p_lo: float,
    p_hi: float,
    looks: Sequence[int],
    cp0: float = 0.1,
    cp1: float = 0.9,
    niter: int = 10,
    delta: float = 0.0,
    priority: str = "null",
) -> ToxBoundaryPair:
    """Port of ``clinfun::toxbdry`` / internal ``getBoundary`` (clinfun 1.1.5; §2.2).

    The bracketing search is mirrored step by step, quirks included: the slot-swaps in
    the two widening loops move alpha and the crossing probability but not the boundary
    itself. Only where clinfun would divide by zero (two brackets with equal crossing
    probability) do we bisect instead; clinfun fails there.
    """
    looks = tuple(int(n) for n in looks)
    if len(looks) < 2:
        raise ValueError("at least two looks are needed to stop early (clinfun toxbdry)")
    if any(b <= a for a, b in itertools.pairwise(looks)):
        raise ValueError(f"looks must be strictly increasing, got {list(looks)}")
    if not 0.0 < p_lo < p_hi < 1.0:
        raise ValueError(f"need 0 < p0 < p1 < 1, got p0={p_lo}, p1={p_hi}")
    if not 0.0 < cp0 < 1.0 or not 0.0 < cp1 < 1.0:
        raise ValueError("target crossing probabilities must be between 0 and 1")
    if not 0.0 <= delta <= 0.5:
        raise ValueError("delta should be between 0 and 0.5")
    if priority not in ("null", "alt"):
        raise ValueError("priority must be 'null' or 'alt'")
    null = priority == "null"
    shrink = [(n / looks[-1]) ** delta for n in looks]
    quantile = _QBinomUpper(looks, p_lo)
    target = cp0 if null else cp1
    p_star = p_lo if null else p_hi

    def boundary_for(alpha: float) -> list[int]:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"calibration left (0, 1): nominal level {alpha}")
        z = ndtri(alpha)
        return quantile([1.0 - ndtr(z / s) for s in shrink])

    def cross(r: Sequence[int], p: float = p_star) -> float:
        return math.fsum(crossing_by_look(looks, r, [p])[0])

    # level_0/level_1 record the nominal level that produced r0/r1: after clinfun's
    # quirky swaps alpha0/alpha1 may no longer be that level.
    alpha0 = level_0 = cp0 / len(looks)
    r0 = boundary_for(alpha0)
    c0 = cross(r0)
    alpha1 = level_1 = cp0
    r1 = boundary_for(alpha1)
    c1 = cross(r1)
    if not null:
        while c0 > target:  # clinfun: alpha1 <- alpha0; pstop1 <- pstop0 (r1 not copied)
            alpha1, c1 = alpha0, c0
            alpha0 = level_0 = 0.5 * alpha0
            r0 = boundary_for(alpha0)
            c0 = cross(r0)
    while c1 < target:  # clinfun: alpha0 <- alpha1; pstop0 <- pstop1 (r0 not copied)
        alpha0, c0 = alpha1, c1
        alpha1 = level_1 = 1.4 * alpha1
        r1 = boundary_for(alpha1)
        c1 = cross(r1)
    iteration = 0
    while sum(a - b for a, b in zip(r0, r1, strict=True)) > 1 and iteration <= niter:
        iteration += 1
        if alpha1 - alpha0 > 0.01 or c1 == c0:
            alpha = (alpha1 + alpha0) / 2
        else:
            alpha = alpha0 + (alpha1 - alpha0) * (target - c0) / (c1 - c0)
        r = boundary_for(alpha)
        c = cross(r)
        if c < target:
            alpha0 = level_0 = alpha
            r0, c0 = r, c
        else:
            alpha1 = level_1 = alpha
            r1, c1 = r, c
    cross_hi_lo, cross_hi_hi = cross(r0, p_lo), cross(r0, p_hi)
    cross_lo_lo, cross_lo_hi = cross(r1, p_lo), cross(r1, p_hi)
    warn = (cross_lo_lo > cp0 and cross_hi_lo > cp0) or (cross_lo_hi < cp1 and cross_hi_hi < cp1)
    return ToxBoundaryPair(
        looks=looks,
        lo=tuple(int(v) for v in r1),
        hi=tuple(int(v) for v in r0),
        lo_alpha=float(level_1),
        hi_alpha=float(level_0),
        delta=float(delta),
        small_n_warning=bool(warn),
    )


class _QBinomUpper:
    """R's ``qbinom(q, n_k, p)`` for a vector of looks: smallest r with cdf(r) >= q.

    Mirrors R's fuzz (q·(1 − 64·eps)) and its early return of n when q + 1.01·eps >= 1
    (pitfall 8). Each look's cdf is exact (``exact.BinomialCdf``), built once per design
    and only as far up as the searches reach.
    """

    def __init__(self, looks: Sequence[int], p: float) -> None:
        self.looks = tuple(int(n) for n in looks)
        self.cdfs = [BinomialCdf(n, p) for n in self.looks]

    def __call__(self, q: Sequence[float]) -> list[int]:
        return [self._one(cdf, float(qk)) for cdf, qk in zip(self.cdfs, q, strict=True)]

    @staticmethod
    def _one(cdf: BinomialCdf, q: float) -> int:
        if q <= 0.0:
            return 0
        if q + 1.01 * _EPS >= 1.0:
            return cdf.n
        return cdf.quantile(q * (1 - 64 * _EPS))


def _repeated_significance(
    method: str,
    delta: float,
    p0: float,
    p1: float | None,
    n_max: int,
    alpha: float,
    every: int,
    first_look: int | None,
    looks: Sequence[int] | None,
) -> Boundary:
    _check_rate("p0", p0)
    if p1 is not None:
        _check_rate("p1", p1)
        if p1 <= p0:
            raise ValueError(f"p1 ({p1}) must be larger than p0 ({p0})")
    _check_rate("alpha", alpha)
    schedule = _resolve_looks(n_max, every, first_look, looks)
    # p1 only feeds clinfun's report and warning under priority "null", never the boundary.
    pair = toxbdry(p0, p1 if p1 is not None else (1.0 + p0) / 2, schedule, cp0=alpha, delta=delta)
    return Boundary(
        method=method,
        n_max=n_max,
        looks=schedule,
        stop_at=_r_to_b(schedule, pair.hi),
        params={
            "p0": p0,
            "p1": p1,
            "alpha": alpha,
            "every": every,
            "first_look": first_look,
            "delta": delta,
            "source": "clinfun 1.1.5 toxbdry, hi.bdry (priority null)",
            "nominal_alpha": pair.hi_alpha,
            "clinfun_lo_stop_at": _r_to_b(schedule, pair.lo),
            "clinfun_lo_nominal_alpha": pair.lo_alpha,
        },
    )


def pocock(
    p0: float,
    p1: float | None,
    n_max: int,
    alpha: float,
    every: int = 1,
    first_look: int | None = None,
    looks: Sequence[int] | None = None,
) -> Boundary:
    """Pocock-type boundary (same nominal level at every look; Ivanova et al. 2005).

    ≙ ``toxbdry(p0, p1, looks, cP0=alpha, delta=0)$hi.bdry``: the bracket whose
    P(cross | p0) is below ``alpha`` (clinfun's ``lo.bdry`` exceeds it; it is kept in
    ``params["clinfun_lo_stop_at"]`` for checking against R).
    """
    return _repeated_significance("pocock", 0.0, p0, p1, n_max, alpha, every, first_look, looks)


def obrien_fleming(
    p0: float,
    p1: float | None,
    n_max: int,
    alpha: float,
    every: int = 1,
    first_look: int | None = None,
    looks: Sequence[int] | None = None,
) -> Boundary:
    """O'Brien-Fleming-type boundary: clinfun's power family with delta = 0.5 (§2.1)."""
    return _repeated_significance("obf", 0.5, p0, p1, n_max, alpha, every, first_look, looks)


def clinfun_print_form(looks: Sequence[int], max_acceptable: Sequence[int]) -> str:
    """The "r/n" pairs of ``print.toxbdry``: each r with the last n at which it applies.

    For continuous looks only runs are printed ("2/8 3/13": r = 2 up to n = 8, then 3 up
    to 13); otherwise one pair per look (§2.2).
    """
    looks, r = list(looks), list(max_acceptable)
    if len(looks) > 1 and max(b - a for a, b in itertools.pairwise(looks)) == 1:
        keep = [i for i in range(len(r) - 1) if r[i + 1] > r[i]] + [len(r) - 1]
    else:
        keep = list(range(len(r)))
    return " ".join(f"{r[i]}/{looks[i]}" for i in keep)


def _r_to_b(looks: Sequence[int], r: Sequence[int]) -> tuple[int | None, ...]:
    """clinfun r (stop if > r) to aewatch b (stop if >= b); r >= n means no stop."""
    return tuple(None if rk >= n else int(rk) + 1 for n, rk in zip(looks, r, strict=True))


# ---------------------------------------------------------------------------- Bayesian


def posterior_prob_above(p_max: float, x: int, n: int, prior_a: float, prior_b: float) -> float:
    """Pr(p > p_max | x toxicities in n) under Beta(a, b) (§4): the posterior is
    Beta(a + x, b + n - x); its tail is exact for whole-number priors (``exact.beta_sf``)."""
    return beta_sf(p_max, prior_a + x, prior_b + n - x)


def bayesian(
    p_max: float,
    threshold: float,
    prior_a: float,
    prior_b: float,
    n_max: int,
    every: int = 1,
    min_n: int = 1,
) -> Boundary:
    """Stop when Pr(p > p_max | x, n) > threshold (strict ``>``, Thall, Simon & Estey 1995).

    b_n is the smallest x whose posterior exceeds the threshold (PP rises with x), None
    if even x = n does not. ``min_n`` is the first look (BOIN-style minimum, pitfall 9).
    ``threshold`` is not a type I error: read the OC.
    """
    _check_rate("p_max", p_max)
    _check_rate("threshold", threshold)
    if not prior_a > 0 or not prior_b > 0:
        raise ValueError(f"prior Beta(a, b) needs a > 0 and b > 0, got ({prior_a}, {prior_b})")
    schedule = look_schedule(n_max, every, max(int(min_n), 1))
    # PP rises strictly with x, so bisect each look: the smallest x in 0..n with
    # PP(x, n) > threshold, or n + 1 when none (about log2(N) exact evaluations per look).
    stop_at: list[int | None] = []
    for n in schedule:
        lo, hi = 0, n + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if posterior_prob_above(p_max, mid, n, prior_a, prior_b) > threshold:
                hi = mid
            else:
                lo = mid + 1
        if lo == 0:
            raise ValueError(
                f"the posterior exceeds the threshold with no toxicity at n={n}: "
                "use a weaker prior or a higher threshold"
            )
        stop_at.append(None if lo > n else lo)
    return Boundary(
        method="bayes",
        n_max=n_max,
        looks=schedule,
        stop_at=tuple(stop_at),
        params={
            "p_max": p_max,
            "threshold": threshold,
            "prior": (prior_a, prior_b),
            "every": every,
            "min_n": min_n,
        },
    )


# ------------------------------------------------------------------------------- fixed


def fixed(
    k: int | Sequence[int],
    m: int | Sequence[int] | None,
    n_max: int,
    every: int = 1,
) -> Boundary:
    """ "Stop if >= k toxicities among the first m evaluable patients" (several pairs allowed).

    The count is checked at every look n <= m with boundary k: reaching k before m means
    k among the first m is already certain, so stopping at once gives the same verdict
    earlier. After m the pair no longer applies. With several pairs the smallest k whose
    m is still ahead applies. Default m = n_max (e.g. "stop at the first related death").
    """
    ks = [k] if isinstance(k, int) else list(k)
    ms = [n_max] * len(ks) if m is None else [m] if isinstance(m, int) else list(m)
    if len(ks) != len(ms) or not ks:
        raise ValueError(f"k and m need the same number of values, got k={ks}, m={ms}")
    for kk, mm in zip(ks, ms, strict=True):
        _check_int("k", kk, 1)
        _check_int("m", mm, 1)
        if mm > n_max:
            raise ValueError(f"m={mm} is larger than n_max={n_max}")
        if kk > mm:
            raise ValueError(f"k={kk} can never be reached among the first m={mm}")
    schedule = look_schedule(n_max, every)
    stop_at: list[int | None] = []
    for n in schedule:
        active = [kk for kk, mm in zip(ks, ms, strict=True) if n <= mm]
        bound = min(active) if active else None
        stop_at.append(bound if bound is not None and bound <= n else None)
    return Boundary(
        method="fixed",
        n_max=n_max,
        looks=schedule,
        stop_at=tuple(stop_at),
        params={"k": tuple(ks), "m": tuple(ms), "every": every},
    )


# -------------------------------------------------------------------------- dispatcher


def make_boundary(method: str, **params: Any) -> Boundary:
    """Build a boundary from config/CLI parameters (the names used in the TOML rule).

    pocock/obf: p0, p1, n_max, alpha, every, first_look, looks.
    bayes: p_max, threshold, prior=(a, b), n_max, every, min_n.
    fixed: k, m, n_max, every.
    """
    name = canonical_method(method)
    if name in ("pocock", "obf"):
        allowed = {"p0", "p1", "n_max", "alpha", "every", "first_look", "looks"}
        _reject_extra(name, params, allowed)
        builder = pocock if name == "pocock" else obrien_fleming
        return builder(
            p0=params["p0"],
            p1=params.get("p1"),
            n_max=params["n_max"],
            alpha=params["alpha"],
            every=params.get("every", 1),
            first_look=params.get("first_look"),
            looks=params.get("looks"),
        )
    if name == "bayes":
        _reject_extra(name, params, {"p_max", "threshold", "prior", "n_max", "every", "min_n"})
        prior_a, prior_b = params.get("prior", (1.0, 1.0))
        return bayesian(
            p_max=params["p_max"],
            threshold=params["threshold"],
            prior_a=prior_a,
            prior_b=prior_b,
            n_max=params["n_max"],
            every=params.get("every", 1),
            min_n=params.get("min_n", 1),
        )
    _reject_extra(name, params, {"k", "m", "n_max", "every"})
    return fixed(
        k=params["k"], m=params.get("m"), n_max=params["n_max"], every=params.get("every", 1)
    )


def _reject_extra(method: str, params: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(k for k, v in params.items() if k not in allowed and v is not None)
    if extra:
        raise ValueError(f"method {method!r} does not take {', '.join(extra)}")


def _check_rate(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")


def _check_int(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
