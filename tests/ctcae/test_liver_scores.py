"""Child-Pugh and ALBI against worked examples from the literature."""

from __future__ import annotations

import numpy as np
import pytest

from aewatch.ctcae.liver_scores import (
    ChildPughBands,
    albi,
    ascites_from_ae_grade,
    child_pugh,
    encephalopathy_from_ae_grade,
)


def test_child_pugh_textbook_example_scores_8_class_b() -> None:
    """Bilirubin 2.5 mg/dL (42.75 µmol/L, 2) + albumin 3.2 g/dL (2) + INR 1.5 (1) + mild ascites
    (2) + no encephalopathy (1) = 8, class B: Pugh RN et al., Br J Surg 1973;60:646-9, as
    tabulated in Durand F & Valla D, J Hepatol 2005;42:S100 and safety_domain.md §3.2."""
    out = child_pugh(2.5 * 17.1, 32, 1.5, "mild", "none").iloc[0]
    assert [
        out[c] for c in ("cp_bilirubin", "cp_albumin", "cp_inr", "cp_ascites", "cp_encephalopathy")
    ] == [2, 2, 1, 2, 1]
    assert out["cp_score"] == 8
    assert out["cp_class"] == "B"


@pytest.mark.parametrize(("bilirubin", "points"), [(33.9, 1), (34, 2), (50, 2), (50.1, 3)])
def test_bilirubin_band_edges_are_34_and_50_umol_per_litre(bilirubin: float, points: int) -> None:
    assert child_pugh(bilirubin, 40, 1.0, 1, 1).iloc[0]["cp_bilirubin"] == points


@pytest.mark.parametrize(("albumin", "points"), [(35.1, 1), (35, 2), (28, 2), (27.9, 3)])
def test_albumin_band_edges_are_35_and_28_grams_per_litre(albumin: float, points: int) -> None:
    assert child_pugh(10, albumin, 1.0, 1, 1).iloc[0]["cp_albumin"] == points


@pytest.mark.parametrize(("inr", "points"), [(1.69, 1), (1.7, 2), (2.3, 2), (2.31, 3)])
def test_inr_band_edges_are_1_7_and_2_3(inr: float, points: int) -> None:
    assert child_pugh(10, 40, inr, 1, 1).iloc[0]["cp_inr"] == points


def test_class_edges_are_6_9_and_15() -> None:
    """Class A 5-6, B 7-9, C 10-15 (Pugh 1973)."""
    out = child_pugh(
        [10, 10, 40, 60, 60],
        [40, 40, 30, 25, 25],
        [1.0, 1.0, 2.0, 2.5, 2.5],
        ["none", "mild", "mild", "moderate-severe", "moderate-severe"],
        ["none", "none", "none", "mild", "moderate-severe"],
    )
    assert list(out["cp_score"]) == [5, 6, 9, 14, 15]
    assert list(out["cp_class"]) == ["A", "A", "B", "C", "C"]


def test_a_missing_finding_leaves_the_score_missing() -> None:
    out = child_pugh([np.nan], [40], [1.0], ["none"], ["none"]).iloc[0]
    assert out["cp_score"] is np.nan or str(out["cp_score"]) == "<NA>"
    assert out["cp_class"] is None


def test_band_edges_are_configurable() -> None:
    """Some tables use bilirubin > 51 µmol/L (3 mg/dL) for 3 points."""
    bands = ChildPughBands(bilirubin_umol_l=(34.0, 51.0))
    assert child_pugh(51, 40, 1.0, 1, 1, bands=bands).iloc[0]["cp_bilirubin"] == 2


def test_ctcae_ascites_grades_map_to_child_pugh_points() -> None:
    assert list(ascites_from_ae_grade([0, 1, 2, 3, 4, 5, np.nan])) == [1, 2, 2, 3, 3, 3, 1]


def test_ctcae_encephalopathy_grades_map_to_child_pugh_points() -> None:
    assert list(encephalopathy_from_ae_grade([0, 1, 2, 3, 4])) == [1, 2, 2, 3, 3]


def test_albi_worked_examples() -> None:
    """Johnson PJ et al., J Clin Oncol 2015;33:550-8: ALBI = 0.66·log10(bili µmol/L) − 0.085·alb
    g/L; grade 1 ≤ −2.60 < grade 2 ≤ −1.39 < grade 3. Values as in safety_domain.md §3.3."""
    out = albi([10, 17.1, 20.52], [42, 40, 35])
    assert list(np.round(out["albi_score"], 3)) == [-2.910, -2.586, -2.109]
    assert list(out["albi_grade"]) == [1, 2, 2]


def test_albi_exactly_at_minus_2_60_is_grade_1() -> None:
    """Albumin chosen so the score is −2.60 to 15 digits: the ≤ edge belongs to grade 1."""
    bilirubin = 10.0
    albumin = (0.66 * np.log10(bilirubin) + 2.60) / 0.085
    assert albi(bilirubin, albumin).iloc[0]["albi_grade"] == 1
    assert albi(bilirubin, albumin - 0.001).iloc[0]["albi_grade"] == 2


def test_albi_grade_3_above_minus_1_39() -> None:
    assert albi(50, 20).iloc[0]["albi_grade"] == 3
    assert albi(np.nan, 20)["albi_grade"].isna().all()
