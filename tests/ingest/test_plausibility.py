"""Plausibility before grading: an impossible value is kept, flagged and queried, and never
becomes a grade, a derived AE, an alert, a stopping-rule count or a last contact; a
corrected re-export closes its query and is graded as usual.

The queries are checked word for word: they are what the data manager sends the site.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from aewatch.config import LabRangeSetting
from aewatch.models import (
    AdverseEvent,
    AeVersion,
    Alert,
    ExposureRecord,
    LabResult,
    QuarantineEntry,
    RtCourse,
    RuleStatusRecord,
    Subject,
)
from aewatch.pipeline import Pipeline

# The clock (tests/conftest.py) reads 2026-03-01 08:00 UTC: every file arrives then.
DM = "USUBJID,SITEID,RFXSTDTC\n01-001,01,2025-06-02\n01-002,01,2025-06-02\n01-003,01,2025-06-02\n"
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC\n"
    "01-001,RT1,SBRT,8,Gy,5,LIVER,2025-06-02,2025-06-09\n"
    "01-002,RT1,SBRT,8,Gy,5,LIVER,2025-06-02,2025-06-09\n"
    "01-003,RT1,SBRT,8,Gy,5,LIVER,2025-06-02,2025-06-09\n"
)
LB_HEAD = "USUBJID,LBSEQ,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"
AE_HEAD = "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AEREL,AESTDTC,AEENDTC,AEAWDTC\n"
AFTER_LAB = ": correct it; until then the result is not graded, counted or used as a baseline"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def trial(pipeline: Pipeline, tmp_path: Path) -> Pipeline:
    outcomes = pipeline.ingest_paths([write(tmp_path, "dm.csv", DM), write(tmp_path, "ex.csv", EX)])
    assert [o.status for o in outcomes] == ["done", "done"]
    return pipeline


def queries(pipeline: Pipeline, state: str = "open") -> list[QuarantineEntry]:
    with pipeline.sessions() as session:
        return list(
            session.scalars(
                select(QuarantineEntry)
                .where(QuarantineEntry.kind == "query", QuarantineEntry.state == state)
                .order_by(QuarantineEntry.id)
            )
        )


def reasons(pipeline: Pipeline, field: str | None = None) -> list[str]:
    return [q.reason for q in queries(pipeline) if field is None or q.field == field]


def alerts(pipeline: Pipeline, kind: str | None = None) -> list[Alert]:
    with pipeline.sessions() as session:
        found = session.scalars(select(Alert)).all()
    return [a for a in found if kind is None or a.kind == kind]


def labs(pipeline: Pipeline) -> list[LabResult]:
    with pipeline.sessions() as session:
        return list(session.scalars(select(LabResult).order_by(LabResult.id)))


def derived_aes(pipeline: Pipeline) -> list[AdverseEvent]:
    with pipeline.sessions() as session:
        return list(session.scalars(select(AdverseEvent).where(AdverseEvent.origin != "site")))


IMPOSSIBLE_RESULTS = [
    (
        "PLAT",
        "-50",
        "10^9/L",
        "result LBSTRESN '-50' 10^9/L is not a plausible PLAT result (plausible: 0 to 5000 10^9/L)",
    ),
    (
        "PLAT",
        "15000",
        "10^9/L",
        "result LBSTRESN '15000' 10^9/L is not a plausible PLAT result "
        "(plausible: 0 to 5000 10^9/L)",
    ),
    ("PLAT", "inf", "10^9/L", "result LBSTRESN 'inf' is not a finite number"),
    ("PLAT", "Infinity", "10^9/L", "result LBSTRESN 'Infinity' is not a finite number"),
    ("PLAT", "1e400", "10^9/L", "result LBSTRESN '1e400' is not a finite number"),
    ("PLAT", "nan", "10^9/L", "result LBSTRESN 'nan' is not a finite number"),
    (
        "CREAT",
        "-1",
        "umol/L",
        "result LBSTRESN '-1' umol/L is not a plausible CREAT result (plausible: 0 to 4000 umol/L)",
    ),
    (
        "ALB",
        "-1",
        "g/L",
        "result LBSTRESN '-1' g/L is not a plausible ALB result (plausible: 5 to 80 g/L)",
    ),
    (
        "ALB",
        "0.3",
        "g/dL",
        "result LBSTRESN '0.3' g/dL is not a plausible ALB result (plausible: 5 to 80 g/L)",
    ),
    (
        "HGB",
        "15",
        "g/L",
        "result LBSTRESN '15' g/L is not a plausible HGB result (plausible: 20 to 250 g/L)",
    ),
    (
        "ALT",
        "60000",
        "U/L",
        "result LBSTRESN '60000' U/L is not a plausible ALT result (plausible: 0 to 50000 U/L)",
    ),
    (
        "AST",
        "60000",
        "",
        "result LBSTRESN '60000' (no unit; read as U/L) is not a plausible AST "
        "result (plausible: 0 to 50000 U/L)",
    ),
    (
        "BILI",
        "2000",
        "umol/L",
        "result LBSTRESN '2000' umol/L is not a plausible BILI result "
        "(plausible: 0 to 1500 umol/L)",
    ),
]


@pytest.mark.parametrize(
    ("test", "value", "unit", "reason"),
    IMPOSSIBLE_RESULTS,
    ids=[f"{t} {v} {u}" for t, v, u, _ in IMPOSSIBLE_RESULTS],
)
def test_an_impossible_result_is_kept_queried_and_never_graded_derived_or_alerted(
    test: str, value: str, unit: str, reason: str, trial: Pipeline, tmp_path: Path
) -> None:
    limits = {"PLAT": "150,400", "CREAT": "60,110", "ALB": "35,50", "HGB": "120,170"}
    low_high = limits.get(test, "0,40")
    if unit == "g/dL":
        low_high = "3.5,5"
    text = LB_HEAD + "".join(
        f"01-00{n},1,{test},{value},{unit},{low_high},2025-07-01\n" for n in (1, 2, 3)
    )
    outcome = trial.ingest_paths([write(tmp_path, "lb.csv", text)])[0]
    assert (outcome.status, outcome.accepted, outcome.quarantined) == ("done", 3, 0)
    assert reasons(trial, "LBSTRESN") == [reason + AFTER_LAB] * 3
    for lab in labs(trial):
        assert lab.implausible == reason
        assert (lab.tox_grade_low, lab.tox_grade_high) == (None, None)
        assert lab.tox_note == f"not graded: {reason}"
    assert derived_aes(trial) == []
    assert alerts(trial) == [], "an impossible value must never alert anyone"
    with trial.sessions() as session:
        statuses = session.scalars(select(RuleStatusRecord)).all()
    assert all(s.toxic_n == 0 for s in statuses)


def test_before_plausibility_the_same_values_would_have_crossed_the_grade_3_rule(
    trial: Pipeline, tmp_path: Path
) -> None:
    """The control: real grade 4 platelet counts in the same three patients do cross it,
    so the test above shows the implausible values were excluded, not merely ungradable."""
    text = LB_HEAD + "".join(f"01-00{n},1,PLAT,20,10^9/L,150,400,2025-07-01\n" for n in (1, 2, 3))
    trial.ingest_paths([write(tmp_path, "lb.csv", text)])
    assert len(derived_aes(trial)) == 3
    assert [a.kind for a in alerts(trial, "threshold")] == ["threshold"]


REFERENCE_RANGES = [
    (
        "50",
        "10",
        "LBSTNRLO",
        "reference range LBSTNRLO '50' to LBSTNRHI '10' is inverted "
        "(the lower limit is above the upper)",
    ),
    ("40", "40", "LBSTNRLO", "reference range LBSTNRLO '40' to LBSTNRHI '40' has zero width"),
    ("0", "inf", "LBSTNRHI", "LBSTNRHI 'inf' is not a finite number"),
    ("-inf", "40", "LBSTNRLO", "LBSTNRLO '-inf' is not a finite number"),
    (
        "0",
        "1e308",
        "LBSTNRHI",
        "reference limit LBSTNRHI '1e+308' U/L is not a plausible ALT "
        "limit (plausible: 0 to 50000 U/L)",
    ),
]


@pytest.mark.parametrize(("low", "high", "field", "reason"), REFERENCE_RANGES)
def test_a_reference_range_that_cannot_be_graded_against_is_queried(
    low: str, high: str, field: str, reason: str, trial: Pipeline, tmp_path: Path
) -> None:
    text = LB_HEAD + f"01-001,1,ALT,900,U/L,{low},{high},2025-07-01\n"
    outcome = trial.ingest_paths([write(tmp_path, "lb.csv", text)])[0]
    assert (outcome.accepted, outcome.queries) == (1, 1)
    assert reasons(trial, field) == [reason + AFTER_LAB]
    (lab,) = labs(trial)
    assert lab.tox_grade_high is None and derived_aes(trial) == []


def test_a_lab_dated_next_year_is_queried_and_is_no_last_contact(
    trial: Pipeline, tmp_path: Path
) -> None:
    from aewatch.store.rule_inputs import load_patients

    text = LB_HEAD + "01-001,1,ALT,20,U/L,0,40,2027-03-01\n01-002,1,ALT,20,U/L,0,40,2026-03-02\n"
    trial.ingest_paths([write(tmp_path, "lb.csv", text)])
    assert reasons(trial) == [
        "collection date LBDTC '2027-03-01' is in the future (after the file was received, "
        "allowing 1 day for time zones)" + AFTER_LAB
    ], "one day ahead is allowed for time zones"
    with trial.sessions() as session:
        patients = load_patients(session, 1).set_index("subject_id")
    assert patients.at["01-001", "last_contact"] == pd.Timestamp("2025-06-09", tz="UTC")
    assert patients.at["01-002", "last_contact"] == pd.Timestamp("2026-03-02", tz="UTC")


def test_an_ae_with_an_onset_in_2099_counts_as_emergent_but_is_no_last_contact(
    trial: Pipeline, tmp_path: Path
) -> None:
    """Before: the 2099 onset was the patient's last contact, so the patient looked
    followed through the 90-day window and became "evaluable" without any follow-up."""
    from aewatch.reports.counting import count_adverse_events

    text = AE_HEAD + "01-001,AE-1,NAUSEA,Nausea,2,N,POSSIBLE,2099-01-15,,\n"
    outcome = trial.ingest_paths([write(tmp_path, "ae.csv", text)])[0]
    assert (outcome.accepted, outcome.quarantined) == (1, 0)
    reason = (
        "onset date AESTDTC '2099-01-15' is in the future (after the file was received, "
        "allowing 1 day for time zones)"
    )
    assert reasons(trial) == [
        reason + ": correct it; until then the onset is unknown and the AE counts as "
        "treatment-emergent"
    ]
    with trial.sessions() as session:
        version = session.scalars(select(AeVersion)).one()
        counts = count_adverse_events(session, 1, by="term")
        grade3 = session.scalars(
            select(RuleStatusRecord)
            .where(RuleStatusRecord.rule_name == "grade3-rt-related")
            .order_by(RuleStatusRecord.id.desc())
        ).first()
    assert (version.onset_on, version.onset_precision, version.implausible) == (None, None, reason)
    assert counts.table["term"].tolist() == ["Nausea"], "it still counts"
    assert grade3 is None or grade3.evaluable_n == 0, "no follow-up: nobody is evaluable"


def test_an_onset_long_before_the_trial_is_queried_with_the_configured_margin(
    trial: Pipeline, tmp_path: Path
) -> None:
    text = AE_HEAD + "01-001,AE-1,NAUSEA,Nausea,2,N,POSSIBLE,1925-03-01,,\n"
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    assert reasons(trial) == [
        "onset date AESTDTC '1925-03-01' is before 2014-01-03 (the trial's first enrolment, "
        "2024-01-01, less 3650 days of medical history): correct it; until then the onset is "
        "unknown and the AE counts as treatment-emergent"
    ]


def test_a_partial_date_is_implausible_only_when_all_of_its_period_is(
    trial: Pipeline, tmp_path: Path
) -> None:
    text = AE_HEAD + (
        "01-001,AE-1,NAUSEA,Nausea,1,N,POSSIBLE,2026-03,,\n"
        "01-001,AE-2,FATIGUE,Fatigue,1,N,POSSIBLE,2014,,\n"
        "01-001,AE-3,RASH,Rash acneiform,1,N,POSSIBLE,2013-12,,\n"
    )
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    assert [q.value for q in queries(trial)] == ["2013-12"]


def test_a_future_end_or_awareness_date_is_unknown_and_the_clock_runs_from_receipt(
    trial: Pipeline, tmp_path: Path, clock
) -> None:
    text = AE_HEAD + "01-001,AE-1,ASCITES,Ascites,3,Y,POSSIBLE,2026-02-01,2026-09-01,2026-04-01\n"
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    assert [q.field for q in queries(trial) if q.field.endswith("DTC")] == ["AEENDTC", "AEAWDTC"]
    assert reasons(trial, "AEAWDTC") == [
        "awareness date AEAWDTC '2026-04-01' is in the future (after the file was received, "
        "allowing 1 day for time zones): correct it; until then the reporting clock runs from "
        "when the file was received"
    ]
    with trial.sessions() as session:
        version = session.scalars(select(AeVersion)).one()
    assert (version.end_on, version.aware_at, str(version.onset_on)) == (
        None,
        clock.now(),
        "2026-02-01",
    )
    assert len(alerts(trial, "sae-initial")) == 1, "the SAE itself is still alerted"


def test_a_course_starting_in_the_future_has_an_unknown_start(
    trial: Pipeline, tmp_path: Path
) -> None:
    text = "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC\n"
    text += "01-002,RT2,SBRT,8,Gy,5,LIVER,2036-06-02,2036-06-09\n"
    trial.ingest_paths([write(tmp_path, "ex2.csv", text)])
    assert [q.field for q in queries(trial)] == ["EXSTDTC", "EXENDTC"]
    with trial.sessions() as session:
        record = session.scalars(
            select(ExposureRecord).where(ExposureRecord.sponsor_id == "RT2")
        ).one()
        course = session.get(RtCourse, record.course_pk)
    assert (record.start_on, record.end_on) == (None, None)
    assert course is not None and (course.start_on, course.end_on) == (None, None)


def test_a_death_date_in_the_future_does_not_replace_the_stored_one(
    trial: Pipeline, tmp_path: Path
) -> None:
    head = "USUBJID,SITEID,RFXSTDTC,DTHFL,DTHDTC\n"
    trial.ingest_paths([write(tmp_path, "dm2.csv", head + "01-003,01,2025-06-02,Y,2026-02-10\n")])
    trial.ingest_paths([write(tmp_path, "dm3.csv", head + "01-003,01,2025-06-02,Y,2062-02-10\n")])
    assert reasons(trial, "DTHDTC")[-1] == (
        "death date DTHDTC '2062-02-10' is in the future (after the file was received, "
        "allowing 1 day for time zones): correct it; until then it is not used (a stored date "
        "is kept)"
    )
    with trial.sessions() as session:
        died = session.scalar(select(Subject.died_on).where(Subject.subject_id == "01-003"))
    assert died == date(2026, 2, 10)


def test_a_corrected_re_export_closes_the_query_and_is_graded(
    trial: Pipeline, tmp_path: Path
) -> None:
    wrong = LB_HEAD + "01-001,1,PLAT,-50,10^9/L,150,400,2025-07-01\n"
    trial.ingest_paths([write(tmp_path, "lb1.csv", wrong)])
    assert len(queries(trial)) == 1
    corrected = LB_HEAD + "01-001,7,PLAT,20,10^9/L,150,400,2025-07-01\n"
    outcome = trial.ingest_paths([write(tmp_path, "lb2.csv", corrected)])[0]
    # The implausibility query is closed; the graded result now asks the site for the
    # AE it reports (a lab-derived grade 4 no site AE reports).
    assert outcome.queries == 1
    assert [q.record_key for q in queries(trial)] == ["LAB:UNREPORTED:Platelet count decreased"]
    (closed,) = queries(trial, state="resolved")
    assert closed.resolved_at is not None and closed.field == "LBSTRESN"
    (lab,) = labs(trial)
    assert (lab.value, lab.implausible, lab.tox_grade_low) == (20.0, None, 4)
    assert [ae.ae_key for ae in derived_aes(trial)] == ["LAB:Platelet count decreased"]


def test_a_plausible_result_made_implausible_by_a_re_export_loses_its_grade(
    trial: Pipeline, tmp_path: Path
) -> None:
    trial.ingest_paths(
        [write(tmp_path, "lb_a.csv", LB_HEAD + "01-001,1,ALT,900,U/L,0,40,2025-07-01\n")]
    )
    assert labs(trial)[0].tox_grade_high == 4
    trial.ingest_paths(
        [write(tmp_path, "lb_b.csv", LB_HEAD + "01-001,1,ALT,-900,U/L,0,40,2025-07-01\n")]
    )
    (lab,) = labs(trial)
    assert (lab.tox_grade_high, lab.tox_term_high) == (None, None)
    assert lab.tox_note.startswith("not graded: result LBSTRESN '-900' U/L")


def test_a_cumulative_re_export_keeps_one_open_query_per_problem(
    trial: Pipeline, tmp_path: Path
) -> None:
    first = LB_HEAD + "01-001,1,PLAT,-50,10^9/L,150,400,2025-07-01\n"
    trial.ingest_paths([write(tmp_path, "lb1.csv", first)])
    again = first + "01-002,1,PLAT,210,10^9/L,150,400,2025-07-01\n"
    outcome = trial.ingest_paths([write(tmp_path, "lb2.csv", again)])[0]
    assert outcome.queries == 1, "the file still raises it"
    assert len(queries(trial)) == 1, "but it is the same open query, not a copy"
    assert queries(trial, state="resolved") == []


def test_a_corrected_ae_onset_closes_its_query_and_becomes_a_new_version(
    trial: Pipeline, tmp_path: Path
) -> None:
    trial.ingest_paths(
        [
            write(
                tmp_path,
                "ae_a.csv",
                AE_HEAD + "01-001,AE-1,NAUSEA,Nausea,2,N,POSSIBLE,2099-01-15,,\n",
            )
        ]
    )
    trial.ingest_paths(
        [
            write(
                tmp_path,
                "ae_b.csv",
                AE_HEAD + "01-001,AE-1,NAUSEA,Nausea,2,N,POSSIBLE,2026-01-15,,\n",
            )
        ]
    )
    assert queries(trial) == []
    with trial.sessions() as session:
        current = session.scalars(select(AeVersion).where(AeVersion.is_current)).one()
    assert (current.version, str(current.onset_on), current.implausible) == (2, "2026-01-15", None)


def test_the_trial_can_narrow_a_range_in_its_config(pipeline: Pipeline, tmp_path: Path) -> None:
    settings = pipeline.settings
    narrowed = replace(
        settings,
        plausibility=replace(
            settings.plausibility,
            lab_ranges=(LabRangeSetting(analyte="PLAT", unit="10^9/L", low=0, high=1000),),
        ),
    )
    trial = Pipeline(narrowed, pipeline.sessions, pipeline.clock, "test-worker")
    trial.ingest_paths([write(tmp_path, "dm.csv", DM)])
    trial.ingest_paths(
        [write(tmp_path, "lb.csv", LB_HEAD + "01-001,1,PLAT,1500,10^9/L,150,400,2025-07-01\n")]
    )
    assert reasons(trial) == [
        "result LBSTRESN '1500' 10^9/L is not a plausible PLAT result (plausible: 0 to 1000 "
        "10^9/L)" + AFTER_LAB
    ]


def test_report_tables_leave_implausible_results_out(trial: Pipeline, tmp_path: Path) -> None:
    from aewatch.reports.snapshot import load_snapshot

    text = LB_HEAD + (
        "01-001,1,PLAT,-50,10^9/L,150,400,2025-07-01\n01-001,2,PLAT,210,10^9/L,150,400,2025-07-08\n"
    )
    trial.ingest_paths([write(tmp_path, "lb.csv", text)])
    with trial.sessions() as session:
        snapshot = load_snapshot(session, 1, None)
    assert snapshot.labs["value"].tolist() == [210.0]
