"""A derived liver event's evidence items become the numbers a clinician checks."""

from __future__ import annotations

from datetime import date

from aewatch.alerts.evidence import lab_values

RT_START = date(2026, 1, 5)  # study day 1


def test_hys_law_items_give_each_test_against_uln_and_baseline_by_study_day() -> None:
    items = {  # as aewatch.ctcae.hepatic writes them
        "date": "2026-02-12",
        "transaminase": "AST",
        "transaminase_value": 246.0,
        "transaminase_uln": 40.0,
        "transaminase_date": "2026-02-10",
        "bilirubin_value": 71.75,
        "bilirubin_uln": 20.5,
        "bilirubin_date": "2026-02-12",
        "alp_value": None,
        "alp_uln": None,
        "alp_date": None,
        "criteria": ["AST > 3 x ULN", "bilirubin > 2 x ULN", "ALP missing"],
    }
    values, findings = lab_values(items, RT_START, {"AST": 41.0, "BILI": 14.0})
    assert values == [
        {
            "test": "AST",
            "value": 246.0,
            "unit": "",
            "uln": 40.0,
            "lln": None,
            "times_uln": 6.15,
            "limit": "ULN 40",
            "times_limit": 6.15,
            "baseline": 41.0,
            "times_baseline": 6.0,
            "study_day": 37,
        },
        {
            "test": "BILI",
            "value": 71.75,
            "unit": "",
            "uln": 20.5,
            "lln": None,
            "times_uln": 3.5,
            "limit": "ULN 20.5",
            "times_limit": 3.5,
            "baseline": 14.0,
            "times_baseline": 5.12,
            "study_day": 39,
        },
    ]
    assert {"label": "transaminase date", "value": "study day 37"} not in findings  # in the row
    assert {"label": "criteria", "value": "AST > 3 x ULN, bilirubin > 2 x ULN, ALP missing"} in (
        findings
    )
    assert not any("2026" in f["value"] for f in findings)


def test_rild_items_are_read_the_same_way_and_unknown_items_are_still_shown() -> None:
    items = {
        "date": "2026-03-01",
        "criteria": ["ALT > 5 x ULN", "Child-Pugh worse by >= 2 points"],
        "ALT": 300.0,
        "ALT_ULN": 40.0,
        "cp_score": 8,
        "cp_baseline": 5,
        "cp_change": 3,
        "rt_end": "2026-01-09",
        "days_after_rt_end": 51,
        "portal_vein": "patent",  # a richer derivation's new item
    }
    values, findings = lab_values(items, RT_START)
    assert [(v["test"], v["times_uln"], v["baseline"], v["study_day"]) for v in values] == [
        ("ALT", 7.5, None, 56)
    ]
    labels = {f["label"]: f["value"] for f in findings}
    assert labels["cp change"] == "3"
    assert labels["rt end"] == "study day 5"
    assert labels["portal vein"] == "patent"


def test_a_value_below_the_normal_range_is_shown_against_its_lln() -> None:
    items = {
        "PLAT": 38.0,
        "PLAT_unit": "10^9/L",
        "PLAT_ULN": 350.0,
        "PLAT_LLN": 125.0,
        "PLAT_baseline": 171.3,
        "PLAT_date": "2026-02-02",
        "grade": 3,
        "date": "2026-02-02",
    }
    (row,), findings = lab_values(items, RT_START)
    assert (row["limit"], row["times_limit"], row["times_baseline"]) == ("LLN 125", 0.3, 0.22)
    assert findings == []  # the event's grade and date are in the alert's header lines
