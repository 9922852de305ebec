"""The plausibility ranges and the synonym table: data files with sources, and ranges that
can never exclude a real toxicity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aewatch.ctcae._data import data_path, read_rows
from aewatch.ctcae.dictionary import load_dictionary
from aewatch.ctcae.labs import LAB_TEST_MAP
from aewatch.ctcae.plausibility import (
    PlausibleRange,
    implausible_results,
    plausibility_ranges,
    shipped_ranges,
)
from aewatch.ctcae.units import conversion


def test_every_graded_analyte_has_a_plausibility_range() -> None:
    graded = {t.analyte for t in LAB_TEST_MAP.values() if t.term_low or t.term_high}
    assert graded <= set(shipped_ranges()), graded - set(shipped_ranges())


def test_every_range_says_why_and_the_data_files_have_their_source() -> None:
    for entry in shipped_ranges().values():
        assert entry.reason and entry.low < entry.high
    source = data_path("SOURCE.md").read_text()
    assert "lab_plausibility.csv" in source and "term_synonyms.csv" in source


def test_no_ctcae_threshold_lies_outside_its_analytes_plausible_range() -> None:
    """A value at any CTCAE v5.0 cut-off (grade 4 platelets < 25, potassium > 7 …) is a real,
    if extreme, result: the plausibility ranges must never exclude it."""
    analyte_of = {}
    for test in LAB_TEST_MAP.values():
        for term in (test.term_low, test.term_high):
            if term:
                analyte_of[term] = test.analyte
    ranges = shipped_ranges()
    checked = 0
    for rule in read_rows("lab_rules_ctcv5.csv"):
        if rule["ref"] != "CONSTANT" or rule["term"] not in analyte_of:
            continue
        analyte = analyte_of[rule["term"]]
        bounds = ranges[analyte]
        value = float(rule["const"])
        if bounds.unit and rule["unit"]:
            factor = conversion(analyte, rule["unit"], bounds.unit)
            assert factor is not None, (analyte, rule["unit"], bounds.unit)
            value = value * factor.multiply / factor.divide
        assert bounds.low <= value <= bounds.high, (rule["rule_set"], rule["const"], bounds)
        checked += 1
    assert checked > 60


def test_every_synonym_codes_to_a_ctcae_v5_term() -> None:
    dictionary = load_dictionary()
    for row in read_rows("term_synonyms.csv"):
        assert dictionary.lookup(row["ctcae_term"]) is not None, row
        found = dictionary.lookup_synonym(row["synonym"])
        assert found is not None and found[0].term == row["ctcae_term"], row


def test_a_value_in_another_unit_is_judged_in_the_ranges_unit() -> None:
    problems = implausible_results(
        pd.Series(["PLAT", "PLAT", "HGB", "HGB"]),
        [150_000, 6_000_000, 13.5, 1.5],
        pd.Series(["/uL", "/uL", "g/dL", "g/dL"]),
        [np.nan] * 4,
        [np.nan] * 4,
    )
    assert problems["index"].tolist() == [1, 3]


def test_a_range_from_the_config_replaces_the_shipped_one() -> None:
    ranges = plausibility_ranges([PlausibleRange("PLAT", "10^9/L", 0, 1000)])
    problems = implausible_results(
        pd.Series(["PLAT"]), [1500.0], pd.Series(["10^9/L"]), [150.0], [400.0], ranges
    )
    assert problems["reason"].tolist() == [
        "result LBSTRESN '1500' 10^9/L is not a plausible PLAT result (plausible: 0 to 1000 10^9/L)"
    ]


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(
    value=st.floats(allow_nan=True, allow_infinity=True),
    low=st.floats(allow_nan=True, allow_infinity=True),
    high=st.floats(allow_nan=True, allow_infinity=True),
    test=st.sampled_from(["PLAT", "ALT", "ALB", "HGB", "K", "XYZ", ""]),
    unit=st.sampled_from(["10^9/L", "U/L", "g/L", "g/dL", "mmol/L", "", "?"]),
)
def test_a_result_that_passes_is_finite_non_negative_and_has_a_sane_range(
    value: float, low: float, high: float, test: str, unit: str
) -> None:
    problems = implausible_results(
        pd.Series([test]), [value], pd.Series([unit or None]), [low], [high]
    )
    if problems.empty:
        assert not np.isinf(value)
        assert not (np.isfinite(low) and np.isfinite(high) and low >= high)
        assert not np.isinf(low) and not np.isinf(high)
        if test in ("PLAT", "ALT", "ALB", "HGB", "K") and np.isfinite(value):
            assert value >= 0


@pytest.mark.parametrize("text", ["nan", "NaN", "-nan"])
def test_nan_written_out_is_not_finite_but_an_empty_cell_is_just_missing(text: str) -> None:
    written = implausible_results(
        pd.Series(["ALT", "ALT"]),
        [np.nan, np.nan],
        pd.Series(["U/L", "U/L"]),
        [0.0, 0.0],
        [40.0, 40.0],
        value_texts=pd.Series([text, ""]),
    )
    assert written["index"].tolist() == [0]
