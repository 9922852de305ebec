"""Data queries on site-reported grades: reported with a reason, never changed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aewatch.ctcae.reported import check_reported_grades


def _queries(**columns: list[object]) -> pd.DataFrame:
    return check_reported_grades(pd.DataFrame(columns))


def test_grade_5_for_a_term_without_grade_5_is_queried() -> None:
    q = _queries(
        ctcae_term=["Alanine aminotransferase increased"],
        grade=[5],
        outcome=["FATAL"],
        death=[True],
    )
    assert list(q["reason"]) == [
        "Grade 5 is not defined for 'Alanine aminotransferase increased' in CTCAE v5.0 "
        "(allowed: 1, 2, 3, 4)"
    ]
    assert list(q["field"]) == ["AETOXGR"]
    assert q.iloc[0]["index"] == 0
    assert q.iloc[0]["value"] == 5


def test_grade_below_the_first_defined_grade_is_queried() -> None:
    q = _queries(ctcae_term=["Hepatic failure"], grade=[2], outcome=[""], death=[False])
    assert list(q["check"]) == ["grade_not_defined"]
    assert "(allowed: 3, 4, 5)" in q.iloc[0]["reason"]


def test_grade_5_without_fatal_outcome_is_queried() -> None:
    q = _queries(
        ctcae_term=["Hepatic failure"], grade=[5], outcome=["RECOVERED/RESOLVED"], death=[False]
    )
    assert list(q["reason"]) == [
        "Grade 5 (death) reported but AEOUT is not FATAL and AESDTH is not Y"
    ]


def test_fatal_outcome_with_a_lower_grade_is_queried() -> None:
    q = _queries(ctcae_term=["Hepatic failure"], grade=[3], outcome=["FATAL"], death=[True])
    assert list(q["reason"]) == [
        "AEOUT is FATAL (or AESDTH=Y) but grade is 3: a death caused by the event is grade 5"
    ]


def test_death_on_a_term_without_grade_5_asks_for_a_fatal_term() -> None:
    q = _queries(ctcae_term=["Nausea"], grade=[3], outcome=[None], death=["Y"])
    assert "'Nausea' has no grade 5 in CTCAE v5.0" in q.iloc[0]["reason"]


def test_consistent_records_raise_no_query() -> None:
    q = _queries(
        ctcae_term=["Hepatic failure", "Nausea", "Ascites"],
        grade=[5, 2, "3"],
        outcome=["FATAL", "RECOVERED/RESOLVED", "NOT RECOVERED/NOT RESOLVED"],
        death=[True, False, "N"],
    )
    assert q.empty
    assert list(q.columns) == ["index", "field", "value", "reason", "check"]


def test_missing_and_out_of_scale_grades_are_queried() -> None:
    q = _queries(
        ctcae_term=["Nausea"] * 4,
        grade=[np.nan, 0, 6, "three"],
        outcome=[""] * 4,
        death=[False] * 4,
    )
    assert list(q["check"]) == [
        "grade_missing",
        "grade_out_of_scale",
        "grade_out_of_scale",
        "grade_out_of_scale",
    ]
    assert q.iloc[1]["reason"] == "Grade 0 is outside the CTCAE scale (1-5)"
    assert q.iloc[3]["reason"] == "AETOXGR 'three' is not a grade 1-5"


def test_uncoded_or_unknown_terms_are_queried() -> None:
    q = _queries(
        ctcae_term=[None, "Liver pain"], grade=[2, 2], outcome=["", ""], death=[False, False]
    )
    assert list(q["check"]) == ["term_missing", "term_unknown"]
    assert q.iloc[1]["reason"] == "'Liver pain' is not a CTCAE v5.0 term"


def test_fatal_outcome_and_death_flag_must_agree() -> None:
    q = _queries(
        ctcae_term=["Sepsis", "Sepsis"],
        grade=[5, 5],
        outcome=["FATAL", "UNKNOWN"],
        death=["N", "Y"],
    )
    assert list(q["check"]) == ["fatal_without_aesdth", "aesdth_without_fatal"]


def test_vanished_v4_grade_gets_nci_mapping_hint() -> None:
    q = _queries(ctcae_term=["Agitation"], grade=[5], outcome=["FATAL"], death=[True])
    assert q.iloc[0]["reason"].endswith(
        "NCI's v4→v5 mapping moves grade 5 'Agitation' to 'Psychiatric disorders - Other, specify'"
    )


def test_queries_carry_the_input_index_labels_in_input_order() -> None:
    df = pd.DataFrame(
        {
            "ctcae_term": ["Nausea", "Nausea"],
            "grade": [5, 4],
            "outcome": ["", ""],
            "death": [False, False],
        },
        index=["ae-9", "ae-2"],
    )
    q = check_reported_grades(df)
    assert list(q["index"]) == ["ae-9", "ae-9", "ae-2"]


def test_input_is_not_modified() -> None:
    df = pd.DataFrame({"ctcae_term": ["Nausea"], "grade": [5], "outcome": [""], "death": [False]})
    before = df.copy()
    check_reported_grades(df)
    pd.testing.assert_frame_equal(df, before)
