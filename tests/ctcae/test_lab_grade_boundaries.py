"""Grade boundaries per lab parameter, read straight from the CTCAE v5.0 text: exactly at the
boundary, just above and just below. SI units unless the case says otherwise.

Strict ("> 3.0 x ULN") versus inclusive ("1.5 - 3.0 x baseline") bounds follow the rule file
(admiral's reading of the NCI text); each inclusive case is named so in its id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

GradeOne = Callable[..., tuple[Any, Any]]

# (id, testcd, value, unit, lln, uln, expected (low, high))
ABSOLUTE_AND_RANGE_CASES = [
    # Anemia: <LLN - 100 g/L = 1, <100 - 80 = 2, <80 = 3 (grade 4 is clinical only)
    ("anemia 79.9 g/L is grade 3", "HGB", 79.9, "g/L", 120, 160, (3, 0)),
    ("anemia exactly 80 g/L is grade 2, not 3", "HGB", 80, "g/L", 120, 160, (2, 0)),
    ("anemia 99.9 g/L is grade 2", "HGB", 99.9, "g/L", 120, 160, (2, 0)),
    ("anemia exactly 100 g/L is grade 1", "HGB", 100, "g/L", 120, 160, (1, 0)),
    ("anemia just below LLN is grade 1", "HGB", 119.9, "g/L", 120, 160, (1, 0)),
    ("haemoglobin exactly at LLN is grade 0", "HGB", 120, "g/L", 120, 160, (0, 0)),
    # Hemoglobin increased: > ULN = 1, > ULN + 20 g/L = 2, > ULN + 40 = 3
    ("haemoglobin exactly ULN + 20 g/L is grade 1", "HGB", 180, "g/L", 120, 160, (0, 1)),
    ("haemoglobin just over ULN + 20 g/L is grade 2", "HGB", 180.1, "g/L", 120, 160, (0, 2)),
    ("haemoglobin just over ULN + 40 g/L is grade 3", "HGB", 200.1, "g/L", 120, 160, (0, 3)),
    ("haemoglobin exactly ULN is grade 0", "HGB", 160, "g/L", 120, 160, (0, 0)),
    # Platelets: <LLN - 75 = 1, <75 - 50 = 2, <50 - 25 = 3, <25 = 4
    ("platelets 24.9 is grade 4", "PLAT", 24.9, "10^9/L", 150, 400, (4, None)),
    ("platelets exactly 25 is grade 3", "PLAT", 25, "10^9/L", 150, 400, (3, None)),
    ("platelets exactly 50 is grade 2", "PLAT", 50, "10^9/L", 150, 400, (2, None)),
    ("platelets 49.9 is grade 3", "PLAT", 49.9, "10^9/L", 150, 400, (3, None)),
    ("platelets exactly 75 is grade 1", "PLAT", 75, "10^9/L", 150, 400, (1, None)),
    ("platelets 74.9 is grade 2", "PLAT", 74.9, "10^9/L", 150, 400, (2, None)),
    ("platelets exactly LLN is grade 0", "PLAT", 150, "10^9/L", 150, 400, (0, None)),
    # Neutrophils (ANC): <LLN - 1.5 = 1, <1.5 - 1.0 = 2, <1.0 - 0.5 = 3, <0.5 = 4
    ("ANC 0.49 is grade 4", "ANC", 0.49, "10^9/L", 2, 7.5, (4, None)),
    ("ANC exactly 0.5 is grade 3", "NEUT", 0.5, "10^9/L", 2, 7.5, (3, None)),
    ("ANC exactly 1.0 is grade 2", "NEUT", 1.0, "10^9/L", 2, 7.5, (2, None)),
    ("ANC exactly 1.5 is grade 1", "NEUT", 1.5, "10^9/L", 2, 7.5, (1, None)),
    ("ANC 1.49 is grade 2", "NEUT", 1.49, "10^9/L", 2, 7.5, (2, None)),
    # WBC decreased: <LLN - 3.0 = 1, <3.0 - 2.0 = 2, <2.0 - 1.0 = 3, <1.0 = 4; leukocytosis >100 = 3
    ("WBC 0.99 is grade 4", "WBC", 0.99, "10^9/L", 4, 10, (4, 0)),
    ("WBC exactly 2.0 is grade 2", "WBC", 2.0, "10^9/L", 4, 10, (2, 0)),
    ("WBC exactly 3.0 is grade 1", "WBC", 3.0, "10^9/L", 4, 10, (1, 0)),
    ("WBC exactly 100 is not leukocytosis", "WBC", 100, "10^9/L", 4, 10, (0, 0)),
    ("WBC 100.1 is grade 3 leukocytosis", "WBC", 100.1, "10^9/L", 4, 10, (0, 3)),
    # Lymphocytes: <LLN - 0.8 = 1, <0.8 - 0.5 = 2, <0.5 - 0.2 = 3, <0.2 = 4; >4 = 2, >20 = 3
    ("lymphocytes 0.19 is grade 4", "LYM", 0.19, "10^9/L", 1, 4, (4, 0)),
    ("lymphocytes exactly 0.2 is grade 3", "LYM", 0.2, "10^9/L", 1, 4, (3, 0)),
    ("lymphocytes exactly 0.8 is grade 1", "LYM", 0.8, "10^9/L", 1, 4, (1, 0)),
    ("lymphocytes exactly 4 is not increased", "LYM", 4, "10^9/L", 1, 4, (0, 0)),
    ("lymphocytes 4.1 is grade 2 increased", "LYM", 4.1, "10^9/L", 1, 4, (0, 2)),
    ("lymphocytes 20.1 is grade 3 increased", "LYM", 20.1, "10^9/L", 1, 4, (0, 3)),
    # CD4: <LLN - 0.5 = 1, <0.5 - 0.2 = 2, <0.2 - 0.05 = 3, <0.05 = 4
    ("CD4 0.049 is grade 4", "CD4", 0.049, "10^9/L", 0.5, 1.5, (4, None)),
    ("CD4 exactly 0.05 is grade 3", "CD4", 0.05, "10^9/L", 0.5, 1.5, (3, None)),
    ("CD4 exactly 0.2 is grade 2", "CD4", 0.2, "10^9/L", 0.5, 1.5, (2, None)),
    # Albumin: <LLN - 30 g/L = 1, <30 - 20 = 2, <20 = 3
    ("albumin 19.9 g/L is grade 3", "ALB", 19.9, "g/L", 35, 50, (3, None)),
    ("albumin exactly 20 g/L is grade 2", "ALB", 20, "g/L", 35, 50, (2, None)),
    ("albumin exactly 30 g/L is grade 1", "ALB", 30, "g/L", 35, 50, (1, None)),
    ("albumin exactly LLN is grade 0", "ALB", 35, "g/L", 35, 50, (0, None)),
    # Potassium: hypo <LLN = 2 (admiral: symptomatic assumed), <3.0 = 3, <2.5 = 4
    ("potassium 2.49 is grade 4 hypokalemia", "K", 2.49, "mmol/L", 3.5, 5.1, (4, 0)),
    ("potassium exactly 2.5 is grade 3", "K", 2.5, "mmol/L", 3.5, 5.1, (3, 0)),
    (
        "potassium exactly 3.0 is grade 2 (below LLN, worst case)",
        "K",
        3.0,
        "mmol/L",
        3.5,
        5.1,
        (2, 0),
    ),
    ("potassium exactly LLN is grade 0", "K", 3.5, "mmol/L", 3.5, 5.1, (0, 0)),
    # Hyperkalemia: >ULN - 5.5 = 1, >5.5 - 6.0 = 2, >6.0 - 7.0 = 3, >7.0 = 4
    ("potassium exactly 5.5 is grade 1", "K", 5.5, "mmol/L", 3.5, 5.1, (0, 1)),
    ("potassium 5.51 is grade 2", "K", 5.51, "mmol/L", 3.5, 5.1, (0, 2)),
    ("potassium exactly 6.0 is grade 2", "K", 6.0, "mmol/L", 3.5, 5.1, (0, 2)),
    ("potassium exactly 7.0 is grade 3", "K", 7.0, "mmol/L", 3.5, 5.1, (0, 3)),
    ("potassium 7.01 is grade 4", "K", 7.01, "mmol/L", 3.5, 5.1, (0, 4)),
    # Sodium: hypo <LLN - 130 = 1, <=129 = 3 (grade 2 needs symptoms), <120 = 4; hyper >150/155/160
    ("sodium exactly 129 is grade 3 (inclusive)", "SODIUM", 129, "mmol/L", 135, 145, (3, 0)),
    ("sodium 129.5 is grade 1", "SODIUM", 129.5, "mmol/L", 135, 145, (1, 0)),
    ("sodium exactly 120 is grade 3", "NA", 120, "mmol/L", 135, 145, (3, 0)),
    ("sodium 119.9 is grade 4", "SODIUM", 119.9, "mmol/L", 135, 145, (4, 0)),
    ("sodium exactly 150 is grade 1 hypernatremia", "SODIUM", 150, "mmol/L", 135, 145, (0, 1)),
    ("sodium 150.1 is grade 2 hypernatremia", "SODIUM", 150.1, "mmol/L", 135, 145, (0, 2)),
    ("sodium 160.1 is grade 4 hypernatremia", "SODIUM", 160.1, "mmol/L", 135, 145, (0, 4)),
    # Calcium (corrected): hypo <2.0 = 2, <1.75 = 3, <1.5 = 4; hyper >2.9 = 2, >3.1 = 3, >3.4 = 4
    ("calcium exactly 2.0 is grade 1", "CA", 2.0, "mmol/L", 2.15, 2.55, (1, 0)),
    ("calcium 1.99 is grade 2", "CA", 1.99, "mmol/L", 2.15, 2.55, (2, 0)),
    ("calcium exactly 1.5 is grade 3", "CA", 1.5, "mmol/L", 2.15, 2.55, (3, 0)),
    ("calcium 3.41 is grade 4 hypercalcemia", "CA", 3.41, "mmol/L", 2.15, 2.55, (0, 4)),
    ("calcium exactly 2.9 is grade 1 hypercalcemia", "CA", 2.9, "mmol/L", 2.15, 2.55, (0, 1)),
    # Ionized calcium: hypo <1.0 = 2, <0.9 = 3, <0.8 = 4; hyper >1.5 = 2, >1.6 = 3, >1.8 = 4
    ("ionized calcium exactly 0.8 is grade 3", "CAION", 0.8, "mmol/L", 1.1, 1.3, (3, 0)),
    ("ionized calcium 1.81 is grade 4", "CAION", 1.81, "mmol/L", 1.1, 1.3, (0, 4)),
    # Magnesium: hypo <0.5 = 2, <0.4 = 3, <0.3 = 4; hyper >ULN = 1, >1.23 = 3, >3.30 = 4 (no 2)
    ("magnesium exactly 0.5 is grade 1", "MG", 0.5, "mmol/L", 0.7, 1.0, (1, 0)),
    ("magnesium 0.29 is grade 4", "MG", 0.29, "mmol/L", 0.7, 1.0, (4, 0)),
    (
        "magnesium exactly 1.23 is grade 1 (no grade 2 exists)",
        "MG",
        1.23,
        "mmol/L",
        0.7,
        1.0,
        (0, 1),
    ),
    ("magnesium 1.24 is grade 3", "MG", 1.24, "mmol/L", 0.7, 1.0, (0, 3)),
    # Glucose low only: <LLN - 3.0 = 1, <3.0 - 2.2 = 2, <2.2 - 1.7 = 3, <1.7 = 4
    ("glucose exactly 3.0 is grade 1", "GLUC", 3.0, "mmol/L", 3.9, 6.1, (1, None)),
    ("glucose 1.69 is grade 4", "GLUC", 1.69, "mmol/L", 3.9, 6.1, (4, None)),
    (
        "glucose 30 mmol/L has no high grade in CTCAE v5.0",
        "GLUC",
        30,
        "mmol/L",
        3.9,
        6.1,
        (0, None),
    ),
    # Cholesterol: >ULN = 1, >7.75 = 2, >10.34 = 3, >12.92 = 4
    ("cholesterol exactly 7.75 is grade 1", "CHOL", 7.75, "mmol/L", 3, 5.2, (None, 1)),
    ("cholesterol 12.93 is grade 4", "CHOL", 12.93, "mmol/L", 3, 5.2, (None, 4)),
    # Triglycerides: >1.71 = 1 (admiral: exclusive), >3.42 = 2, >5.7 = 3, >11.4 = 4; no ULN used
    ("triglycerides exactly 1.71 is grade 0", "TRIG", 1.71, "mmol/L", None, None, (None, 0)),
    (
        "triglycerides 1.72 is grade 1 without any range",
        "TRIG",
        1.72,
        "mmol/L",
        None,
        None,
        (None, 1),
    ),
    ("triglycerides 11.41 is grade 4", "TRIG", 11.41, "mmol/L", None, None, (None, 4)),
    # Fibrinogen: <0.5 g/L = 4 even without LLN
    (
        "fibrinogen 0.49 g/L is grade 4 even without LLN",
        "FIBRINO",
        0.49,
        "g/L",
        None,
        None,
        (4, None),
    ),
    ("fibrinogen exactly 0.75 x LLN is grade 1", "FIBRINO", 1.5, "g/L", 2.0, 4.0, (1, None)),
    ("fibrinogen under 0.75 x LLN is grade 2", "FIBRINO", 1.49, "g/L", 2.0, 4.0, (2, None)),
    ("fibrinogen under 0.25 x LLN is grade 4", "FIBRINO", 0.49, "g/L", 2.0, 4.0, (4, None)),
    # Ratio-only terms (unit never checked)
    ("aPTT exactly 1.5 x ULN is grade 1", "APTT", 52.5, "s", 25, 35, (None, 1)),
    ("aPTT just over 2.5 x ULN is grade 3", "APTT", 87.6, "s", 25, 35, (None, 3)),
    ("CPK exactly 10 x ULN is grade 3", "CK", 2000, "U/L", 30, 200, (None, 3)),
    ("CPK just over 10 x ULN is grade 4", "CK", 2000.1, "U/L", 30, 200, (None, 4)),
    (
        "lipase just over 2 x ULN is grade 3 (symptoms assumed)",
        "LIPASE",
        120.1,
        "U/L",
        10,
        60,
        (None, 3),
    ),
    ("lipase exactly 5 x ULN is grade 3", "LIPASE", 300, "U/L", 10, 60, (None, 3)),
    ("amylase just over 5 x ULN is grade 4", "AMYLASE", 550.1, "U/L", 30, 110, (None, 4)),
    ("LDH over ULN is grade 1 (the only grade)", "LDH", 251, "U/L", 120, 250, (None, 1)),
    (
        "uric acid over ULN is grade 3 (consequences assumed)",
        "URATE",
        421,
        "umol/L",
        150,
        420,
        (None, 3),
    ),
    ("haptoglobin under LLN is grade 1", "HAPTOG", 0.2, "g/L", 0.3, 2.0, (1, None)),
    (
        "INR exactly 1.2 without baseline is not gradable",
        "INR",
        1.2,
        None,
        None,
        None,
        (None, None),
    ),
    ("INR 1.21 without baseline is grade 1", "INR", 1.21, None, None, None, (None, 1)),
    ("INR exactly 2.5 is grade 2", "INR", 2.5, None, None, None, (None, 2)),
    ("INR 2.51 is grade 3", "INR", 2.51, None, None, None, (None, 3)),
]


@pytest.mark.parametrize(
    ("testcd", "value", "unit", "lln", "uln", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in ABSOLUTE_AND_RANGE_CASES],
)
def test_lab_value_is_graded_as_the_ctcae_text_says(
    grade_one: GradeOne,
    testcd: str,
    value: float,
    unit: str | None,
    lln: float | None,
    uln: float | None,
    expected: tuple[int | None, int | None],
) -> None:
    assert grade_one(testcd, value, unit, lln=lln, uln=uln) == expected


# Baseline-dependent liver terms: (id, testcd, value, uln, baseline, expected high grade)
BASELINE_CASES = [
    # ALT / AST, baseline normal: >ULN-3 = 1, >3-5 = 2, >5-20 = 3, >20 x ULN = 4
    ("ALT exactly ULN with normal baseline is grade 0", "ALT", 40, 40, 30, 0),
    ("ALT just over ULN with normal baseline is grade 1", "ALT", 40.1, 40, 30, 1),
    ("ALT exactly 3 x ULN with normal baseline is grade 1", "ALT", 120, 40, 30, 1),
    ("ALT just over 3 x ULN with normal baseline is grade 2", "ALT", 120.1, 40, 30, 2),
    ("ALT exactly 5 x ULN with normal baseline is grade 2", "ALT", 200, 40, 30, 2),
    ("ALT just over 5 x ULN with normal baseline is grade 3", "ALT", 200.1, 40, 30, 3),
    ("ALT exactly 20 x ULN with normal baseline is grade 3", "ALT", 800, 40, 30, 3),
    ("ALT just over 20 x ULN with normal baseline is grade 4", "ALT", 800.1, 40, 30, 4),
    # ALT / AST, baseline abnormal (> ULN): 1.5-3 x baseline = 1 (inclusive), >3-5 = 2 ...
    ("ALT just under 1.5 x abnormal baseline is grade 0", "ALT", 89.9, 40, 60, 0),
    ("ALT exactly 1.5 x abnormal baseline is grade 1 (inclusive)", "ALT", 90, 40, 60, 1),
    ("ALT exactly 3 x abnormal baseline is grade 1", "ALT", 180, 40, 60, 1),
    ("ALT just over 3 x abnormal baseline is grade 2", "ALT", 180.1, 40, 60, 2),
    ("ALT just over 5 x abnormal baseline is grade 3", "ALT", 300.1, 40, 60, 3),
    ("ALT just over 20 x abnormal baseline is grade 4", "ALT", 1200.1, 40, 60, 4),
    ("AST exactly 3 x ULN with normal baseline is grade 1", "AST", 120, 40, 25, 1),
    ("AST just over 5 x ULN with normal baseline is grade 3", "AST", 200.1, 40, 25, 3),
    ("AST exactly 1.5 x abnormal baseline is grade 1", "AST", 75, 40, 50, 1),
    ("AST just under 1.5 x abnormal baseline is grade 0", "AST", 74.9, 40, 50, 0),
    ("AST just over 20 x abnormal baseline is grade 4", "AST", 1000.1, 40, 50, 4),
    # ALP: normal >ULN-2.5 = 1, >2.5-5 = 2, >5-20 = 3, >20 = 4; abnormal 2.0-2.5 x base = 1
    ("ALP exactly 2.5 x ULN with normal baseline is grade 1", "ALP", 325, 130, 90, 1),
    ("ALP just over 2.5 x ULN with normal baseline is grade 2", "ALP", 325.1, 130, 90, 2),
    ("ALP just over 5 x ULN with normal baseline is grade 3", "ALP", 650.1, 130, 90, 3),
    ("ALP just under 2 x abnormal baseline is grade 0", "ALP", 399.9, 130, 200, 0),
    ("ALP exactly 2 x abnormal baseline is grade 1 (inclusive)", "ALP", 400, 130, 200, 1),
    ("ALP just over 2.5 x abnormal baseline is grade 2", "ALP", 500.1, 130, 200, 2),
    # Bilirubin: normal >ULN-1.5 = 1, >1.5-3 = 2, >3-10 = 3, >10 = 4; abnormal >1.0-1.5 x base = 1
    ("bilirubin exactly 1.5 x ULN with normal baseline is grade 1", "BILI", 31.5, 21, 10, 1),
    ("bilirubin just over 1.5 x ULN with normal baseline is grade 2", "BILI", 31.6, 21, 10, 2),
    ("bilirubin just over 3 x ULN with normal baseline is grade 3", "BILI", 63.1, 21, 10, 3),
    ("bilirubin just over 10 x ULN with normal baseline is grade 4", "BILI", 210.1, 21, 10, 4),
    ("bilirubin exactly at abnormal baseline is grade 0 (exclusive)", "BILI", 30, 21, 30, 0),
    ("bilirubin just over abnormal baseline is grade 1", "BILI", 30.1, 21, 30, 1),
    ("bilirubin just over 1.5 x abnormal baseline is grade 2", "BILI", 45.1, 21, 30, 2),
    # GGT: normal >ULN-2.5 = 1, >2.5-5 = 2 ...; abnormal >2.0 x baseline = 1 (exclusive in admiral)
    ("GGT exactly 2.5 x ULN with normal baseline is grade 1", "GGT", 152.5, 61, 30, 1),
    ("GGT just over 2.5 x ULN with normal baseline is grade 2", "GGT", 152.6, 61, 30, 2),
    ("GGT exactly 2 x abnormal baseline is grade 0 (exclusive)", "GGT", 160, 61, 80, 0),
    ("GGT just over 2 x abnormal baseline is grade 1", "GGT", 160.1, 61, 80, 1),
    ("GGT just over 20 x abnormal baseline is grade 4", "GGT", 1600.1, 61, 80, 4),
]


@pytest.mark.parametrize(
    ("testcd", "value", "uln", "baseline", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in BASELINE_CASES],
)
def test_liver_enzyme_is_graded_against_uln_or_abnormal_baseline(
    grade_one: GradeOne, testcd: str, value: float, uln: float, baseline: float, expected: int
) -> None:
    nrind = "HIGH" if baseline > uln else "NORMAL"
    unit = "umol/L" if testcd == "BILI" else "U/L"
    assert grade_one(testcd, value, unit, lln=0, uln=uln, base=baseline, bnrind=nrind) == (
        None,
        expected,
    )


def test_alt_without_baseline_is_graded_on_the_uln_rules(grade_one: GradeOne) -> None:
    assert grade_one("ALT", 120.1, "U/L", uln=40) == (None, 2)


def test_a_low_baseline_indicator_counts_as_normal_for_alt(grade_one: GradeOne) -> None:
    assert grade_one("ALT", 120.1, "U/L", uln=40, base=2, bnrind="LOW") == (None, 2)


def test_alt_without_uln_is_not_gradable_even_with_an_abnormal_baseline(
    grade_one: GradeOne,
) -> None:
    assert grade_one("ALT", 500, "U/L", base=60, bnrind="HIGH") == (None, None)


def test_creatinine_is_the_worse_of_the_uln_and_the_baseline_multiples(
    grade_one: GradeOne,
) -> None:
    """CTCAE v5.0: grade 2 ">1.5 - 3.0 x baseline; >1.5 - 3.0 x ULN", grade 3 ">3.0 x baseline"."""
    assert grade_one("CREAT", 100, "umol/L", uln=110, base=60) == (None, 2)
    assert grade_one("CREAT", 181, "umol/L", uln=110, base=60) == (None, 3)
    assert grade_one("CREAT", 660, "umol/L", uln=110, base=60) == (None, 3)
    assert grade_one("CREAT", 661, "umol/L", uln=110, base=60) == (None, 4)
    assert grade_one("CREAT", 111, "umol/L", uln=110, base=100) == (None, 1)


def test_creatinine_without_uln_is_graded_from_baseline_when_it_can_be(
    grade_one: GradeOne,
) -> None:
    assert grade_one("CREAT", 200, "umol/L", base=60) == (None, 3)
    assert grade_one("CREAT", 80, "umol/L", base=60) == (None, None)


def test_inr_uses_the_baseline_multiple_when_a_baseline_exists(grade_one: GradeOne) -> None:
    """CTCAE v5.0 INR: >1.2 - 1.5 (or >1 - 1.5 x baseline if on anticoagulation): worst case."""
    assert grade_one("INR", 1.1, None, base=1.0) == (None, 1)
    assert grade_one("INR", 1.0, None, base=1.0) == (None, 0)
    assert grade_one("INR", 2.6, None, base=1.0) == (None, 3)


def test_fibrinogen_below_lln_uses_the_percent_fall_from_baseline(grade_one: GradeOne) -> None:
    """CTCAE v5.0: "<0.75 - 0.5 x LLN or 25 - <50% decrease from baseline" etc."""
    assert grade_one("FIBRINO", 1.9, "g/L", lln=2.0, base=3.0) == (2, None)  # -36.7 %
    assert grade_one("FIBRINO", 1.9, "g/L", lln=2.0, base=4.0) == (3, None)  # -52.5 %
    assert grade_one("FIBRINO", 1.9, "g/L", lln=2.0, base=8.0) == (4, None)  # -76.25 %
    assert grade_one("FIBRINO", 1.9, "g/L", lln=2.0, base=2.4) == (1, None)  # -20.8 %
    assert grade_one("FIBRINO", 1.9, "g/L", lln=2.0) == (1, None)


@pytest.mark.parametrize("testcd", ["PLAT", "NEUT", "ANC", "WBC", "LYM", "CD4", "HGB", "ALB"])
def test_value_above_the_absolute_cutoffs_without_lln_is_not_gradable(
    grade_one: GradeOne, testcd: str
) -> None:
    unit = {"HGB": "g/L", "ALB": "g/L"}.get(testcd, "10^9/L")
    low, _high = grade_one(testcd, 500, unit)
    assert low is None


def test_platelets_below_75_are_grade_2_even_without_lln(grade_one: GradeOne) -> None:
    assert grade_one("PLAT", 70, "10^9/L") == (2, None)


def test_missing_value_is_not_gradable_in_either_direction(grade_one: GradeOne) -> None:
    assert grade_one("HGB", None, "g/L", lln=120, uln=160) == (None, None)
