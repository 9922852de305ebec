"""Published examples reproduced exactly (stopping_rules.md §7, safety_domain.md §4.3)."""

from __future__ import annotations

import pytest

from aewatch.safety.boundaries import (
    Boundary,
    bayesian,
    clinfun_print_form,
    fixed,
    pocock,
    posterior_prob_above,
    toxbdry,
)
from aewatch.safety.operating import operating_characteristics


def test_clinfun_example_with_four_looks_gives_both_brackets_exactly() -> None:
    pair = toxbdry(0.2, 0.35, [20, 40, 60, 75])
    assert pair.lo == (7, 12, 17, 20)
    assert pair.hi == (7, 12, 17, 21)


def test_clinfun_example_with_four_looks_has_the_published_operating_characteristics() -> None:
    pair = toxbdry(0.2, 0.35, [20, 40, 60, 75])
    lo = Boundary("pocock", 75, pair.looks, tuple(r + 1 for r in pair.lo))
    hi = pocock(0.2, 0.35, 75, 0.1, looks=[20, 40, 60, 75])
    lo_null, lo_alt = operating_characteristics(lo, [0.2, 0.35])
    hi_null, hi_alt = operating_characteristics(hi, [0.2, 0.35])
    assert round(lo_null.p_stop, 3) == 0.101
    assert round(hi_null.p_stop, 3) == 0.088
    assert round(lo_alt.p_stop, 3) == 0.935
    assert round(hi_alt.p_stop, 3) == 0.911
    assert round(hi_null.expected_n, 1) == 72.0


def test_clinfun_continuous_example_prints_the_published_low_and_high_boundaries() -> None:
    pair = toxbdry(0.1, 0.3, range(2, 31))
    assert clinfun_print_form(pair.looks, pair.lo) == "1/3 2/8 3/13 4/20 5/26 6/30"
    assert clinfun_print_form(pair.looks, pair.hi) == "1/3 2/8 3/13 4/19 5/26 6/30"
    assert round(pair.hi_alpha, 4) == 0.0431


def test_pocock_with_first_look_two_is_clinfuns_high_boundary_and_its_oc() -> None:
    boundary = pocock(0.1, 0.3, 30, 0.1, first_look=2)
    assert boundary.looks == tuple(range(2, 31))
    assert clinfun_print_form(boundary.looks, boundary.max_acceptable) == (
        "1/3 2/8 3/13 4/19 5/26 6/30"
    )
    null, alt = operating_characteristics(boundary, [0.1, 0.3])
    assert (round(null.p_stop, 3), round(alt.p_stop, 3)) == (0.097, 0.898)
    assert (round(null.expected_n, 1), round(alt.expected_n, 1)) == (28.1, 12.7)


def test_the_lo_bracket_is_exposed_for_checking_against_r() -> None:
    boundary = pocock(0.1, 0.3, 30, 0.1, first_look=2)
    lo = boundary.params["clinfun_lo_stop_at"]
    looks = boundary.looks
    assert clinfun_print_form(
        looks, [n if b is None else b - 1 for n, b in zip(looks, lo, strict=True)]
    ) == ("1/3 2/8 3/13 4/20 5/26 6/30")


def test_safety_domain_illustration_is_the_pocock_boundary_for_the_trial() -> None:
    boundary = pocock(0.15, 0.30, 36, 0.10)
    expected = {1: None, 2: 2}
    for first, last, b in [
        (3, 5, 3), (6, 8, 4), (9, 12, 5), (13, 17, 6), (18, 21, 7),
        (22, 26, 8), (27, 30, 9), (31, 35, 10), (36, 36, 11),
    ]:  # fmt: skip
        expected.update({n: b for n in range(first, last + 1)})
    assert dict(zip(boundary.looks, boundary.stop_at, strict=True)) == expected
    null, alt = operating_characteristics(boundary, [0.15, 0.30])
    assert round(null.p_stop, 3) == 0.099
    assert round(alt.p_stop, 2) == 0.73
    assert round(boundary.params["nominal_alpha"], 3) == 0.034


def test_recursion_by_hand_for_three_of_six_or_five_of_twelve() -> None:
    boundary = fixed([3, 5], [6, 12], n_max=12, every=6)
    assert boundary.looks == (6, 12)
    assert boundary.max_acceptable == (2, 4)
    (oc,) = operating_characteristics(boundary, [0.2])
    assert oc.p_stop_by_look[0] == pytest.approx(0.09888, abs=5e-6)
    assert oc.p_stop_by_look[1] == pytest.approx(0.031389, abs=5e-7)
    assert oc.p_stop == pytest.approx(0.130269, abs=5e-7)
    assert oc.p_early == pytest.approx(0.09888, abs=5e-6)
    assert oc.expected_n == pytest.approx(11.40672, abs=5e-6)


def test_uniform_prior_example_stops_on_the_fifth_toxicity_of_ten() -> None:
    assert posterior_prob_above(0.30, 4, 10, 1, 1) == pytest.approx(0.7897, abs=5e-5)
    assert posterior_prob_above(0.30, 5, 10, 1, 1) == pytest.approx(0.9218, abs=5e-5)
    assert bayesian(0.30, 0.90, 1, 1, n_max=10).stop_at_n(10) == 5


def test_uniform_prior_with_limit_020_stops_on_a_toxicity_in_the_first_patient() -> None:
    assert posterior_prob_above(0.20, 1, 1, 1, 1) == pytest.approx(0.96, abs=1e-12)
    assert bayesian(0.20, 0.95, 1, 1, n_max=10).stop_at_n(1) == 1
    assert bayesian(0.20, 0.96, 1, 1, n_max=10).stop_at_n(1) is None


def test_stoppingrule_readme_design_applied_exactly_stops_on_four_of_seven() -> None:
    boundary = bayesian(0.20, 0.9630823, 0.6, 2.4, n_max=30)
    assert posterior_prob_above(0.20, 4, 7, 0.6, 2.4) == pytest.approx(0.96308269, abs=5e-9)
    assert boundary.stop_at[:8] == (None, None, 3, 3, 4, 4, 4, 5)
    (oc,) = operating_characteristics(boundary, [0.20])
    assert round(oc.p_stop, 4) == 0.1044


def test_stoppingrule_readme_table_has_the_published_reject_probabilities() -> None:
    exact = bayesian(0.20, 0.9630823, 0.6, 2.4, n_max=30)
    as_published = list(exact.stop_at)
    as_published[6] = 5  # the package's root finder rounds n = 7 up (pitfall 7)
    table = Boundary("bayes", 30, exact.looks, tuple(as_published))
    rates = [0.20, 0.25, 0.30, 0.35, 0.40]
    got = [round(oc.p_stop, 4) for oc in operating_characteristics(table, rates)]
    assert got == [0.0996, 0.2383, 0.4362, 0.6456, 0.8149]
