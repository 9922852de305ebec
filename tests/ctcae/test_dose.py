"""BED and EQD2 against worked examples.

Formulas: Fowler JF, "The linear-quadratic formula and progress in fractionated
radiotherapy", Br J Radiol 1989;62:679-94; Joiner MC & van der Kogel AJ, Basic Clinical
Radiobiology, 5th ed., ch. 8. Table values as in safety_domain.md §3.5.
"""

from __future__ import annotations

import numpy as np
import pytest

from aewatch.ctcae.dose import bed, bed_deviation, bed_of_fractions, eqd2, eqd2_from_bed


@pytest.mark.parametrize(
    ("fractions", "dose", "expected_bed10"),
    [
        (3, 15, 112.5),  # SBRT 45 Gy in 3: 45 × (1 + 15/10)
        (5, 8, 72.0),
        (6, 10, 120.0),
        (10, 4, 56.0),  # 40 × (1 + 0.4): below the protocol floor
        (3, 10, 60.0),
        (25, 2, 60.0),
        (5, 7, 59.5),
        (15, 3, 58.5),
        (10, 5, 75.0),
    ],
)
def test_bed_with_alpha_beta_10_matches_the_worked_examples(
    fractions: int, dose: float, expected_bed10: float
) -> None:
    assert bed(dose, fractions, 10) == pytest.approx(expected_bed10)


def test_eqd2_of_5_by_8_gy_is_60_gy_for_tumour_and_88_gy_for_late_tissue() -> None:
    assert eqd2(8, 5, 10) == pytest.approx(60.0)
    assert bed(8, 5, 3) == pytest.approx(146.667, abs=1e-3)
    assert eqd2(8, 5, 3) == pytest.approx(88.0)
    assert eqd2_from_bed(72.0, 10) == pytest.approx(60.0)


def test_bed_is_vectorised_over_lesions() -> None:
    out = bed(np.array([8.0, 7.0, 15.0]), np.array([5, 5, 3]), 10)
    assert list(out) == pytest.approx([72.0, 59.5, 112.5])  # type: ignore[arg-type]
    assert list(bed_deviation(out)) == [False, True, False]  # type: ignore[arg-type]


def test_course_of_exactly_60_gy10_summed_fraction_by_fraction_is_not_a_deviation() -> None:
    """25 × 2 Gy: each fraction is 2.4 Gy10; summed in float that is 59.99999999999998."""
    summed = sum([2.0 * (1 + 2.0 / 10)] * 25)
    assert summed < 60  # the float trap the rounding guards against
    assert bed_deviation(summed) is False
    assert bed_deviation(bed_of_fractions([2.0] * 25, 10)) is False


def test_bed_just_below_60_is_a_deviation() -> None:
    assert bed_deviation(59.5) is True
    assert bed_deviation(59.9999) is True
    assert bed_deviation(60.0) is False


def test_unequal_fractions_sum_each_fraction_bed() -> None:
    """2 × 10 Gy + 1 × 5 Gy at α/β 10: 2 × 20 + 7.5 = 47.5 Gy10."""
    assert bed_of_fractions([10, 10, 5], 10) == pytest.approx(47.5)


def test_missing_bed_is_not_reported_as_a_deviation() -> None:
    assert list(bed_deviation(np.array([np.nan, 50.0]))) == [False, True]
    assert np.isnan(bed(np.nan, 5, 10))  # type: ignore[arg-type]
