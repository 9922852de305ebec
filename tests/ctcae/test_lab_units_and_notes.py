"""Unit spellings, conversions and the notes that say why a row was not graded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aewatch.ctcae.labs import LAB_TEST_MAP, grade_labs, load_lab_test_map
from aewatch.ctcae.units import conversion, normalise_unit

GradeOne = Callable[..., tuple[Any, Any]]


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("GI/L", "10^9/L"),
        ("10^9/L", "10^9/L"),
        ("10E9/L", "10^9/L"),
        ("x10^9/L", "10^9/L"),
        ("X10E9/L", "10^9/L"),
        ("10*9/L", "10^9/L"),
        (" 10^9 /l ", "10^9/L"),
        ("K/uL", "10^3/uL"),
        ("10^3/µL", "10^3/uL"),
        ("cells/mm3", "/uL"),
        ("g/dl", "g/dL"),
        ("G/L", "g/L"),
        ("MMOL/L", "mmol/L"),
        ("µmol/L", "umol/L"),
        ("μmol/L", "umol/L"),
        ("IU/L", "U/L"),
        ("U/L", "U/L"),
        ("mEq/L", "mEq/L"),
        ("sec", "s"),
    ],
)
def test_unit_spellings_normalise_to_one_canonical_unit(spelling: str, canonical: str) -> None:
    assert normalise_unit(spelling) == canonical


def test_blank_and_unknown_units_are_kept_as_missing_or_as_written() -> None:
    assert normalise_unit("  ") is None
    assert normalise_unit(None) is None
    assert normalise_unit(" furlongs ") == "furlongs"


def test_haemoglobin_mmol_per_litre_converts_to_grams_per_litre_with_16_1135() -> None:
    conv = conversion("HGB", "mmol/L", "g/L")
    assert conv is not None
    assert conv.multiply / conv.divide == pytest.approx(16.1135)
    back = conversion("HGB", "g/L", "mmol/L")
    assert back is not None and back.divide == pytest.approx(16.1135)


def test_glucose_and_minerals_use_their_molar_masses() -> None:
    assert conversion("GLUC", "mg/dL", "mmol/L").divide == 18.016  # type: ignore[union-attr]
    assert conversion("CA", "mg/dL", "mmol/L").divide == 4.008  # type: ignore[union-attr]
    assert conversion("MG", "mg/dL", "mmol/L").divide == 2.431  # type: ignore[union-attr]
    assert conversion("GLUC", "g/L", "mmol/L") is None


def test_cdisc_pilot_haemoglobin_in_mmol_per_litre_is_graded_after_conversion(
    grade_one: GradeOne,
) -> None:
    """6.0 mmol/L × 16.1135 = 96.7 g/L: anemia grade 2 (< 100 g/L)."""
    assert grade_one("HGB", 6.0, "mmol/L", lln=7.14, uln=9.81) == (2, 0)
    assert grade_one("HGB", 4.9, "mmol/L", lln=7.14, uln=9.81) == (3, 0)  # 78.96 g/L


def test_haemoglobin_in_grams_per_decilitre_uses_the_ctcae_g_dl_cutoffs(
    grade_one: GradeOne,
) -> None:
    assert grade_one("HGB", 7.99, "g/dL", lln=12, uln=16) == (3, 0)
    assert grade_one("HGB", 8.0, "g/dL", lln=12, uln=16) == (2, 0)
    assert grade_one("HGB", 16.1, "g/dL", lln=12, uln=16) == (0, 1)


def test_glucose_in_mg_per_decilitre_uses_the_ctcae_mg_dl_cutoffs(grade_one: GradeOne) -> None:
    """The NCI text gives both: <55 mg/dL and <3.0 mmol/L are grade 2."""
    assert grade_one("GLUC", 54.9, "mg/dL", lln=70, uln=110) == (2, None)
    assert grade_one("GLUC", 55, "mg/dL", lln=70, uln=110) == (1, None)


def test_potassium_in_meq_per_litre_is_graded_as_mmol_per_litre(grade_one: GradeOne) -> None:
    assert grade_one("K", 6.1, "mEq/L", lln=3.5, uln=5.1) == (0, 3)


def test_platelets_in_cells_per_microlitre_are_graded_on_the_legacy_cutoffs(
    grade_one: GradeOne,
) -> None:
    assert grade_one("PLAT", 74_000, "/uL", lln=150_000, uln=400_000) == (2, None)
    assert grade_one("PLAT", 74, "K/uL", lln=150, uln=400) == (2, None)


def test_conventional_unit_system_converts_si_records_when_needed(grade_one: GradeOne) -> None:
    assert grade_one("HGB", 79, "g/L", lln=120, uln=160, unit_system="CONV") == (3, 0)
    assert grade_one("GLUC", 2.9, "mmol/L", lln=3.9, uln=6.1, unit_system="CONV") == (2, None)


def test_without_conversion_only_exact_unit_matches_are_graded() -> None:
    lb = pd.DataFrame(
        {
            "USUBJID": ["S1"],
            "LBTESTCD": ["HGB"],
            "LBSTRESN": [6.0],
            "LBSTRESU": ["mmol/L"],
            "LBSTNRLO": [7.14],
            "LBSTNRHI": [9.81],
        }
    )
    out = grade_labs(lb, convert_units=False).iloc[0]
    assert pd.isna(out["tox_grade_low"]) and pd.isna(out["tox_grade_high"])
    assert "unit 'mmol/L' not convertible for Anemia (expects g/L)" in out["tox_note"]


def test_unconvertible_unit_is_reported_with_the_unit_the_rule_expects(
    grade_with_note: Callable[..., pd.Series],
) -> None:
    out = grade_with_note(LBTESTCD="HGB", LBSTRESN=12.0, LBSTRESU="mg/dL", LBSTNRLO=12, LBSTNRHI=16)
    assert pd.isna(out["tox_grade_low"])
    assert out["tox_note"] == (
        "unit 'mg/dL' not convertible for Anemia (expects g/L); "
        "unit 'mg/dL' not convertible for Hemoglobin increased (expects g/L)"
    )


def test_missing_unit_is_not_gradable_for_absolute_cutoffs(
    grade_with_note: Callable[..., pd.Series],
) -> None:
    out = grade_with_note(LBTESTCD="PLAT", LBSTRESN=20.0, LBSTRESU=None, LBSTNRLO=150)
    assert pd.isna(out["tox_grade_low"])
    assert out["tox_note"] == "no unit (LBSTRESU) for PLAT; Platelet count decreased expects 10^9/L"


def test_ratio_rules_grade_without_any_unit(grade_one: GradeOne) -> None:
    assert grade_one("ALT", 130, None, uln=40) == (None, 2)


def test_missing_upper_limit_is_named_in_the_note(
    grade_with_note: Callable[..., pd.Series],
) -> None:
    out = grade_with_note(LBTESTCD="ALT", LBSTRESN=80.0, LBSTRESU="U/L")
    assert out["tox_note"] == "no reference range (LBSTNRHI) for ALT"
    assert out["tox_term_high"] == "Alanine aminotransferase increased"


def test_missing_lower_limit_is_named_in_the_note(
    grade_with_note: Callable[..., pd.Series],
) -> None:
    out = grade_with_note(LBTESTCD="ALB", LBSTRESN=34.0, LBSTRESU="g/L", LBSTNRHI=50)
    assert pd.isna(out["tox_grade_low"])
    assert out["tox_note"] == "no reference range (LBSTNRLO) for ALB"


def test_alt_without_baseline_says_it_was_graded_on_uln_rules(
    grade_with_note: Callable[..., pd.Series],
) -> None:
    out = grade_with_note(LBTESTCD="ALT", LBSTRESN=80.0, LBSTRESU="U/L", LBSTNRHI=40)
    assert out["tox_grade_high"] == 1
    assert out["tox_note"] == "no baseline for ALT; graded on ULN rules"


def test_unmapped_test_code_gets_a_reason_not_a_grade(
    grade_with_note: Callable[..., pd.Series],
) -> None:
    out = grade_with_note(LBTESTCD="BUN", LBSTRESN=9.0, LBSTRESU="mmol/L")
    assert pd.isna(out["tox_grade"])
    assert out["tox_note"] == "no CTCAE v5.0 lab criteria for LBTESTCD 'BUN'"
    assert out["tox_term_low"] is None and out["tox_term_high"] is None


def test_inr_at_or_below_1_2_without_baseline_explains_why(
    grade_with_note: Callable[..., pd.Series],
) -> None:
    out = grade_with_note(LBTESTCD="INR", LBSTRESN=1.1)
    assert out["tox_note"] == (
        "no baseline for INR; INR increased cannot be graded at this value without one"
    )


def test_worse_direction_is_reported_as_tox_term_and_grade() -> None:
    lb = pd.DataFrame(
        {
            "USUBJID": ["S1"] * 2,
            "LBTESTCD": ["K", "K"],
            "LBSTRESN": [2.9, 6.5],
            "LBSTRESU": ["mmol/L"] * 2,
            "LBSTNRLO": [3.5] * 2,
            "LBSTNRHI": [5.1] * 2,
        }
    )
    out = grade_labs(lb)
    assert list(out["tox_term"]) == ["Hypokalemia", "Hyperkalemia"]
    assert list(out["tox_grade"]) == [3, 3]
    assert str(out["tox_grade"].dtype) == "Int64"


def test_output_is_index_aligned_with_the_input() -> None:
    lb = pd.DataFrame(
        {
            "USUBJID": ["S1", "S2"],
            "LBTESTCD": ["ALT", "PLAT"],
            "LBSTRESN": [41.0, 40.0],
            "LBSTRESU": ["U/L", "GI/L"],
            "LBSTNRLO": [0, 150],
            "LBSTNRHI": [40, 400],
        },
        index=[101, 7],
    )
    out = grade_labs(lb)
    assert list(out.index) == [101, 7]
    assert out.loc[7, "tox_grade_low"] == 3  # 40 × 10^9/L: < 50
    assert out.loc[101, "tox_grade_high"] == 1


def test_empty_input_gives_an_empty_result_with_all_columns() -> None:
    out = grade_labs(pd.DataFrame(columns=["USUBJID", "LBTESTCD", "LBSTRESN"]))
    assert out.empty
    assert list(out.columns) == [
        "tox_term_low",
        "tox_grade_low",
        "tox_term_high",
        "tox_grade_high",
        "tox_term",
        "tox_grade",
        "tox_note",
    ]


def test_test_map_has_common_sdtm_synonyms() -> None:
    for synonym, main in [
        ("PLT", "PLAT"),
        ("TBILI", "BILI"),
        ("ANC", "NEUT"),
        ("NA", "SODIUM"),
        ("POTAS", "K"),
        ("SGPT", "ALT"),
        ("CHOLES", "CHOL"),
    ]:
        assert LAB_TEST_MAP[synonym].analyte == LAB_TEST_MAP[main].analyte


def test_glucose_maps_to_hypoglycemia_only() -> None:
    assert LAB_TEST_MAP["GLUC"].term_low == "Hypoglycemia"
    assert LAB_TEST_MAP["GLUC"].term_high is None


def test_a_site_can_add_its_own_test_codes(tmp_path: Any) -> None:
    extra = tmp_path / "site_map.csv"
    extra.write_text(
        "lbtestcd,analyte,term_low,term_high,note\nALAT,ALT,,"
        "Alanine aminotransferase increased,site code\n",
        encoding="utf-8",
    )
    table = load_lab_test_map(extra)
    lb = pd.DataFrame(
        {
            "USUBJID": ["S1"],
            "LBTESTCD": ["alat"],
            "LBSTRESN": [130.0],
            "LBSTRESU": ["U/L"],
            "LBSTNRHI": [40.0],
        }
    )
    assert grade_labs(lb, test_map=table).iloc[0]["tox_grade_high"] == 2
    assert "ALT" in table


def test_every_term_in_the_test_map_has_rules() -> None:
    from aewatch.ctcae.rules import rule_sets_for

    for lab in LAB_TEST_MAP.values():
        for term, direction in ((lab.term_low, "L"), (lab.term_high, "H")):
            if term:
                assert rule_sets_for(term, direction), (lab.testcd, term)


def test_rounding_makes_three_times_one_point_two_equal_three_point_six() -> None:
    from aewatch.ctcae.numeric import compare, signif

    assert 3 * 1.2 < 3.6  # the float trap
    assert signif(3 * 1.2) == signif(3.6)
    assert not compare(np.array([3.6]), ">", np.array([3 * 1.2]))[0]
    assert not compare(np.array([np.nan]), "<", np.array([1.0]))[0]


def test_empty_test_code_is_named_as_empty(grade_with_note: Callable[..., pd.Series]) -> None:
    out = grade_with_note(LBTESTCD=None, LBSTRESN=1.0)
    assert out["tox_note"] == "no CTCAE v5.0 lab criteria for LBTESTCD '(empty)'"
