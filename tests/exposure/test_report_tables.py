"""The report's exposure tables from courses and EX records (pure pandas)."""

from __future__ import annotations

import pandas as pd

from aewatch.exposure.rules import ExposureRules
from aewatch.reports import conduct, liver


def course(subject: str, lesion: str, start: str, end: str, **extra: object) -> dict[str, object]:
    return {
        "subject_id": subject,
        "course_key": f"{lesion} #1",
        "lesion_key": lesion,
        "lesion": lesion,
        "course_number": 1,
        "fraction_doses": [[5, 8.0]],
        "fractions": 5,
        "dose_per_fraction_gy": 8.0,
        "start_on": pd.Timestamp(start),
        "end_on": pd.Timestamp(end),
        "bed_gy": 72.0,
        "eqd2_gy": 60.0,
        "dose_status": "evaluable",
        "completed": True,
        "liver_involved": True,
        "bed_below_minimum": False,
        **extra,
    }


def test_a_course_still_in_progress_at_the_cut_is_not_yet_a_deviation() -> None:
    courses = pd.DataFrame(
        [
            course("P1", "liver s7", "2026-02-23", "2026-02-24", bed_gy=28.8, completed=False),
            course("P2", "bone t10", "2026-01-05", "2026-01-09", bed_gy=37.5),
        ]
    )
    table = conduct.exposure_by_lesion(courses, 60.0, pd.Timestamp("2026-02-28"), 14)
    assert table[["subject_id", "status", "deviation"]].values.tolist() == [
        ["P1", "in progress", False],
        ["P2", "evaluable", True],
    ]
    later = conduct.exposure_by_lesion(courses, 60.0, pd.Timestamp("2026-03-31"), 14)
    assert later["deviation"].tolist() == [True, True]


def test_the_summary_counts_lesions_and_courses_not_records() -> None:
    courses = pd.DataFrame(
        [
            course("P1", "liver s7", "2025-05-05", "2025-05-09"),
            course("P1", "liver s7", "2025-11-03", "2025-11-05", course_number=2, bed_gy=60.0),
            course("P1", "lung", "2025-05-05", "2025-05-09", liver_involved=False),
            course(
                "P2",
                "bone",
                "2025-06-01",
                "2025-06-05",
                dose_status="implausible",
                bed_gy=1000.0,
                liver_involved=False,
            ),
        ]
    )
    summary = conduct.exposure_summary(conduct.exposure_by_lesion(courses, 60.0))
    assert (summary["patients"], summary["lesions"], summary["courses"]) == (2, 3, 4)
    assert (summary["re_irradiations"], summary["liver_courses"]) == (1, 2)
    assert (summary["min_bed_gy"], summary["max_bed_gy"]) == (60.0, 72.0)
    assert summary["not_evaluable_by_reason"] == {"implausible": 1}


def test_first_line_therapy_comes_from_ex_records_and_from_dm_where_there_are_none() -> None:
    population = pd.DataFrame(
        {"subject_id": ["P1", "P2", "P3"], "systemic_therapy": ["lenvatinib", "sorafenib", None]}
    )
    days = pd.to_datetime(["2025-01-01", "2025-01-29", "2025-03-05"])
    exposure = pd.DataFrame(
        {
            "subject_id": "P1",
            "category": "systemic",
            "agent": "lenvatinib",
            "start_on": days,
            "end_on": days + pd.Timedelta(days=27),
            "dose": [8.0, 8.0, 4.0],
            "dose_unit": "mg",
            "dose_frequency": "QD",
            "adjustment": "",
        }
    )
    table = conduct.systemic_therapy(population, exposure, ExposureRules().vocabulary)
    assert table.astype(object).where(table.notna(), None).values.tolist() == [
        ["lenvatinib", "EX", 1, 1, 1],
        ["not recorded", "DM only (no EX records)", 1, None, None],
        ["sorafenib", "DM only (no EX records)", 1, None, None],
    ]


def test_a_child_pugh_rise_counts_as_after_liver_rt_only_within_a_liver_course_window() -> None:
    scores = pd.DataFrame(
        {
            "subject_id": ["P1", "P1", "P2", "P2"],
            "collected_on": pd.to_datetime(["2025-05-01", "2025-06-20"] * 2),
            "cp_score": [5, 8, 5, 8],
            "is_baseline": [True, False, True, False],
            "is_post": [False, True, False, True],
        }
    )
    courses = pd.DataFrame(
        [
            course("P1", "liver s7", "2025-05-05", "2025-05-09"),
            course("P2", "bone t10", "2025-05-05", "2025-05-09", liver_involved=False),
        ]
    )
    assert liver.child_pugh_rises_after_liver_rt(scores, courses, 90) == 1
