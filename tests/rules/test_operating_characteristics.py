"""The exact recursion (§3) against brute-force enumeration of every patient sequence."""

from __future__ import annotations

import itertools

import pytest

from aewatch.safety.boundaries import Boundary, bayesian, fixed, pocock
from aewatch.safety.operating import operating_characteristics


def _enumerated(boundary: Boundary, p: float) -> tuple[float, float]:
    """P(cross) and expected n by walking all 2^N outcome sequences (tiny N only)."""
    p_cross = expected_n = 0.0
    for outcomes in itertools.product((0, 1), repeat=boundary.n_max):
        weight = 1.0
        for toxic in outcomes:
            weight *= p if toxic else 1 - p
        stopped_at = boundary.n_max
        for n, b in zip(boundary.looks, boundary.stop_at, strict=True):
            if b is not None and sum(outcomes[:n]) >= b:
                stopped_at = n
                p_cross += weight
                break
        expected_n += weight * stopped_at
    return p_cross, expected_n


@pytest.mark.parametrize(
    "boundary",
    [
        pocock(0.15, 0.3, 12, 0.1),
        pocock(0.2, 0.4, 12, 0.1, every=4),
        fixed([2, 3], [4, 12], 12),
        bayesian(0.3, 0.8, 0.6, 2.4, 12, every=2),
        Boundary("rising fast", 10, (5, 6, 10), (2, 5, 5)),  # clinfun's own loop fails here
    ],
    ids=["pocock", "pocock-cohorts", "fixed-pairs", "bayes", "rising-fast"],
)
def test_recursion_equals_brute_force_enumeration(boundary: Boundary) -> None:
    for p in (0.05, 0.2, 0.45):
        (oc,) = operating_characteristics(boundary, [p])
        p_cross, expected_n = _enumerated(boundary, p)
        assert oc.p_stop == pytest.approx(p_cross, abs=1e-12)
        assert oc.expected_n == pytest.approx(expected_n, abs=1e-10)


def test_per_look_probabilities_add_up_to_the_crossing_probability() -> None:
    boundary = pocock(0.15, 0.3, 36, 0.1)
    for oc in operating_characteristics(boundary, [0.05, 0.15, 0.3]):
        assert sum(oc.p_stop_by_look) == pytest.approx(oc.p_stop)
        assert oc.p_early == pytest.approx(oc.p_stop - oc.p_stop_by_look[-1])
        assert len(oc.p_stop_by_look) == len(boundary.looks)


def test_certain_rates_give_certain_answers() -> None:
    boundary = pocock(0.15, 0.3, 36, 0.1)
    never, always = operating_characteristics(boundary, [0.0, 1.0])
    assert (never.p_stop, never.expected_n) == (0.0, 36.0)
    assert always.p_stop == pytest.approx(1.0)
    assert always.expected_n == 2.0


def test_rates_outside_zero_one_are_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        operating_characteristics(pocock(0.15, 0.3, 36, 0.1), [1.5])
