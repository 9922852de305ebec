"""Every number of the summary tables on the hand-built trial (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest

from aewatch.reports import conduct, labs, liver, oversight, tables
from aewatch.reports.counting import count_adverse_events
from aewatch.reports.datacut import DataCut
from aewatch.reports.snapshot import Snapshot, load_snapshot
from aewatch.reports.tables import EventFilter

FEB_CUT = datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)
BEFORE_UPGRADE = datetime(2026, 2, 10, 23, 59, 59, tzinfo=UTC)
FEBRUARY = DataCut(clinical_day=date(2026, 2, 28), known_at=FEB_CUT)
# January's cut as known on 02-10 (before the ALT upgrade), and as known now.
JANUARY_THEN = DataCut(clinical_day=date(2026, 1, 31), known_at=BEFORE_UPGRADE)
JANUARY_NOW = DataCut(clinical_day=date(2026, 1, 31))


@pytest.fixture
def snap(sessions: Any, small_trial: Any) -> Snapshot:
    with sessions() as session:
        return load_snapshot(session, small_trial.trial_pk, FEBRUARY)


@pytest.fixture
def population(snap: Snapshot) -> pd.DataFrame:
    return tables.safety_population(snap.subjects, snap.rt_courses)


@pytest.fixture
def events(snap: Snapshot, population: pd.DataFrame) -> pd.DataFrame:
    return tables.countable_events(snap.ae, population)


def counts(sessions: Any, trial: Any, by: str = "term", **kwargs: Any) -> dict[str, Any]:
    cut = kwargs.pop("cut", None)
    with sessions() as session:
        result = count_adverse_events(
            session, trial.trial_pk, by=by, selection=EventFilter(**kwargs), cut=cut
        )
    return result.document()


def row(document: dict[str, Any], **key: str) -> dict[str, Any]:
    found = [r for r in document["counts"] if all(r[k] == v for k, v in key.items())]
    assert len(found) == 1, (key, document)
    return found[0]


def test_safety_population_is_the_patients_who_started_rt(population: pd.DataFrame) -> None:
    assert list(population["subject_id"]) == ["P01", "P02", "P03", "P04"]


def test_the_snapshot_holds_one_row_per_ae_and_every_version(snap: Snapshot) -> None:
    assert len(snap.ae) == 9
    assert len(snap.ae_history) == 10


def test_an_upgraded_ae_counts_at_its_latest_grade(sessions: Any, small_trial: Any) -> None:
    alt = row(counts(sessions, small_trial), term="Alanine aminotransferase increased")
    assert alt["patients_by_worst_grade"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0}
    assert alt["events"] == 1


def test_as_of_before_the_upgrade_sees_the_earlier_grade(sessions: Any, small_trial: Any) -> None:
    cut = DataCut(clinical_day=BEFORE_UPGRADE.date(), known_at=BEFORE_UPGRADE)
    document = counts(sessions, small_trial, cut=cut)
    alt = row(document, term="Alanine aminotransferase increased")
    assert alt["patients_by_worst_grade"]["2"] == 1
    assert alt["patients_grade3plus"] == 0
    assert [r["term"] for r in document["counts"]] == [
        "Fatigue",
        "Alanine aminotransferase increased",
    ]


def test_the_same_term_twice_is_one_patient_and_two_events(sessions: Any, small_trial: Any) -> None:
    fatigue = row(counts(sessions, small_trial), term="Fatigue")
    assert fatigue["patients"] == 1
    assert fatigue["patients_by_worst_grade"]["2"] == 1
    assert fatigue["events"] == 2


def test_pre_rt_aes_and_untreated_patients_are_not_counted(sessions: Any, small_trial: Any) -> None:
    terms = {r["term"] for r in counts(sessions, small_trial)["counts"]}
    assert "Hypertension" not in terms  # onset before RT: not treatment-emergent
    assert "Nausea" not in terms  # P05 has not started RT


def test_a_lab_derived_ae_counts_and_a_derived_syndrome_does_not(
    sessions: Any, small_trial: Any
) -> None:
    document = counts(sessions, small_trial)
    assert row(document, term="Platelet count decreased")["patients_grade3plus"] == 1
    assert not [r for r in document["counts"] if r["term"].startswith("Radiation-induced")]


def test_counts_by_term_cover_the_whole_trial(sessions: Any, small_trial: Any) -> None:
    document = counts(sessions, small_trial)
    assert document["safety_population"] == 4
    summary = {
        r["term"]: (r["patients"], r["patients_grade3plus"], r["events"])
        for r in document["counts"]
    }
    assert summary == {
        "Alanine aminotransferase increased": (1, 1, 1),
        "Platelet count decreased": (1, 1, 1),
        "Fatigue": (1, 0, 2),
        "Gastric hemorrhage": (1, 1, 1),
        "Hepatic failure": (1, 1, 1),
    }


def test_counts_by_soc_take_each_patients_worst_grade_in_the_soc(
    sessions: Any, small_trial: Any
) -> None:
    document = counts(sessions, small_trial, by="soc")
    investigations = row(document, soc="Investigations")
    assert (investigations["patients"], investigations["events"]) == (2, 2)
    hepatobiliary = row(document, soc="Hepatobiliary disorders")
    assert hepatobiliary["patients_by_worst_grade"]["5"] == 1


def test_counts_by_grade_place_each_patient_at_the_worst_grade(
    sessions: Any, small_trial: Any
) -> None:
    document = counts(sessions, small_trial, by="grade")
    by_grade = {r["grade"]: (r["patients"], r["events"]) for r in document["counts"]}
    assert by_grade == {1: (0, 1), 2: (1, 1), 3: (2, 3), 4: (0, 0), 5: (1, 1)}


def test_counts_by_subject_and_site(sessions: Any, small_trial: Any) -> None:
    by_subject = counts(sessions, small_trial, by="subject")
    assert row(by_subject, subject_id="P04")["events"] == 2
    assert row(by_subject, subject_id="P04")["patients_by_worst_grade"]["5"] == 1
    by_site = counts(sessions, small_trial, by="site")
    assert (row(by_site, site="S01")["patients"], row(by_site, site="S01")["events"]) == (2, 3)
    assert row(by_site, site="S02")["patients_grade3plus"] == 2


def test_related_counts_take_the_worst_grade_among_related_records(
    sessions: Any, small_trial: Any
) -> None:
    systemic = counts(sessions, small_trial, related="systemic")
    # Fatigue is grade 2 overall, but the systemic-related record is grade 1.
    assert row(systemic, term="Fatigue")["patients_by_worst_grade"]["1"] == 1
    assert {r["term"] for r in systemic["counts"]} == {"Fatigue", "Gastric hemorrhage"}
    rt = counts(sessions, small_trial, related="rt")
    assert row(rt, term="Fatigue")["patients_by_worst_grade"]["2"] == 1
    assert "Platelet count decreased" not in {r["term"] for r in rt["counts"]}
    either = counts(sessions, small_trial, related="any", min_grade=3)
    assert sorted(r["term"] for r in either["counts"]) == [
        "Alanine aminotransferase increased",
        "Gastric hemorrhage",
        "Hepatic failure",
    ]


def test_serious_and_since_filters(sessions: Any, small_trial: Any) -> None:
    serious = counts(sessions, small_trial, serious=True)
    assert sorted(r["term"] for r in serious["counts"]) == ["Gastric hemorrhage", "Hepatic failure"]
    since = counts(sessions, small_trial, since=datetime(2026, 2, 15).date())
    assert sorted(r["term"] for r in since["counts"]) == [
        "Hepatic failure",
        "Platelet count decreased",
    ]


def test_ae_overview_counts_patients_over_the_safety_population(events: pd.DataFrame) -> None:
    overview = tables.ae_overview(events, 4).set_index("category")
    assert overview.loc["Any adverse event", ["patients", "events", "percent"]].tolist() == [
        4,
        6,
        100.0,
    ]
    assert overview.loc["Grade ≥ 3", "patients"] == 3
    assert overview.loc["Grade 5 (fatal)", "patients"] == 1
    assert overview.loc["Serious adverse event", "percent"] == 50.0
    assert overview.loc["RT-related (possible or more)", "patients"] == 4
    assert overview.loc["Systemic-therapy related", "patients"] == 2
    assert overview.loc["Related grade ≥ 3 (RT or systemic)", "patients"] == 3
    assert overview.loc["Led to systemic-therapy change", "patients"] == 1


def test_grade_table_has_an_any_row_then_socs_and_terms(events: pd.DataFrame) -> None:
    by_patient = tables.grade_table(events, "patients")
    any_row = by_patient.iloc[0]
    assert any_row["level"] == "any"
    assert any_row[["g1", "g2", "g3", "g4", "g5", "g3plus", "any"]].tolist() == [
        0,
        1,
        2,
        0,
        1,
        3,
        4,
    ]
    by_event = tables.grade_table(events, "events")
    assert by_event.iloc[0][["g1", "g2", "g3", "g5", "any"]].tolist() == [1, 1, 3, 1, 6]
    fatigue = by_event[by_event["term"] == "Fatigue"].iloc[0]
    assert (fatigue["g1"], fatigue["g2"], fatigue["any"]) == (1, 1, 2)


def test_sae_listing_and_deaths(population: pd.DataFrame, events: pd.DataFrame) -> None:
    sae = tables.sae_listing(events)
    assert sae["subject_id"].tolist() == ["P03", "P04"]
    gastric = sae.iloc[0]
    assert (gastric["onset_day"], gastric["criteria"], gastric["hours_aware_to_recorded"]) == (
        17,
        "hospitalisation",
        24.0,
    )
    # P04's site gave no awareness date: "not supplied", and no delay rather than 0 h.
    fatal = sae.iloc[1]
    assert fatal["awareness"] == "not supplied — clock from receipt"
    assert pd.isna(fatal["hours_aware_to_recorded"])
    assert gastric["awareness"] == "site"
    death = tables.deaths(population, events).iloc[0]
    assert (death["subject_id"], death["study_day"], death["cause"]) == (
        "P04",
        31,
        "Hepatic failure",
    )
    assert (death["days_after_rt_end"], bool(death["within_30_days_of_rt"])) == (24, True)
    assert death["rt_relation"] == "possible"
    changed = tables.treatment_changes(events)
    assert changed["subject_id"].tolist() == ["P03"]


def test_lab_shifts_go_from_baseline_to_worst_post_baseline_grade(
    snap: Snapshot, population: pd.DataFrame
) -> None:
    graded = labs.graded_labs(snap.labs, population)
    liver = labs.shift_table(graded, labs.LIVER_TESTS).set_index(["test", "baseline_grade"])
    assert liver.loc[("ALT", "0"), "post_3"] == 1
    assert liver.loc[("BILI", "0"), "post_1"] == 1
    blood = labs.shift_table(graded, labs.BLOOD_TESTS).set_index(["test", "baseline_grade"])
    # P04's platelets have no flagged baseline: the last value before RT is the baseline.
    assert blood.loc[("PLAT", "1"), "post_3"] == 1


def liver_changes(snap: Snapshot, population: pd.DataFrame, score: str, grade: str) -> pd.DataFrame:
    days = liver.liver_function_days(labs.graded_labs(snap.labs, population), snap.ae)
    return liver.change_from_baseline(liver.liver_scores(days), score, grade)


def test_albi_change_from_baseline(snap: Snapshot, population: pd.DataFrame) -> None:
    p01 = liver_changes(snap, population, "albi", "albi_grade").set_index("subject_id").loc["P01"]
    assert p01["baseline_albi"] == -2.586  # domain §3.3 worked value: just over grade 1
    assert (p01["baseline_albi_grade"], p01["worst_albi_grade"]) == (2, 2)
    assert p01["worst_albi"] == -1.538


def test_child_pugh_change_from_baseline(snap: Snapshot, population: pd.DataFrame) -> None:
    change = liver_changes(snap, population, "cp_score", "cp_class")
    p01 = change.set_index("subject_id").loc["P01"]
    assert (p01["baseline_cp_score"], p01["baseline_cp_class"]) == (5, "A")
    assert (p01["worst_cp_score"], p01["worst_cp_class"]) == (8, "B")
    assert liver.child_pugh_rises(change) == 1
    shift = liver.shift(change, "cp_class", ("A", "B", "C")).set_index("baseline")
    assert shift.loc["A", ["worst_A", "worst_B", "worst_C"]].tolist() == [0, 1, 0]


def test_derived_syndromes_are_listed_with_their_evidence(
    snap: Snapshot, population: pd.DataFrame
) -> None:
    cases = labs.syndrome_cases(snap.ae, population)
    assert cases["subject_id"].tolist() == ["P01"]
    assert "alt_x_uln=6.2" in cases.iloc[0]["evidence_summary"]


def test_accrual_exposure_and_follow_up(snap: Snapshot, population: pd.DataFrame) -> None:
    accrual = conduct.accrual_by_site_month(snap.subjects).set_index("month")
    assert accrual.loc["2026-01", ["S01", "S02", "total"]].tolist() == [2, 2, 4]
    assert accrual.loc["2026-02", "cumulative"] == 5
    exposure = conduct.exposure_by_lesion(snap.rt_courses, 60.0).set_index("subject_id")
    assert exposure.loc["P02", ["bed_gy", "deviation"]].tolist() == [60.0, False]
    assert exposure.loc["P03", ["bed_gy", "deviation"]].tolist() == [59.5, True]
    follow = conduct.follow_up(population, pd.Timestamp("2026-02-28")).set_index("subject_id")
    assert follow.loc["P01", "follow_up_days"] == 47
    assert follow.loc["P04", ["follow_up_days", "status"]].tolist() == [30, "died"]


def test_stopping_rule_alerts_and_data_quality(snap: Snapshot) -> None:
    latest = oversight.latest_rule_status(snap.rule_status).iloc[0]
    assert (latest["evaluable_n"], latest["toxic_n"], latest["stop_at"]) == (3, 2, 3)
    period = oversight.alerts_in_period(snap.alerts, datetime(2026, 2, 1, tzinfo=UTC), FEB_CUT)
    assert sorted(period["kind"]) == ["death", "sae-initial"]
    by_kind = oversight.alerts_by_kind(period).set_index("kind")
    assert by_kind.loc["sae-initial", "median_hours_to_ack"] == 3.0
    assert by_kind.loc["death", "unacknowledged"] == 1
    quarantine = oversight.quarantine_summary(snap.quarantine).set_index("kind")
    assert quarantine.loc["rejected", "open"] == 1
    assert quarantine.loc["query", "resolved"] == 1
    silent = oversight.silent_sites(snap.sites, FEB_CUT, 30)
    assert silent["site_code"].tolist() == ["S02"]


@pytest.mark.parametrize("by", ["term", "soc", "grade", "subject", "site"])
@pytest.mark.parametrize(
    "selection",
    [
        {},
        {"min_grade": 3},
        {"related": "rt"},
        {"related": "systemic", "serious": True},
        {"since": datetime(2026, 2, 6).date()},
        {"cut": JANUARY_THEN},
        {"cut": JANUARY_NOW},
        {"cut": DataCut()},
    ],
    ids=[
        "all",
        "grade3",
        "rt",
        "systemic-serious",
        "since",
        "january-then",
        "january-now",
        "all-data",
    ],
)
def test_the_cli_fast_path_agrees_with_the_report_tables(
    sessions: Any, small_trial: Any, by: str, selection: dict[str, Any]
) -> None:
    """`aewatch counts` collapses rows in SQL; the numbers must equal the snapshot path."""
    options = dict(selection)
    cut = options.pop("cut", FEBRUARY)
    with sessions() as session:
        snap = load_snapshot(session, small_trial.trial_pk, cut)
    population = tables.safety_population(snap.subjects, snap.rt_courses)
    events = tables.filter_events(
        tables.countable_events(snap.ae, population), EventFilter(**options)
    )
    expected = tables.counts_document(tables.count_by(events, by), len(population), by)
    assert counts(sessions, small_trial, by, cut=cut, **options) == expected
