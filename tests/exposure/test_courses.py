"""Radiotherapy courses from EX records as sites really send them (pure, no database).

Expected BED/EQD2 values: safety_domain.md §3.5 (LQ model, Fowler 1989), α/β = 10 Gy.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aewatch.exposure.courses import build_courses, schedule_text
from aewatch.exposure.records import read_records, record_queries
from aewatch.exposure.rules import ExposureRules

RULES = ExposureRules()
AS_OF = date(2026, 3, 1)


def record(start: str, dose: float | None = 8.0, **extra: Any) -> dict[str, Any]:
    return {
        "subject_pk": 1,
        "treatment": "SBRT",
        "lesion": "liver segment VII",
        "link_id": "",
        "sponsor_id": "",
        "dose": dose,
        "dose_unit": "Gy",
        "fractions": None,
        "start_on": start,
        "start_precision": "day",
        "end_on": None,
        **extra,
    }


def fractions(first: str, doses: list[float], **extra: Any) -> list[dict[str, Any]]:
    """One record per fraction on consecutive days."""
    day = date.fromisoformat(first)
    return [record((day + timedelta(days=k)).isoformat(), d, **extra) for k, d in enumerate(doses)]


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    out.insert(0, "record_pk", range(1, len(out) + 1))
    for column in ("start_on", "end_on"):
        out[column] = pd.to_datetime(out[column])
    out["end_on"] = out["end_on"].fillna(out["start_on"])
    out["fractions"] = pd.to_numeric(out["fractions"]).astype("Int64")
    return out


def courses_of(rows: list[dict[str, Any]], as_of: date = AS_OF) -> pd.DataFrame:
    records = read_records(frame(rows), RULES)
    return build_courses(records[records["category"] == "radiotherapy"], RULES, as_of)


def queries_of(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    queries = record_queries(read_records(frame(rows), RULES), RULES)
    return list(zip(queries["field"], queries["reason"], strict=True))


def test_five_fractions_of_8_gy_without_exnfrac_are_one_course_of_bed_72() -> None:
    courses = courses_of(fractions("2025-06-02", [8.0] * 5))
    assert len(courses) == 1
    course = courses.iloc[0]
    assert (course["fractions"], course["records"]) == (5, 5)
    assert (course["bed_gy"], course["eqd2_gy"], course["total_dose_gy"]) == (72.0, 60.0, 40.0)
    assert course["fraction_doses"] == [[5, 8.0]]
    assert (course["dose_status"], course["bed_below_minimum"]) == ("evaluable", False)
    assert queries_of(fractions("2025-06-02", [8.0] * 5)) == []


def test_a_lesion_level_exspid_on_every_fraction_sums_the_fractions() -> None:
    rows = fractions("2025-06-02", [8.0] * 5, sponsor_id="L1")
    courses = courses_of(rows)
    assert list(courses["fractions"]) == [5]
    assert list(courses["bed_gy"]) == [72.0]
    assert list(courses["lesion"]) == ["liver segment VII / L1"]


def test_a_record_level_exspid_does_not_split_the_lesion_into_one_course_per_fraction() -> None:
    rows = [dict(r, sponsor_id=f"FX{k}") for k, r in enumerate(fractions("2025-06-02", [8.0] * 5))]
    assert list(courses_of(rows)["bed_gy"]) == [72.0]


def test_two_lesions_named_by_exlnkid_are_two_courses() -> None:
    rows = fractions("2025-06-02", [8.0] * 5, lesion="liver", link_id="T01") + fractions(
        "2025-06-02", [10.0] * 5, lesion="liver", link_id="T02"
    )
    courses = courses_of(rows)
    assert list(courses["bed_gy"]) == [72.0, 100.0]
    assert list(courses["lesion"]) == ["liver / T01", "liver / T02"]


def test_a_total_dose_in_exdose_is_implausible_queried_and_not_a_deviation() -> None:
    row = record("2025-06-02", 40.0, fractions=5, end_on="2025-06-06")
    course = courses_of([row]).iloc[0]
    assert (course["bed_gy"], course["eqd2_gy"]) == (1000.0, 833.333333)
    assert course["dose_status"] == "implausible"
    assert not course["bed_below_minimum"]
    assert queries_of([row]) == [
        (
            "EXDOSE",
            "EXDOSE 40 Gy per fraction is above the plausible 25 Gy (with EXNFRAC 5: 200 Gy in "
            "total, BED 1000.0 Gy10): EXDOSE must be the dose per fraction; if 40 Gy is the "
            "total dose, EXDOSE is 8; the course is kept but not used for the BED deviation "
            "check until the dose is corrected",
        )
    ]


def test_cgy_is_converted_to_gy() -> None:
    row = record("2025-06-02", 800.0, dose_unit="cGy", fractions=5, end_on="2025-06-06")
    course = courses_of([row]).iloc[0]
    assert (course["dose_per_fraction_gy"], course["bed_gy"], course["eqd2_gy"]) == (
        8.0,
        72.0,
        60.0,
    )
    assert queries_of([row]) == []


def test_an_unknown_unit_keeps_the_course_dates_with_bed_unknown_and_a_query() -> None:
    row = record("2025-06-02", 8.0, dose_unit="Gy/min", fractions=5, end_on="2025-06-06")
    course = courses_of([row]).iloc[0]
    assert (course["start_on"], course["end_on"]) == (
        pd.Timestamp("2025-06-02"),
        pd.Timestamp("2025-06-06"),
    )
    assert pd.isna(course["bed_gy"]) and course["dose_status"] == "dose unknown"
    assert queries_of([row]) == [
        (
            "EXDOSU",
            "EXDOSU 'Gy/min' is not a radiotherapy dose unit (Gy or cGy); the course keeps its "
            "dates, its BED is unknown until then",
        )
    ]


def test_an_interval_record_without_a_fraction_count_keeps_its_dates_and_is_queried() -> None:
    row = record("2025-06-02", 8.0, end_on="2025-06-06")
    course = courses_of([row]).iloc[0]
    assert course["dose_status"] == "fractions unknown" and pd.isna(course["bed_gy"])
    assert queries_of([row]) == [
        (
            "EXNFRAC",
            "EXNFRAC is empty but the record covers 5 days: give the number of fractions (or "
            "send one record per fraction); the course keeps its dates, its BED is unknown "
            "until then",
        )
    ]


def test_lenvatinib_is_systemic_therapy_not_radiotherapy() -> None:
    row = record("2024-12-01", 8.0, treatment="LENVATINIB", dose_unit="mg", lesion="")
    read = read_records(frame([row]), RULES).iloc[0]
    assert (read["category"], read["agent"], read["line"]) == ("systemic", "lenvatinib", "first")
    assert courses_of([row]).empty
    assert queries_of([row]) == []


@pytest.mark.parametrize(
    ("extrt", "unit", "category", "agent"),
    [
        ("RADIOTHERAPY (SBRT)", "Gy", "radiotherapy", None),
        ("Stereotactic body radiation therapy", "Gy", "radiotherapy", None),
        ("Proton therapy", "Gy(RBE)", "radiotherapy", None),
        ("立体定向放疗", "Gy", "radiotherapy", None),
        ("Atezolizumab + Bevacizumab", "mg", "systemic", "atezolizumab + bevacizumab"),
        ("仑伐替尼", "mg", "systemic", "lenvatinib"),
        ("Sintilimab", "mg", "systemic", "sintilimab"),
        ("IBI305", "mg", "systemic", "bevacizumab"),
        ("SBRT + sorafenib", "Gy", "unknown", None),
        ("TACE", "mg", "unknown", None),
        ("Brachy boost", "Gy", "radiotherapy", None),  # not a known term, but dosed in Gy
    ],
)
def test_treatment_vocabulary(extrt: str, unit: str, category: str, agent: str | None) -> None:
    row = record("2025-06-02", 8.0, treatment=extrt, dose_unit=unit, fractions=1)
    read = read_records(frame([row]), RULES).iloc[0]
    assert (read["category"], read["agent"]) == (category, agent)


def test_an_unknown_treatment_is_queried_and_not_radiotherapy() -> None:
    row = record("2025-06-02", 50.0, treatment="TACE", dose_unit="mg", lesion="liver")
    assert courses_of([row]).empty
    assert queries_of([row]) == [
        (
            "EXTRT",
            "EXTRT 'TACE' is neither a radiotherapy term nor a known systemic drug: correct "
            "EXTRT (or add it to [radiotherapy].treatments or [systemic_therapy].treatments); "
            "not counted as radiotherapy (first-RT date, safety population) until it is "
            "recognised",
        )
    ]


def test_a_treatment_in_gy_that_is_not_a_known_term_is_radiotherapy_and_queried() -> None:
    row = record("2025-06-02", 8.0, treatment="Brachy boost", fractions=5, end_on="2025-06-06")
    assert list(courses_of([row])["bed_gy"]) == [72.0]
    assert [field for field, _ in queries_of([row])] == ["EXTRT"]


@pytest.mark.parametrize(
    ("exloc", "liver"),
    [
        ("liver segment VII", True),
        ("S7", True),
        ("Seg. IVa", True),
        ("PVTT", True),
        ("portal vein tumour thrombus", True),
        ("caudate lobe", True),
        ("hepatic dome", True),
        ("肝S7", True),
        ("bone metastasis (T10)", False),
        ("T10", False),
        ("bone S1", False),  # the sacral vertebra, not a liver segment
        ("lung segment 6", False),
        ("adrenal metastasis", False),
        ("mediastinal lymph node", False),
        ("extrahepatic peritoneal nodule", False),
        ("IVC", None),
        ("", None),
    ],
)
def test_liver_involvement_vocabulary(exloc: str, liver: bool | None) -> None:
    from aewatch.exposure.vocabulary import liver_involvement

    assert liver_involvement(exloc, RULES.vocabulary) is liver


def test_liver_words_from_the_config_extend_the_vocabulary() -> None:
    from aewatch.exposure.vocabulary import liver_involvement, load_vocabulary

    vocabulary = load_vocabulary(liver_sites=("right lobe",), other_sites=("IVC",))
    assert liver_involvement("tumour in the right lobe", vocabulary) is True
    assert liver_involvement("IVC", vocabulary) is False


def test_an_unrecognised_site_is_queried() -> None:
    row = record("2025-06-02", 8.0, lesion="IVC", fractions=5, end_on="2025-06-06")
    assert queries_of([row]) == [
        (
            "EXLOC",
            "EXLOC 'IVC' is not a recognised site: say whether the target is in the liver "
            "(e.g. 'liver segment VII', 'bone T10') or add the word to "
            "[radiotherapy].liver_sites / other_sites; until then RILD is assessed as if the "
            "liver was irradiated",
        )
    ]
    assert courses_of([row]).iloc[0]["liver_involved"] is None


def test_unequal_fractions_give_the_exact_bed_and_eqd2() -> None:
    rows = fractions("2025-06-02", [8.0, 8.0, 8.0, 6.0, 6.0])
    course = courses_of(rows).iloc[0]
    # 3 × 8 × 1.8 + 2 × 6 × 1.6 = 43.2 + 19.2; EQD2 = 62.4 / 1.2
    assert (course["bed_gy"], course["eqd2_gy"]) == (62.4, 52.0)
    assert course["fraction_doses"] == [[3, 8.0], [2, 6.0]]
    assert pd.isna(course["dose_per_fraction_gy"])
    assert schedule_text(course["fraction_doses"]) == "3 × 8 Gy + 2 × 6 Gy"


def test_25_fractions_of_2_gy_summed_one_by_one_are_exactly_60_and_compliant() -> None:
    days = [date(2025, 6, 2) + timedelta(days=k) for k in range(25)]
    rows = [record(d.isoformat(), 2.0) for d in days]
    course = courses_of(rows).iloc[0]
    assert (course["bed_gy"], course["eqd2_gy"]) == (60.0, 50.0)
    assert not course["bed_below_minimum"]


@pytest.mark.parametrize(
    ("n", "d", "bed", "eqd2", "deviation"),
    [
        (5, 8.0, 72.0, 60.0, False),
        (3, 10.0, 60.0, 50.0, False),
        (25, 2.0, 60.0, 50.0, False),
        (5, 7.0, 59.5, 49.583333, True),
        (15, 3.0, 58.5, 48.75, True),
        (10, 5.0, 75.0, 62.5, False),
    ],
)
def test_the_reference_schedules_per_course_record(
    n: int, d: float, bed: float, eqd2: float, deviation: bool
) -> None:
    row = record("2025-06-02", d, fractions=n, end_on="2025-06-30")
    course = courses_of([row]).iloc[0]
    assert (course["bed_gy"], course["eqd2_gy"]) == (bed, eqd2)
    assert bool(course["bed_below_minimum"]) is deviation


def test_a_later_series_to_the_same_lesion_is_a_re_irradiation() -> None:
    rows = fractions("2025-06-02", [8.0] * 5) + fractions("2025-12-01", [10.0] * 3)
    courses = courses_of(rows)
    assert list(courses["course_number"]) == [1, 2]
    assert list(courses["bed_gy"]) == [72.0, 60.0]


def test_weekends_and_a_holiday_week_stay_within_one_course() -> None:
    days = ["2025-09-26", "2025-09-29", "2025-09-30", "2025-10-09", "2025-10-10"]
    courses = courses_of([record(d, 8.0) for d in days])
    assert list(courses["fractions"]) == [5]


def test_a_course_still_receiving_fractions_is_not_judged_yet() -> None:
    rows = fractions("2026-02-23", [8.0] * 2)  # 2 of 5 fractions so far: BED 28.8
    course = courses_of(rows, as_of=date(2026, 3, 1)).iloc[0]
    assert course["bed_gy"] == 28.8
    assert not course["completed"] and not course["bed_below_minimum"]
    later = courses_of(rows, as_of=date(2026, 3, 20)).iloc[0]  # no fraction for 3 weeks
    assert later["completed"] and later["bed_below_minimum"]


def test_records_that_overlap_in_time_are_not_judged() -> None:
    rows = [
        record("2025-06-02", 5.0, fractions=5, end_on="2025-06-06", sponsor_id="RT1"),
        record("2025-06-03", 5.0, fractions=5, end_on="2025-06-07", sponsor_id="RT2"),
    ]
    course = courses_of(rows).iloc[0]
    assert course["dose_status"] == "overlapping records"
    assert course["overlap_starts"] == ["2025-06-03"]
    assert not course["bed_below_minimum"]  # 50 Gy BED 75 or 37.5: not decided on a guess


def test_a_bed_above_the_plausible_limit_from_plausible_fractions_is_implausible() -> None:
    course = courses_of(fractions("2025-06-02", [15.0] * 8)).iloc[0]  # 8 × 15 Gy: BED 300
    assert (course["bed_gy"], course["dose_status"]) == (300.0, "implausible")
    assert course["plausible_fractions"]


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    doses=st.lists(
        st.sampled_from([1.8, 2.0, 2.4, 3.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0]),
        min_size=1,
        max_size=30,
    )
)
def test_per_fraction_records_give_the_sum_of_the_fraction_beds(doses: list[float]) -> None:
    course = courses_of(fractions("2025-01-06", doses)).iloc[0]
    expected = sum(d * (1 + d / 10) for d in doses)
    assert course["fractions"] == len(doses)
    assert course["bed_gy"] == pytest.approx(expected, abs=1e-6)
    assert course["total_dose_gy"] == pytest.approx(sum(doses), abs=1e-6)
    assert sum(n for n, _ in course["fraction_doses"]) == len(doses)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(n=st.integers(1, 30), d=st.sampled_from([1.8, 2.0, 2.4, 3.0, 5.0, 7.0, 8.0, 10.0]))
def test_a_course_record_and_its_fractions_give_the_same_course(n: int, d: float) -> None:
    end = (date(2025, 1, 6) + timedelta(days=n - 1)).isoformat()
    whole = courses_of([record("2025-01-06", d, fractions=n, end_on=end)]).iloc[0]
    split = courses_of(fractions("2025-01-06", [d] * n)).iloc[0]
    for column in ("fractions", "bed_gy", "eqd2_gy", "total_dose_gy", "bed_below_minimum"):
        assert whole[column] == split[column]


def test_systemic_dose_changes_and_interruptions_are_counted() -> None:
    from aewatch.exposure.systemic import systemic_exposure

    rows = pd.DataFrame(
        {
            "subject_pk": [1, 1, 1, 1],
            "agent": ["lenvatinib"] * 4,
            "line": ["first"] * 4,
            "start_on": pd.to_datetime(["2025-01-01", "2025-01-29", "2025-03-05", "2025-04-02"]),
            "end_on": pd.to_datetime(["2025-01-28", "2025-02-25", "2025-04-01", "2025-04-29"]),
            "dose": [8.0, 8.0, 4.0, 0.0],
            "dose_unit": ["mg"] * 4,
            "dose_frequency": ["QD"] * 4,
            "adjustment": ["", "", "ADVERSE EVENT", "ADVERSE EVENT"],
        }
    )
    out = systemic_exposure(rows, RULES.vocabulary).iloc[0]
    # 8 → 4 mg is a change; 8 days without a record, and a 0 mg record, are interruptions
    assert (out["dose_changes"], out["interruptions"], out["adjustments"]) == (1, 2, 2)
    assert (out["first_dose_on"], out["last_dose_on"]) == (
        pd.Timestamp("2025-01-01"),
        pd.Timestamp("2025-04-29"),
    )


def test_infusions_on_schedule_are_not_interruptions_but_a_late_one_is() -> None:
    from aewatch.exposure.systemic import systemic_exposure

    days = pd.to_datetime(["2025-01-01", "2025-01-22", "2025-02-12", "2025-03-20"])
    rows = pd.DataFrame(
        {
            "subject_pk": 1,
            "agent": "atezolizumab",
            "line": "first",
            "start_on": days,
            "end_on": days,
            "dose": 1200.0,
            "dose_unit": "mg",
            "dose_frequency": "Q3W",
            "adjustment": "",
        }
    )
    out = systemic_exposure(rows, RULES.vocabulary).iloc[0]
    assert (out["dose_changes"], out["interruptions"]) == (0, 1)  # 36 days > 21 + 7
