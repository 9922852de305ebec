"""The CTCAE v5.0 dictionary: lookups, grades defined per term, and AE term coding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aewatch.ctcae.dictionary import DICTIONARY_VERSION, Term, code_terms, load_dictionary


def test_dictionary_holds_all_837_terms_in_26_socs() -> None:
    d = load_dictionary()
    assert len(d) == 837
    assert len({t.soc for t in d.terms}) == 26
    assert DICTIONARY_VERSION == "CTCAE v5.0 (2017-11-27)"
    assert d.version == DICTIONARY_VERSION


def test_loader_is_cached() -> None:
    assert load_dictionary() is load_dictionary()


def test_lookup_ignores_case_and_whitespace() -> None:
    term = load_dictionary().lookup("  alanine   aminotransferase INCREASED ")
    assert term is not None
    assert term.term == "Alanine aminotransferase increased"
    assert term.soc == "Investigations"
    assert term.meddra_code == 10001551


@pytest.mark.parametrize("code", [10001551, "10001551", " 10001551 "])
def test_lookup_accepts_the_meddra_code_as_int_or_text(code: int | str) -> None:
    term = load_dictionary().lookup(code)
    assert term is not None and term.term == "Alanine aminotransferase increased"


def test_unknown_term_or_code_looks_up_to_none() -> None:
    d = load_dictionary()
    assert d.lookup("Liver pain") is None
    assert d.lookup(12345678) is None
    assert d.lookup(None) is None


def test_alt_increased_defines_grades_one_to_four_and_no_death() -> None:
    term = load_dictionary().lookup("Alanine aminotransferase increased")
    assert isinstance(term, Term)
    assert term.grades == (1, 2, 3, 4)
    assert term.grade_text(5) is None
    assert term.grade_text(3) is not None and term.grade_text(3).startswith(">5.0 - 20.0 x ULN")


def test_hepatic_failure_starts_at_grade_three() -> None:
    term = load_dictionary().lookup("Hepatic failure")
    assert term is not None and term.grades == (3, 4, 5)


def test_terms_are_frozen_values() -> None:
    term = load_dictionary().lookup("Ascites")
    with pytest.raises(AttributeError):
        term.term = "x"  # type: ignore[misc, union-attr]


def test_other_specify_is_found_by_soc_in_any_case() -> None:
    d = load_dictionary()
    other = d.other_specify("HEPATOBILIARY disorders")
    assert other is not None and other.term == "Hepatobiliary disorders - Other, specify"
    # NCI's own spelling differs from the SOC name ("disorder"): found via the SOC column.
    muscle = d.other_specify("Musculoskeletal and connective tissue disorders")
    assert muscle is not None
    assert muscle.term == "Musculoskeletal and connective tissue disorder - Other, specify"
    assert d.other_specify("Not a SOC") is None
    assert d.other_specify(None) is None


def test_suggestions_offer_close_spellings() -> None:
    assert "Alanine aminotransferase increased" in load_dictionary().suggest(
        "Alanin aminotransferase"
    )


def test_exact_aedecod_codes_plainly() -> None:
    out = code_terms(
        pd.DataFrame(
            {
                "AEDECOD": ["Ascites"],
                "AETERM": ["fluid in belly"],
                "AEBODSYS": ["Gastrointestinal disorders"],
            }
        )
    )
    row = out.iloc[0]
    assert (row["ctcae_term"], row["ctcae_soc"], row["meddra_code"], row["coding"]) == (
        "Ascites",
        "Gastrointestinal disorders",
        10003445,
        "exact",
    )
    assert row["coding_note"] is None


def test_unknown_aedecod_falls_back_to_other_specify_of_its_body_system() -> None:
    out = code_terms(
        pd.DataFrame(
            {
                "AEDECOD": ["Liver pain"],
                "AETERM": ["pain over liver"],
                "AEBODSYS": ["Hepatobiliary disorders"],
            }
        )
    )
    row = out.iloc[0]
    assert row["ctcae_term"] == "Hepatobiliary disorders - Other, specify"
    assert row["coding"] == "other_specify"
    assert row["coding_note"] == (
        "AEDECOD 'Liver pain' is not a CTCAE v5.0 term; coded to "
        "'Hepatobiliary disorders - Other, specify' from AEBODSYS — review"
    )


def test_aeterm_is_tried_when_aedecod_is_not_a_term() -> None:
    out = code_terms(
        pd.DataFrame({"AEDECOD": ["Liver pain", np.nan], "AETERM": ["Ascites", "Nausea"]})
    )
    assert list(out["ctcae_term"]) == ["Ascites", "Nausea"]
    assert out.iloc[0]["coding_note"] == (
        "AEDECOD 'Liver pain' is not a CTCAE v5.0 term; matched on AETERM 'Ascites'"
    )
    assert out.iloc[1]["coding_note"] == "AEDECOD is empty; matched on AETERM 'Nausea'"


def test_british_meddra_spelling_matches_the_us_ctcae_term() -> None:
    out = code_terms(pd.DataFrame({"AEDECOD": ["DIARRHOEA", "Anaemia", "Oedema limbs"]}))
    assert list(out["ctcae_term"]) == ["Diarrhea", "Anemia", "Edema limbs"]
    assert set(out["coding"]) == {"exact"}
    assert "British → US spelling" in out.iloc[0]["coding_note"]


def test_v4_term_is_recoded_to_its_v5_term_with_a_note() -> None:
    out = code_terms(pd.DataFrame({"AEDECOD": ["External ear inflammation"]}))
    row = out.iloc[0]
    assert row["ctcae_term"] == "Otitis externa"
    assert row["coding"] == "exact"
    assert "CTCAE v4.03 term" in row["coding_note"]


def test_removed_v4_term_is_recoded_to_other_specify_with_the_text_to_specify() -> None:
    row = code_terms(pd.DataFrame({"AEDECOD": ["Spleen disorder"]})).iloc[0]
    assert row["ctcae_term"] == "Blood and lymphatic system disorders - Other, specify"
    assert row["coding"] == "other_specify"
    assert "(specify: Spleen disorder)" in row["coding_note"]


def test_uncodable_rows_say_what_is_missing() -> None:
    out = code_terms(
        pd.DataFrame(
            {"AEDECOD": ["Foo", None], "AETERM": ["bar", None], "AEBODSYS": ["Nonsense", None]}
        )
    )
    assert list(out["coding"]) == ["uncoded", "uncoded"]
    assert out["ctcae_term"].isna().all()
    assert out["meddra_code"].isna().all()
    assert "AEBODSYS 'Nonsense' is not a CTCAE SOC" in out.iloc[0]["coding_note"]
    assert out.iloc[1]["coding_note"] == "AEDECOD and AETERM are empty"


def test_coding_works_with_any_column_missing_and_keeps_the_index() -> None:
    out = code_terms(pd.DataFrame({"AETERM": ["Fatigue", "Fatigue"]}, index=["a", "b"]))
    assert list(out.index) == ["a", "b"]
    assert list(out["ctcae_term"]) == ["Fatigue", "Fatigue"]
    assert str(out["meddra_code"].dtype) == "Int64"
