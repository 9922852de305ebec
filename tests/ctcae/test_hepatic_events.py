"""Liver timeline, radiation-induced liver disease and potential Hy's law."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from aewatch.ctcae.hepatic import detect_hys_law, detect_rild, liver_timeline

ULN = {"ALT": 40.0, "AST": 40.0, "ALP": 120.0, "BILI": 21.0, "ALB": np.nan, "INR": np.nan}
UNIT = {"ALT": "U/L", "AST": "U/L", "ALP": "U/L", "BILI": "umol/L", "ALB": "g/L", "INR": None}
NORMAL = {"ALT": 30, "AST": 30, "ALP": 100, "BILI": 15, "ALB": 40, "INR": 1.0}


def labs(subject: str, day: str, **values: float) -> list[dict[str, Any]]:
    return [
        {
            "USUBJID": subject,
            "LBTESTCD": test,
            "LBSTRESN": value,
            "LBSTRESU": UNIT[test],
            "LBSTNRLO": 35.0 if test == "ALB" else np.nan,
            "LBSTNRHI": ULN[test],
            "LBDTC": day,
        }
        for test, value in values.items()
    ]


def rt(*subjects: str, start: str = "2024-01-10", end: str = "2024-01-20") -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": list(subjects), "start_on": start, "end_on": end})


NO_AE = pd.DataFrame(columns=["USUBJID", "ctcae_term", "grade", "AESTDTC", "AEENDTC"])


def test_timeline_scores_child_pugh_and_albi_per_lab_date_with_change_from_baseline() -> None:
    lb = pd.DataFrame(
        labs("P1", "2024-01-05", **NORMAL)
        + labs("P1", "2024-02-20", ALT=30, AST=30, ALP=100, BILI=40, ALB=30, INR=1.8)
    )
    t = liver_timeline(lb, NO_AE, rt("P1"))
    assert list(t["cp_score"]) == [5, 8]  # bilirubin 40 (2) + albumin 30 (2) + INR 1.8 (2) + 1 + 1
    assert list(t["cp_class"]) == ["A", "B"]
    assert list(t["cp_baseline"]) == [5, 5]
    assert list(t["cp_change"]) == [0, 3]
    assert list(t["albi_grade"]) == [1, 2]
    assert list(t["in_window"]) == [False, True]
    assert list(t["days_after_rt_end"]) == [-15, 31]


def test_labs_are_carried_forward_at_most_carry_days() -> None:
    lb = pd.DataFrame(
        labs("P1", "2024-01-01", BILI=15, ALB=40, INR=1.0)
        + labs("P1", "2024-01-03", ALT=30)
        + labs("P1", "2024-01-09", ALT=31)
    )
    t = liver_timeline(lb, NO_AE, rt("P1")).set_index("date")
    assert t.loc["2024-01-03", "BILI"] == 15  # 2 days old: carried
    assert np.isnan(t.loc["2024-01-09", "BILI"])  # 8 days old: not carried
    assert t.loc["2024-01-03", "cp_score"] == 5


def test_active_ascites_ae_adds_child_pugh_points() -> None:
    lb = pd.DataFrame(labs("P1", "2024-01-05", **NORMAL) + labs("P1", "2024-03-01", **NORMAL))
    ae = pd.DataFrame(
        {
            "USUBJID": ["P1"],
            "ctcae_term": ["Ascites"],
            "grade": [3],
            "AESTDTC": ["2024-02-25"],
            "AEENDTC": [None],
        }
    )
    t = liver_timeline(lb, ae, rt("P1"))
    assert list(t["ascites_grade"]) == [0, 3]
    assert list(t["cp_ascites"]) == [1, 3]
    assert list(t["cp_change"]) == [0, 2]


def test_alt_over_5_x_uln_after_rt_is_non_classic_rild_with_evidence() -> None:
    lb = pd.DataFrame(
        labs("P1", "2024-01-05", **NORMAL)
        + labs("P1", "2024-02-20", ALT=250)
        + labs("P1", "2024-02-25", ALT=300)
    )
    events = detect_rild(liver_timeline(lb, NO_AE, rt("P1")))
    assert len(events) == 1  # one event per subject per syndrome: the first date
    event = events.iloc[0]
    assert event["event"] == "RILD (non-classic)"
    assert event["onset_date"] == pd.Timestamp("2024-02-20")
    assert event["evidence"] == (
        "RILD (non-classic) on study day 42: ALT 250 U/L > 5 × ULN 40 on study day 42 "
        "(6.25 × ULN, 8.33 × baseline); baseline ALT 30 U/L (0.75 × ULN) on study day -5; "
        "peak ALT in the window 300 U/L (7.5 × ULN, 10 × baseline) on study day 47; "
        "31 days after the end of liver RT (study days 1–11), target site not recognised: "
        "liver irradiation assumed"
    )
    items = event["evidence_items"]
    assert items["criteria"] == ["ALT > 5 x ULN"]
    assert (items["ALT"], items["ALT_baseline"], items["ALT_peak"]) == (250.0, 30.0, 300.0)
    assert (items["study_day"], items["ALT_peak_study_day"], items["days_after_rt_end"]) == (
        42,
        47,
        31,
    )


def test_alt_exactly_5_x_uln_is_not_rild() -> None:
    lb = pd.DataFrame(labs("P1", "2024-01-05", **NORMAL) + labs("P1", "2024-02-20", ALT=200))
    assert detect_rild(liver_timeline(lb, NO_AE, rt("P1"))).empty


def test_child_pugh_worse_by_two_points_is_non_classic_rild() -> None:
    lb = pd.DataFrame(
        labs("P1", "2024-01-05", **NORMAL)
        + labs("P1", "2024-03-01", ALT=30, AST=30, ALP=100, BILI=40, ALB=30, INR=1.0)
    )
    events = detect_rild(liver_timeline(lb, NO_AE, rt("P1")))
    assert list(events["event"]) == ["RILD (non-classic)"]
    assert events.iloc[0]["evidence_items"]["cp_change"] == 2


def test_grade_4_transaminase_from_an_abnormal_baseline_is_non_classic_rild() -> None:
    """QUANTEC: for a baseline already > 5 × ULN, CTCAE grade 4 (> 20 × baseline) counts."""
    lb = pd.DataFrame(
        labs("P1", "2024-01-05", ALT=300)
        + labs("P1", "2024-02-20", ALT=6100)
        + labs("P2", "2024-01-05", ALT=300)
        + labs("P2", "2024-02-20", ALT=5900)
    )
    t = liver_timeline(lb, NO_AE, rt("P1", "P2"))
    assert list(t["ALT_grade"]) == [0, 4, 0, 3]
    events = detect_rild(t, transaminase_uln_multiple=1000)  # isolate the grade-4 clause
    assert list(events["USUBJID"]) == ["P1"]
    assert events.iloc[0]["evidence_items"]["criteria"] == ["ALT CTCAE grade 4"]


def test_anicteric_ascites_with_alp_over_2_x_uln_is_classic_rild() -> None:
    lb = pd.DataFrame(
        labs("P1", "2024-01-05", **NORMAL) + labs("P1", "2024-03-01", ALP=300, BILI=15)
    )
    ae = pd.DataFrame(
        {
            "USUBJID": ["P1"],
            "ctcae_term": ["Ascites"],
            "grade": [2],
            "AESTDTC": ["2024-02-25"],
            "AEENDTC": [None],
        }
    )
    events = detect_rild(liver_timeline(lb, ae, rt("P1")))
    classic = events[events["event"] == "RILD (classic)"]
    assert len(classic) == 1
    assert "Ascites grade 2 active" in classic.iloc[0]["evidence"]
    assert "ALP 300 U/L > 2 × ULN 120" in classic.iloc[0]["evidence"]


def test_jaundiced_ascites_is_not_classic_rild() -> None:
    lb = pd.DataFrame(
        labs("P1", "2024-01-05", **NORMAL) + labs("P1", "2024-03-01", ALP=300, BILI=30)
    )
    ae = pd.DataFrame(
        {
            "USUBJID": ["P1"],
            "ctcae_term": ["Ascites"],
            "grade": [2],
            "AESTDTC": ["2024-02-25"],
            "AEENDTC": [None],
        }
    )
    events = detect_rild(liver_timeline(lb, ae, rt("P1")))
    assert "RILD (classic)" not in set(events["event"])


def test_events_after_the_window_are_not_rild() -> None:
    lb = pd.DataFrame(labs("P1", "2024-01-05", **NORMAL) + labs("P1", "2024-05-01", ALT=250))
    timeline = liver_timeline(lb, NO_AE, rt("P1"))
    assert detect_rild(timeline).empty  # 102 days after RT end
    assert len(detect_rild(timeline, window_days=120)) == 1


def test_hys_law_needs_transaminase_and_bilirubin_within_the_window_and_normal_alp() -> None:
    """FDA DILI guidance (2009): ALT or AST > 3 × ULN with bilirubin > 2 × ULN, ALP < 2 × ULN."""
    lb = pd.DataFrame(
        labs("P1", "2024-03-01", ALT=130, ALP=100)
        + labs("P1", "2024-03-03", BILI=43)
        + labs("P2", "2024-03-01", ALT=130, ALP=100)
        + labs("P2", "2024-03-08", BILI=43)
        + labs("P3", "2024-03-01", AST=130, ALP=240, BILI=43)
        + labs("P4", "2024-03-01", ALT=120, ALP=100, BILI=43)
    )
    events = detect_hys_law(lb)
    assert list(events["USUBJID"]) == ["P1"]
    event = events.iloc[0]
    assert event["event"] == "Hy's law"
    assert event["onset_date"] == pd.Timestamp("2024-03-03")
    assert event["evidence"].startswith("Potential Hy's law: ALT 130 U/L > 3 × ULN 40")
    assert event["evidence_items"]["alp_value"] == 100.0


def test_hys_law_without_any_alp_is_flagged_and_says_so() -> None:
    lb = pd.DataFrame(labs("P1", "2024-03-01", ALT=200, BILI=50))
    event = detect_hys_law(lb).iloc[0]
    assert "ALP not measured within ±3 days" in event["evidence"]
    assert event["evidence_items"]["alp_value"] is None


@pytest.mark.parametrize("within_days", [0, 1])
def test_hys_law_window_is_configurable(within_days: int) -> None:
    lb = pd.DataFrame(
        labs("P1", "2024-03-01", ALT=200, ALP=100) + labs("P1", "2024-03-02", BILI=50)
    )
    assert len(detect_hys_law(lb, within_days=within_days)) == within_days


def test_no_liver_labs_give_empty_outputs() -> None:
    lb = pd.DataFrame(labs("P1", "2024-03-01", INR=1.0)).assign(LBTESTCD="BUN")
    assert liver_timeline(lb, None, None).empty
    assert detect_hys_law(lb).empty


def test_sdtm_ae_columns_work_for_the_timeline_and_open_ended_aes_stay_active() -> None:
    lb = pd.DataFrame(labs("P1", "2024-01-05", **NORMAL) + labs("P1", "2024-03-01", **NORMAL))
    ae = pd.DataFrame({"USUBJID": ["P1"], "AEDECOD": ["Ascites"], "AETOXGR": ["2"],
                       "AESTDTC": ["2024-02"]})  # fmt: skip
    t = liver_timeline(lb, ae, rt("P1"))
    assert list(t["ascites_grade"]) == [0, 2]
