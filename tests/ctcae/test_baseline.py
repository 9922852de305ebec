"""Baseline: the last non-missing result on or before the subject's reference start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from aewatch.ctcae.isodates import MISSING_DAY, parse_iso_dates
from aewatch.ctcae.labs import derive_baseline, grade_labs, reference_indicator

MakeLb = Callable[[list[dict[str, Any]]], pd.DataFrame]


def _alt(value: float | None, dtc: str, uln: float = 40.0, **extra: Any) -> dict[str, Any]:
    return {
        "LBTESTCD": "ALT",
        "LBSTRESN": np.nan if value is None else value,
        "LBSTRESU": "U/L",
        "LBSTNRLO": 0.0,
        "LBSTNRHI": uln,
        "LBDTC": dtc,
        **extra,
    }


def test_baseline_is_the_last_value_on_or_before_the_reference_start(make_lb: MakeLb) -> None:
    lb = make_lb([_alt(20, "2024-01-01"), _alt(30, "2024-01-10T08:00"), _alt(90, "2024-01-11")])
    base = derive_baseline(lb, {"S1": "2024-01-10"})
    assert len(base) == 1
    row = base.iloc[0]
    assert row["BASE"] == 30
    assert row["BASEMETH"] == "REFSTART"
    assert row["BASEROW"] == 1
    assert row["BNRIND"] == "NORMAL"


def test_missing_values_are_skipped_when_choosing_the_baseline(make_lb: MakeLb) -> None:
    lb = make_lb([_alt(25, "2024-01-01"), _alt(None, "2024-01-05")])
    assert derive_baseline(lb, {"S1": "2024-01-10"}).iloc[0]["BASE"] == 25


def test_baseline_above_uln_is_flagged_high_meaning_abnormal(make_lb: MakeLb) -> None:
    lb = make_lb([_alt(60, "2024-01-01")])
    assert derive_baseline(lb, {"S1": "2024-01-02"}).iloc[0]["BNRIND"] == "HIGH"


def test_reference_indicator_follows_admirals_anrind() -> None:
    value = np.array([1.0, 5.0, 10.0, 5.0, 5.0, np.nan])
    lln = np.array([2.0, 2.0, 2.0, np.nan, np.nan, 2.0])
    uln = np.array([8.0, 8.0, 8.0, 8.0, np.nan, 8.0])
    assert list(reference_indicator(value, lln, uln)) == [
        "LOW",
        "NORMAL",
        "HIGH",
        "NORMAL",
        None,
        None,
    ]


def test_partial_month_date_counts_only_when_the_whole_month_is_before_the_start(
    make_lb: MakeLb,
) -> None:
    lb = make_lb([_alt(20, "2024-01-02"), _alt(35, "2024-01")])
    assert derive_baseline(lb, {"S1": "2024-01-15"}).iloc[0]["BASE"] == 20
    assert derive_baseline(lb, {"S1": "2024-01-31"}).iloc[0]["BASE"] == 35


def test_subject_without_reference_start_falls_back_to_the_lbblfl_record(make_lb: MakeLb) -> None:
    lb = make_lb(
        [
            _alt(22, "2024-01-01", LBBLFL="Y"),
            _alt(50, "2024-01-05"),
            _alt(44, "2024-01-01", USUBJID="S2"),
        ]
    )
    base = derive_baseline(lb, {"S2": "2024-01-02"})
    by_subject = base.set_index("USUBJID")
    assert by_subject.loc["S1", "BASE"] == 22
    assert by_subject.loc["S1", "BASEMETH"] == "LBBLFL"
    assert by_subject.loc["S2", "BASEMETH"] == "REFSTART"


def test_without_any_reference_dates_lbblfl_gives_the_baseline(make_lb: MakeLb) -> None:
    lb = make_lb([_alt(22, "2024-01-01", LBBLFL="Y"), _alt(50, "2024-01-05")])
    assert derive_baseline(lb).iloc[0]["BASE"] == 22


def test_same_day_ties_go_to_the_higher_visit_then_sequence(make_lb: MakeLb) -> None:
    lb = make_lb(
        [
            _alt(21, "2024-01-01", VISITNUM=2, LBSEQ=9),
            _alt(22, "2024-01-01", VISITNUM=3, LBSEQ=1),
            _alt(23, "2024-01-01", VISITNUM=1, LBSEQ=50),
        ]
    )
    assert derive_baseline(lb, {"S1": "2024-01-01"}).iloc[0]["BASE"] == 22


def test_reference_start_may_be_dates_timestamps_or_partial_text(make_lb: MakeLb) -> None:
    lb = make_lb([_alt(20, "2024-01-01"), _alt(30, "2024-02-10")])
    for ref in (date(2024, 2, 10), pd.Timestamp("2024-02-10"), "2024-02-10T09:30"):
        assert derive_baseline(lb, {"S1": ref}).iloc[0]["BASE"] == 30
    # A partial start counts from its first possible day: only the January value is safe.
    assert derive_baseline(lb, {"S1": "2024-02"}).iloc[0]["BASE"] == 20


def test_test_codes_are_matched_case_and_space_insensitively(make_lb: MakeLb) -> None:
    lb = make_lb([_alt(60, "2024-01-01"), {**_alt(200, "2024-02-01"), "LBTESTCD": " alt"}])
    base = derive_baseline(lb, {"S1": "2024-01-15"})
    graded = grade_labs(lb, base)
    assert list(base["LBTESTCD"]) == ["ALT"]
    assert graded.iloc[1]["tox_grade_high"] == 2  # 200 > 3 × abnormal baseline 60


def test_grading_uses_the_baseline_table_per_subject_and_test(make_lb: MakeLb) -> None:
    lb = make_lb(
        [
            _alt(60, "2024-01-01"),
            _alt(130, "2024-02-01"),
            _alt(30, "2024-01-01", USUBJID="S2"),
            _alt(130, "2024-02-01", USUBJID="S2"),
        ]
    )
    base = derive_baseline(lb, {"S1": "2024-01-15", "S2": "2024-01-15"})
    graded = grade_labs(lb, base)
    assert list(graded["tox_grade_high"]) == [0, 1, 0, 2]  # S1 abnormal baseline, S2 normal


def test_baseline_in_another_unit_is_converted_before_comparing(make_lb: MakeLb) -> None:
    """Creatinine baseline 0.7 mg/dL = 61.9 µmol/L; 190 µmol/L is > 3 × baseline: grade 3."""
    lb = make_lb([{"LBTESTCD": "CREAT", "LBSTRESN": 190.0, "LBSTRESU": "umol/L"}])
    lb["BASE"] = 0.7
    lb["BASEU"] = "mg/dL"
    lb["BNRIND"] = "NORMAL"
    assert grade_labs(lb).iloc[0]["tox_grade_high"] == 3


def test_iso_dates_parse_to_first_and_last_possible_days() -> None:
    days = parse_iso_dates(
        pd.Series(["2024-02-10T08:30", "2024-02", "2024", "2024-02-30", None, "garbage", "2023-02"])
    )
    first = [str(np.datetime64(int(d), "D")) if d != MISSING_DAY else None for d in days.first]
    last = [str(np.datetime64(int(d), "D")) if d != MISSING_DAY else None for d in days.last]
    assert first == ["2024-02-10", "2024-02-01", "2024-01-01", None, None, None, "2023-02-01"]
    assert last == ["2024-02-10", "2024-02-29", "2024-12-31", None, None, None, "2023-02-28"]
    assert list(days.partial) == [False, True, True, False, False, False, True]


def test_several_reference_dates_for_a_subject_use_the_earliest(make_lb: MakeLb) -> None:
    lb = make_lb([_alt(20, "2024-01-01"), _alt(30, "2024-03-01")])
    ref = pd.Series(["2024-04-01", "2024-02-01"], index=["S1", "S1"])
    assert derive_baseline(lb, ref).iloc[0]["BASE"] == 20
