"""Properties every boundary must have, over the grid of plausible designs (§6, §8)."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from fractions import Fraction
from math import comb

import pytest

from aewatch.safety.boundaries import (
    Boundary,
    bayesian,
    fixed,
    look_schedule,
    make_boundary,
    obrien_fleming,
    pocock,
    posterior_prob_above,
)
from aewatch.safety.operating import operating_characteristics

DESIGNS = [
    (builder, p0, p1, n_max, alpha, every)
    for builder in (pocock, obrien_fleming)
    for p0 in (0.05, 0.10, 0.15, 0.20)
    for p1 in (p0 + 0.10, p0 + 0.15)
    for n_max in (12, 20, 36, 50)
    for alpha in (0.05, 0.10, 0.20)
    for every in (1, 3)
]


@functools.cache
def _built(
    builder: Callable[..., Boundary], p0: float, p1: float, n_max: int, alpha: float, every: int
) -> Boundary:
    return builder(p0, p1, n_max, alpha, every=every)


def test_crossing_probability_under_p0_never_exceeds_the_requested_alpha() -> None:
    worst = 0.0
    for builder, p0, p1, n_max, alpha, every in DESIGNS:
        boundary = _built(builder, p0, p1, n_max, alpha, every)
        (oc,) = operating_characteristics(boundary, [p0])
        assert oc.p_stop <= alpha, (builder.__name__, p0, p1, n_max, alpha, every)
        worst = max(worst, oc.p_stop / alpha)
    assert worst > 0.9  # calibrated close to alpha, not merely below it


def test_the_clinfun_lo_bracket_reaches_alpha_where_the_hi_bracket_stays_below() -> None:
    for builder, p0, p1, n_max, alpha, every in DESIGNS[::7]:
        boundary = _built(builder, p0, p1, n_max, alpha, every)
        lo = Boundary("lo", n_max, boundary.looks, boundary.params["clinfun_lo_stop_at"])
        (oc,) = operating_characteristics(lo, [p0])
        assert oc.p_stop >= alpha


def test_pocock_boundaries_never_decrease_as_patients_accrue() -> None:
    for builder, p0, p1, n_max, alpha, every in DESIGNS:
        boundary = _built(builder, p0, p1, n_max, alpha, every)
        stops = [b for b in boundary.stop_at if b is not None]
        assert stops, "every design should be able to stop somewhere"
        if builder is pocock or p0 >= 0.10:
            assert stops == sorted(stops), (builder.__name__, p0, n_max, alpha, every)


def test_obrien_fleming_can_dip_once_at_its_first_looks_for_rare_toxicities_as_clinfun() -> None:
    # The exact binomial test at a tiny early nominal level needs 5 of 5 at n = 5 but only
    # 4 of 6 at n = 6 (p0 = 0.05). clinfun's qbinom gives the same table; the OC are
    # computed from the table as it is, so the reported error rates stay exact.
    boundary = obrien_fleming(0.05, 0.2, 36, 0.05)
    assert [boundary.stop_at_n(n) for n in (4, 5, 6, 7)] == [None, 5, 4, 4]
    stops = [b for b in boundary.stop_at[5:] if b is not None]
    assert stops == sorted(stops)


def test_pocock_boundary_rises_by_at_most_one_per_added_patient() -> None:
    for p0, alpha in itertools.product((0.05, 0.1, 0.15, 0.2, 0.3), (0.05, 0.1)):
        boundary = pocock(p0, p0 + 0.15, 60, alpha)
        stops = [b for b in boundary.stop_at if b is not None]
        assert all(0 <= b - a <= 1 for a, b in itertools.pairwise(stops))


def test_power_at_p1_is_higher_than_the_false_alarm_rate_at_p0() -> None:
    for builder, p0, p1, n_max, alpha, every in DESIGNS[::5]:
        boundary = _built(builder, p0, p1, n_max, alpha, every)
        null, alt = operating_characteristics(boundary, [p0, p1])
        assert alt.p_stop > null.p_stop
        assert alt.expected_n < null.expected_n


def test_bayesian_boundary_is_the_smallest_count_whose_posterior_exceeds_the_threshold() -> None:
    for (a, b), p_max, theta in itertools.product(
        [(1, 1), (0.5, 1.5), (0.6, 2.4), (2, 8)], (0.2, 0.3), (0.8, 0.9, 0.95)
    ):
        boundary = bayesian(p_max, theta, a, b, n_max=36)
        for n, stop in zip(boundary.looks, boundary.stop_at, strict=True):
            if stop is None:
                assert posterior_prob_above(p_max, n, n, a, b) <= theta
                continue
            assert posterior_prob_above(p_max, stop, n, a, b) > theta
            assert posterior_prob_above(p_max, stop - 1, n, a, b) <= theta


def test_bayesian_boundary_rises_by_at_most_one_per_patient() -> None:
    boundary = bayesian(0.25, 0.9, 0.5, 1.5, n_max=60)
    stops = [b for b in boundary.stop_at if b is not None]
    assert all(0 <= b - a <= 1 for a, b in itertools.pairwise(stops))


def _uniform_prior_posterior(x: int, n: int, p_max: Fraction) -> Fraction:
    """Beta(1,1): PP(x, n) = P(Bin(n + 1, p_max) <= x), exactly in rationals (§4)."""
    return sum(
        (comb(n + 1, j) * p_max**j * (1 - p_max) ** (n + 1 - j) for j in range(x + 1)),
        Fraction(0),
    )


def test_posterior_matches_the_exact_binomial_identity_for_the_uniform_prior() -> None:
    for n in range(1, 25):
        for x in range(n + 1):
            exact = _uniform_prior_posterior(x, n, Fraction(3, 10))
            assert posterior_prob_above(0.3, x, n, 1, 1) == pytest.approx(float(exact), abs=1e-13)


@pytest.mark.parametrize("gap", [1e-9, 1e-12])
def test_a_near_tie_is_decided_by_the_exact_posterior_on_both_sides(gap: float) -> None:
    exact = float(_uniform_prior_posterior(3, 10, Fraction(1, 5)))
    just_below = bayesian(0.2, exact - gap, 1, 1, n_max=10)
    just_above = bayesian(0.2, exact + gap, 1, 1, n_max=10)
    assert just_below.stop_at_n(10) == 3  # PP(3, 10) > theta
    assert just_above.stop_at_n(10) == 4  # PP(3, 10) <= theta: needs a fourth toxicity


def test_fixed_rule_stops_at_the_first_when_k_is_one() -> None:
    boundary = fixed(1, None, 36)
    assert set(boundary.stop_at) == {1}
    (oc,) = operating_characteristics(boundary, [0.02])
    assert oc.p_stop == pytest.approx(1 - 0.98**36)


def test_fixed_pairs_apply_the_smallest_k_whose_m_is_still_ahead() -> None:
    boundary = fixed([3, 5], [6, 12], n_max=20)
    assert [boundary.stop_at_n(n) for n in (2, 3, 6, 7, 12, 13, 20)] == [
        None, 3, 3, 5, 5, None, None,
    ]  # fmt: skip


def test_every_k_looks_at_multiples_of_k_and_always_at_n() -> None:
    assert look_schedule(36, every=5) == (5, 10, 15, 20, 25, 30, 35, 36)
    assert look_schedule(36, every=6) == (6, 12, 18, 24, 30, 36)
    assert look_schedule(10, every=1, first_look=3) == tuple(range(3, 11))
    boundary = pocock(0.15, 0.3, 36, 0.1, every=5)
    assert boundary.looks[-1] == 36


def test_stop_at_n_uses_the_last_look_at_or_before_n() -> None:
    boundary = pocock(0.15, 0.3, 36, 0.1, every=6)
    assert boundary.stop_at_n(5) is None
    assert boundary.stop_at_n(6) == boundary.stop_at[0]
    assert boundary.stop_at_n(11) == boundary.stop_at[0]
    assert boundary.stop_at_n(12) == boundary.stop_at[1]
    assert boundary.stop_at_n(40) == boundary.stop_at[-1]


def test_the_two_encodings_convert_both_ways() -> None:
    boundary = pocock(0.15, 0.3, 36, 0.1)
    for n, b, r in zip(boundary.looks, boundary.stop_at, boundary.max_acceptable, strict=True):
        assert r == (n if b is None else b - 1)


def test_dispatcher_builds_the_same_table_as_the_named_function() -> None:
    assert make_boundary("pocock", p0=0.15, p1=0.3, n_max=36, alpha=0.1) == pocock(
        0.15, 0.3, 36, 0.1
    )
    assert make_boundary("obrien-fleming", p0=0.15, p1=0.3, n_max=36, alpha=0.1).method == "obf"
    assert make_boundary("fixed", k=1, n_max=36) == fixed(1, None, 36)


def test_dispatcher_refuses_parameters_the_method_does_not_take() -> None:
    with pytest.raises(ValueError, match="does not take threshold"):
        make_boundary("pocock", p0=0.15, p1=0.3, n_max=36, alpha=0.1, threshold=0.9)
    with pytest.raises(ValueError, match="unknown method"):
        make_boundary("sprt", n_max=36)


def test_a_prior_that_stops_without_any_toxicity_is_refused() -> None:
    with pytest.raises(ValueError, match="no toxicity"):
        bayesian(0.2, 0.5, 5, 1, n_max=10)


def test_the_integer_table_has_a_stable_digest() -> None:
    assert pocock(0.15, 0.3, 36, 0.1).digest == pocock(0.15, 0.3, 36, 0.1).digest
    assert pocock(0.15, 0.3, 36, 0.1).digest != pocock(0.15, 0.3, 36, 0.05).digest
