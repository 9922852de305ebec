"""The data shipped in src/aewatch/ctcae/data is the project's reference, converted faithfully.

Comparisons with ../shared skip where it is absent; the structure checks always run.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from aewatch.ctcae._data import data_path, read_rows
from aewatch.ctcae.refresh_data import build_rules, clause_rows
from aewatch.ctcae.rules import load_rule_sets

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "ctcae"
LOCAL_RULES = Path(__file__).resolve().parent / "data" / "lab_grading_rules_ctcv5_long.csv"
needs_reference = pytest.mark.skipif(not REFERENCE.exists(), reason="no ../shared reference")


@needs_reference
def test_shipped_term_list_is_the_reference_file_byte_for_byte() -> None:
    shipped = data_path("ctcae_v5_terms.csv").read_bytes()
    assert shipped == (REFERENCE / "ctcae_v5_terms.csv").read_bytes()


@needs_reference
def test_test_copy_of_the_rules_is_the_reference_file() -> None:
    assert LOCAL_RULES.read_bytes() == (REFERENCE / "lab_grading_rules_ctcv5_long.csv").read_bytes()


def test_shipped_rules_are_the_conversion_of_the_reference_rules() -> None:
    rebuilt = build_rules(read_rows(LOCAL_RULES))
    with data_path("lab_rules_ctcv5.csv").open(encoding="utf-8") as handle:
        shipped = list(csv.DictReader(handle))
    assert shipped == rebuilt


def test_eighty_six_rule_sets_each_end_with_otherwise() -> None:
    rule_sets = load_rule_sets()
    assert len(rule_sets) == 86
    for rule_set in rule_sets.values():
        assert rule_set.clauses[-1].condition == "otherwise"


def test_or_guards_split_into_one_clause_per_missing_input() -> None:
    assert clause_rows("VALUE missing OR ULN missing") == [{"missing": "VALUE"}, {"missing": "ULN"}]
    assert clause_rows("BASELINE_NRIND is HIGH AND VALUE >= 1.5*BASELINE") == [
        {"nrind": "HIGH", "op": ">=", "ref": "BASELINE", "factor": "1.5", "offset": ""}
    ]
    assert clause_rows("VALUE > ULN + 40") == [
        {"op": ">", "ref": "ULN", "factor": "1", "offset": "40"}
    ]


def test_unsupported_condition_text_is_refused() -> None:
    with pytest.raises(ValueError):
        clause_rows("VALUE ~ ULN")


def test_data_source_note_is_shipped() -> None:
    text = data_path("SOURCE.md").read_text(encoding="utf-8")
    assert "CTCAE_v5.0_2017-11-27.xlsx" in text
    assert "admiral" in text
