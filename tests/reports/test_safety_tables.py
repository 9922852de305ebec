"""The tables a DSMB statistician asks for beyond the AE counts: acute vs late, eDISH,
disposition, protocol deviations, data currency per site and SAE timeliness."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from aewatch.reports import acute_late, currency, disposition, edish, tables
from aewatch.reports.datacut import DataCut
from aewatch.reports.sections import compute_sections
from aewatch.reports.snapshot import load_snapshot

FEBRUARY = DataCut(clinical_day=date(2026, 2, 28), known_at=datetime(2026, 3, 5, tzinfo=UTC))


def days(*values: str | None) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype=object))


def test_acute_and_late_are_measured_from_the_latest_rt_course_before_onset() -> None:
    events = pd.DataFrame(
        {
            "subject_id": ["A", "A", "B", "C"],
            "onset_on": days("2026-01-10", "2026-06-01", "2026-07-20", None),
            "grade": [1, 3, 2, 4],
            "ctcae_soc": ["GI", "GI", "GI", "Investigations"],
            "ctcae_term": ["Nausea", "Gastric ulcer", "Nausea", "ALT increased"],
        }
    )
    # B had a second course in July: ten days after it is acute, whatever came before.
    courses = pd.DataFrame(
        {
            "subject_id": ["A", "B", "B", "C"],
            "start_on": days(*["2026-01-01"] * 2, "2026-07-10", "2026-01-01"),
        }
    )
    table = acute_late.acute_late_table(events, courses, 90).set_index(["level", "term"])
    any_ae = table.loc[("any", "")]
    assert (any_ae["acute"], any_ae["acute_g3plus"], any_ae["late"], any_ae["late_g3plus"]) == (
        2,
        0,
        1,
        1,
    )
    assert any_ae["unknown"] == 1  # no onset date: never guessed into a column
    assert table.loc[("term", "Gastric ulcer"), ["late", "late_g3plus"]].tolist() == [1, 1]
    assert table.loc[("term", "Nausea"), "acute"] == 2


def test_the_90th_day_is_acute_and_the_91st_late() -> None:
    events = pd.DataFrame(
        {
            "subject_id": ["A", "B"],
            "onset_on": days("2026-04-01", "2026-04-02"),  # 90 and 91 days after 01-01
            "grade": [3, 3],
            "ctcae_soc": ["GI", "GI"],
            "ctcae_term": ["Nausea", "Nausea"],
        }
    )
    courses = pd.DataFrame({"subject_id": ["A", "B"], "start_on": days("2026-01-01", "2026-01-01")})
    assert acute_late.timing(events, courses, 90).tolist() == ["acute", "late"]


def test_edish_places_each_patient_by_peak_transaminase_and_bilirubin_in_uln() -> None:
    graded = pd.DataFrame(
        {
            "subject_id": ["A"] * 4 + ["B"] * 2 + ["C"] * 2 + ["D"],
            "test_code": ["ALT", "AST", "BILI", "ALT", "ALT", "BILI", "AST", "BILI", "ALT"],
            "value": [130.0, 90.0, 45.0, 30.0, 80.0, 10.0, 40.0, 60.0, 20.0],
            "upper_limit": [40.0, 40.0, 20.0, 40.0, 40.0, 20.0, 40.0, 20.0, 40.0],
            "collected_on": days(*["2026-02-01"] * 3, "2026-01-01", *["2026-02-01"] * 5),
            "first_rt_on": days(*["2026-01-05"] * 9),
            "is_baseline": [False, False, False, True, False, False, False, False, False],
            "is_post": [True, True, True, False, True, True, True, True, True],
        }
    )
    population = pd.DataFrame({"subject_id": ["A", "B", "C", "D", "E"]})
    peaks = edish.peaks(edish.liver_panel(graded), population).set_index("subject_id")
    assert peaks.loc["A", ["peak_transaminase_x_uln", "peak_bili_x_uln"]].tolist() == [3.25, 2.25]
    assert peaks["quadrant"].to_dict() == {
        "A": "Potential Hy's law",  # ALT 3.25 × ULN (baseline 30 not a peak), bili 2.25 ×
        "B": "Normal range",
        "C": "Hyperbilirubinemia",
        "D": "Not assessable",  # no post-baseline bilirubin
        "E": "Not assessable",
    }
    assert edish.patients_of_interest(peaks.reset_index()) == ["A", "C"]  # worst first


def test_disposition_counts_dm_ds_and_fatal_aes_once_each(sessions: Any, small_trial: Any) -> None:
    with sessions() as session:
        snap = load_snapshot(session, small_trial.trial_pk, FEBRUARY)
    population = tables.safety_population(snap.subjects, snap.rt_courses)
    status = disposition.patient_status(population, snap.dispositions, {"P04"})
    counts = disposition.status_counts(status, len(population)).set_index("status")
    assert counts.loc["died", "patients"] == 1 and counts.loc["on study", "patients"] == 3
    assert disposition.death_sources(status).set_index("recorded_in")["deaths"]["DM"] == 1


def test_the_report_tables_mark_awareness_not_supplied_and_list_deviations(
    sessions: Any, settings: Any, small_trial: Any
) -> None:
    with sessions() as session:
        snap = load_snapshot(session, small_trial.trial_pk, FEBRUARY)
    tabs = compute_sections(snap, settings, datetime(2026, 2, 1, tzinfo=UTC), FEBRUARY.known_at)
    timeliness = tabs.frames["sae_timeliness"].set_index("subject_id")
    assert timeliness.loc["P03", ["awareness", "hours_aware_to_recorded"]].tolist() == [
        "site-supplied",
        24.0,
    ]
    assert bool(timeliness.loc["P03", "within_clock"]) is True
    assert timeliness.loc["P04", "awareness"] == "not supplied (receipt time used)"
    assert pd.isna(timeliness.loc["P04", "hours_aware_to_recorded"])
    summary = tabs.frames["sae_timeliness_summary"].set_index("measure")["value"]
    assert summary["awareness date not supplied (receipt time used; delay unknown)"] == 1
    assert summary["recorded within 24 h of awareness"] == 1
    assert tabs.facts["sae_awareness_not_supplied"] == 1
    deviations = tabs.frames["deviations"]
    assert deviations[["subject_id", "deviation"]].values.tolist() == [["P03", "BED₁₀ below 60 Gy"]]
    currency_frame = tabs.frames["data_currency"].set_index("site")
    assert currency_frame.loc["S02", "last_data_received"] == date(2026, 2, 21)
    assert currency_frame.loc["S02", "patients"] == 2
    assert currency_frame.loc["(unknown subject)", "open_rejected"] == 1


def test_an_sae_clock_due_by_the_cut_and_not_acknowledged_is_overdue_at_its_site() -> None:
    subjects = pd.DataFrame({"subject_id": ["P1", "P2"], "site": ["S1", "S2"]})
    received = pd.DataFrame(
        {
            "site": ["S1", "S1"],
            "received_at": pd.to_datetime(["2026-02-02", "2026-02-09"], utc=True),
        }
    )
    quarantine = pd.DataFrame(
        {"subject_id": ["P2", "P2"], "kind": ["query", "pending"], "state": ["open", "open"]}
    )
    alerts = pd.DataFrame(
        {
            "kind": ["sae-initial", "death", "sae-initial"],
            "subject_id": ["P1", "P1", "P2"],
            "report_due_at": pd.to_datetime(
                ["2026-02-10", "2026-03-03", "2026-02-11"], utc=True
            ),  # the second falls due after the cut
            "acknowledged_at": pd.to_datetime([None, None, "2026-02-10"], utc=True),
        }
    )
    cut_end = datetime(2026, 2, 28, 23, 59, tzinfo=UTC)
    table = currency.data_currency(subjects, received, quarantine, alerts, cut_end).set_index(
        "site"
    )
    assert table.loc["S1", ["last_data_received", "sae_clocks_overdue"]].tolist() == [
        date(2026, 2, 9),
        1,
    ]
    assert table.loc["S2", ["open_queries", "held_rows", "sae_clocks_overdue"]].tolist() == [
        1,
        1,
        0,
    ]
    assert table.loc["S2", "last_data_received"] is None


def test_a_late_sae_report_is_a_deviation() -> None:
    timeliness = pd.DataFrame(
        {
            "subject_id": ["X", "Y"],
            "ctcae_term": ["Ascites", "Fatigue"],
            "hours_aware_to_recorded": [30.0, None],
            "within_clock": pd.array([False, pd.NA], dtype="boolean"),
        }
    )
    exposure = pd.DataFrame(columns=["subject_id", "lesion", "schedule", "bed_gy", "deviation"])
    quarantine = pd.DataFrame(columns=["domain", "state", "kind", "subject_id", "field", "reason"])
    found = currency.deviations(
        exposure.astype({"deviation": bool}), quarantine, timeliness, 60, 24
    )
    assert found.values.tolist() == [["X", "SAE recorded > 24 h after awareness", "Ascites: 30 h"]]


def test_an_open_ex_query_is_listed_as_an_exposure_deviation_not_an_rt_course() -> None:
    """EX carries the systemic drugs too: a sorafenib record's query is no RT course's."""
    quarantine = pd.DataFrame(
        [
            {
                "domain": "EX",
                "state": "open",
                "kind": "query",
                "subject_id": "01-001",
                "field": "EXDOSE",
                "reason": "EXDOSE is empty",
            },
            {
                "domain": "EX",
                "state": "open",
                "kind": "rejected",
                "subject_id": "01-002",
                "field": "EXSTDTC",
                "reason": "not a date",
            },
            {
                "domain": "EX",
                "state": "resolved",
                "kind": "query",
                "subject_id": "01-003",
                "field": "EXDOSE",
                "reason": "EXDOSE is empty",
            },
            {
                "domain": "AE",
                "state": "open",
                "kind": "query",
                "subject_id": "01-004",
                "field": "AEREL",
                "reason": "missing",
            },
        ]
    )
    exposure = pd.DataFrame({"deviation": pd.Series([], dtype=bool)})
    timeliness = pd.DataFrame({"within_clock": pd.Series([], dtype=object)})
    found = currency.deviations(exposure, quarantine, timeliness, 60.0, 24.0)
    assert found.to_dict("records") == [
        {
            "subject_id": "01-001",
            "deviation": "exposure (EX) record queried",
            "detail": "EXDOSE: EXDOSE is empty",
        },
        {
            "subject_id": "01-002",
            "deviation": "exposure (EX) record rejected",
            "detail": "EXSTDTC: not a date",
        },
    ]
