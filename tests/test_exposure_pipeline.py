"""Radiotherapy exposure as sites record it, through the real ingest pipeline (SQLite and
PostgreSQL): courses from fractions, units, RT versus systemic therapy, plausibility,
liver involvement and RILD, deviation alerts, first-RT date and the safety population."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from aewatch.clock import ManualClock
from aewatch.models import (
    AdverseEvent,
    AeVersion,
    Alert,
    ExposureRecord,
    QuarantineEntry,
    RtCourse,
    Subject,
)
from aewatch.pipeline import FileOutcome, Pipeline

DM = "USUBJID,SITEID\n01-001,01\n01-002,01\n02-003,02\n02-004,02\n02-005,02\n02-006,02\n"
EX_HEAD = "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC\n"
LB_HEAD = "USUBJID,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"


def ingest(pipeline: Pipeline, folder: Path, name: str, text: str) -> FileOutcome:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return pipeline.ingest_paths([path])[0]


def fraction_rows(subject: str, days: list[str], dose: str = "8", **extra: str) -> str:
    """One EX record per fraction, as RT systems export them (no EXNFRAC)."""
    spid = extra.get("spid", "")
    lesion = extra.get("lesion", "liver segment VII")
    unit = extra.get("unit", "Gy")
    return "".join(f"{subject},{spid},SBRT,{dose},{unit},,{lesion},{day},\n" for day in days)


FIVE_DAYS = ["2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05", "2025-06-06"]


def courses(pipeline: Pipeline, subject: str | None = None) -> list[RtCourse]:
    with pipeline.sessions() as session:
        statement = select(RtCourse).join(Subject).order_by(Subject.subject_id, RtCourse.start_on)
        if subject is not None:
            statement = statement.where(Subject.subject_id == subject)
        return list(session.scalars(statement))


def alerts(pipeline: Pipeline, kind: str) -> list[Alert]:
    with pipeline.sessions() as session:
        return list(session.scalars(select(Alert).where(Alert.kind == kind).order_by(Alert.id)))


def quarantine(pipeline: Pipeline) -> list[QuarantineEntry]:
    with pipeline.sessions() as session:
        return list(session.scalars(select(QuarantineEntry).order_by(QuarantineEntry.id)))


def derived_terms(pipeline: Pipeline) -> list[tuple[str, str]]:
    with pipeline.sessions() as session:
        rows = session.execute(
            select(Subject.subject_id, AeVersion.ctcae_term)
            .join(AdverseEvent, AdverseEvent.subject_pk == Subject.id)
            .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
            .where(AdverseEvent.origin == "syndrome")
            .order_by(Subject.subject_id)
        ).all()
    return [(s, t) for s, t in rows]


@pytest.fixture
def with_dm(pipeline: Pipeline, tmp_path: Path) -> Pipeline:
    assert ingest(pipeline, tmp_path, "dm.csv", DM).accepted == 6
    return pipeline


# -- the table, row by row ---------------------------------------------------------


def test_one_record_per_fraction_without_exnfrac_is_one_course_of_bed_72(
    with_dm: Pipeline, tmp_path: Path
) -> None:
    outcome = ingest(with_dm, tmp_path, "ex.csv", EX_HEAD + fraction_rows("01-001", FIVE_DAYS))
    assert (outcome.accepted, outcome.quarantined, outcome.queries) == (5, 0, 0)
    [course] = courses(with_dm)
    assert (course.fractions, course.records, course.fraction_doses) == (5, 5, [[5, 8.0]])
    assert (course.bed_gy, course.eqd2_gy, course.total_dose_gy) == (72.0, 60.0, 40.0)
    assert (course.dose_status, course.completed, course.bed_below_minimum) == (
        "evaluable",
        True,
        False,
    )
    assert (course.start_on, course.end_on) == (date(2025, 6, 2), date(2025, 6, 6))
    assert alerts(with_dm, "deviation") == []


def test_a_lesion_level_exspid_on_every_fraction_sums_the_fractions(
    with_dm: Pipeline, tmp_path: Path
) -> None:
    rows = fraction_rows("01-001", FIVE_DAYS, spid="L1")
    outcome = ingest(with_dm, tmp_path, "ex.csv", EX_HEAD + rows)
    assert (outcome.accepted, outcome.quarantined) == (5, 0)
    assert [(c.fractions, c.bed_gy) for c in courses(with_dm)] == [(5, 72.0)]
    assert quarantine(with_dm) == []


def test_a_total_dose_in_exdose_is_implausible_queried_and_kept_out_of_the_range(
    with_dm: Pipeline, tmp_path: Path
) -> None:
    from aewatch.reports import conduct
    from aewatch.reports.snapshot import load_snapshot

    text = (
        EX_HEAD
        + "01-001,RT1,SBRT,40,Gy,5,liver S7,2025-06-02,2025-06-06\n"
        + "01-002,RT1,SBRT,7,Gy,5,liver S4,2025-06-02,2025-06-06\n"
    )
    outcome = ingest(with_dm, tmp_path, "ex.csv", text)
    assert (outcome.accepted, outcome.queries) == (2, 1)
    implausible, _ = courses(with_dm)
    assert (implausible.bed_gy, implausible.dose_status) == (1000.0, "implausible")
    assert not implausible.bed_below_minimum
    [query] = quarantine(with_dm)
    assert (query.kind, query.subject_id, query.field, query.value, query.row_number) == (
        "query",
        "01-001",
        "EXDOSE",
        "40",
        1,
    )
    assert query.reason == (
        "EXDOSE 40 Gy per fraction is above the plausible 25 Gy (with EXNFRAC 5: 200 Gy in "
        "total, BED 1000.0 Gy10): EXDOSE must be the dose per fraction; if 40 Gy is the total "
        "dose, EXDOSE is 8; the course is kept but not used for the BED deviation check until "
        "the dose is corrected"
    )
    # Only the plausible course is a deviation (5 × 7 Gy: BED 59.5).
    assert [a.subject_id for a in alerts(with_dm, "deviation")] == ["01-002"]
    with with_dm.sessions() as session:
        snap = load_snapshot(session, 1, None)
    summary = conduct.exposure_summary(conduct.exposure_by_lesion(snap.rt_courses, 60.0))
    assert (summary["min_bed_gy"], summary["max_bed_gy"]) == (59.5, 59.5)
    assert summary["not_evaluable_by_reason"] == {"implausible": 1}


def test_cgy_is_converted_and_the_patient_stays_in_the_safety_population(
    with_dm: Pipeline, tmp_path: Path
) -> None:
    from aewatch.reports.counting import count_adverse_events

    text = EX_HEAD + "02-003,RT1,SBRT,800,cGy,5,liver S4,2025-06-02,2025-06-06\n"
    outcome = ingest(with_dm, tmp_path, "ex.csv", text)
    assert (outcome.accepted, outcome.quarantined, outcome.queries) == (1, 0, 0)
    [course] = courses(with_dm)
    assert (course.dose_per_fraction_gy, course.bed_gy, course.eqd2_gy) == (8.0, 72.0, 60.0)
    with with_dm.sessions() as session:
        assert count_adverse_events(session, 1).population_n == 1


def test_an_unknown_unit_keeps_the_patient_on_treatment_and_queries_the_unit(
    with_dm: Pipeline, tmp_path: Path
) -> None:
    text = EX_HEAD + "02-003,RT1,SBRT,8,Gray/fx,5,liver S4,2025-06-02,2025-06-06\n"
    assert ingest(with_dm, tmp_path, "ex.csv", text).queries == 1
    [course] = courses(with_dm)
    assert (course.start_on, course.bed_gy, course.dose_status) == (
        date(2025, 6, 2),
        None,
        "dose unknown",
    )
    [query] = quarantine(with_dm)
    assert query.field == "EXDOSU" and "'Gray/fx' is not a radiotherapy dose unit" in query.reason


def test_a_lenvatinib_record_in_ex_is_systemic_exposure_and_moves_nothing(
    with_dm: Pipeline, tmp_path: Path
) -> None:
    from aewatch.reports.counting import count_adverse_events
    from aewatch.store.courses import first_rt_starts
    from aewatch.store.rule_inputs import load_patients
    from aewatch.store.subject_data import load_subject_data

    ex = (
        EX_HEAD
        + "02-005,,LENVATINIB,8,mg,,,2024-12-01,2025-05-31\n"
        + "02-005,RT1,SBRT,8,Gy,5,adrenal metastasis,2025-06-02,2025-06-06\n"
    )
    lb = LB_HEAD + "02-005,ALT,30,U/L,0,40,2025-01-10\n02-005,ALT,45,U/L,0,40,2025-05-30\n"
    ae = (
        "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESTDTC\n"
        "02-005,1,HYPERTENSION,Hypertension,3,2025-02-01\n"
    )
    ingest(with_dm, tmp_path, "ex.csv", ex)
    ingest(with_dm, tmp_path, "lb.csv", lb)
    ingest(with_dm, tmp_path, "ae.csv", ae)
    with with_dm.sessions() as session:
        subject = session.scalars(select(Subject).where(Subject.subject_id == "02-005")).one()
        records = session.scalars(select(ExposureRecord).order_by(ExposureRecord.start_on)).all()
        assert [(r.category, r.agent, r.course_pk is None) for r in records] == [
            ("systemic", "lenvatinib", True),
            ("radiotherapy", None, False),
        ]
        assert first_rt_starts(session, {subject.id}) == {subject.id: date(2025, 6, 2)}
        patients = load_patients(session, 1).set_index("subject_id")
        assert patients.loc["02-005", "rt_start"].date() == date(2025, 6, 2)
        baseline_ref = load_subject_data(session, {subject.id}).ref_start["02-005"]
        counted = count_adverse_events(session, 1)
    assert baseline_ref == date(2025, 6, 2)  # the lab baseline is the pre-RT value (45 U/L)
    assert counted.population_n == 1
    assert counted.table.empty  # hypertension began before RT: not treatment-emergent
    assert len(courses(with_dm)) == 1


def test_an_unknown_treatment_is_queried_and_not_radiotherapy(
    with_dm: Pipeline, tmp_path: Path
) -> None:
    from aewatch.reports.counting import count_adverse_events

    text = EX_HEAD + "02-006,,TACE,50,mg,,liver,2025-03-01,2025-03-01\n"
    assert ingest(with_dm, tmp_path, "ex.csv", text).queries == 1
    assert courses(with_dm) == []
    [query] = quarantine(with_dm)
    assert query.field == "EXTRT" and query.reason.startswith(
        "EXTRT 'TACE' is neither a radiotherapy term nor a known systemic drug"
    )
    with with_dm.sessions() as session:
        assert count_adverse_events(session, 1).population_n == 0


@pytest.mark.parametrize(
    ("lesion", "rild"),
    [("bone metastasis (T10)", []), ("liver segment VII", [("01-001", "RILD (non-classic)")])],
)
def test_rild_needs_liver_irradiation(
    with_dm: Pipeline, tmp_path: Path, lesion: str, rild: list[tuple[str, str]]
) -> None:
    ingest(with_dm, tmp_path, "ex.csv", EX_HEAD + fraction_rows("01-001", FIVE_DAYS, lesion=lesion))
    lb = LB_HEAD + "01-001,ALT,30,U/L,0,40,2025-05-30\n01-001,ALT,250,U/L,0,40,2025-07-06\n"
    ingest(with_dm, tmp_path, "lb.csv", lb)
    assert derived_terms(with_dm) == rild
    assert len(alerts(with_dm, "liver-event")) == len(rild)


def test_a_baseline_already_above_5_x_uln_needs_grade_4_to_be_rild(
    with_dm: Pipeline, tmp_path: Path
) -> None:
    ingest(with_dm, tmp_path, "ex.csv", EX_HEAD + fraction_rows("01-001", FIVE_DAYS))
    unchanged = LB_HEAD + "01-001,ALT,250,U/L,0,40,2025-05-30\n01-001,ALT,260,U/L,0,40,2025-07-06\n"
    ingest(with_dm, tmp_path, "lb1.csv", unchanged)
    assert derived_terms(with_dm) == []  # 6.5 × ULN, but the baseline was already 6.25 × ULN
    ingest(with_dm, tmp_path, "lb2.csv", LB_HEAD + "01-001,ALT,5100,U/L,0,40,2025-07-20\n")
    assert derived_terms(with_dm) == [("01-001", "RILD (non-classic)")]  # > 20 × baseline
    with with_dm.sessions() as session:
        evidence = session.scalars(
            select(AeVersion.evidence)
            .join(AdverseEvent, AdverseEvent.id == AeVersion.ae_pk)
            .where(AdverseEvent.origin == "syndrome")
        ).one()
    items = evidence["items"]
    assert items["criteria"] == ["ALT CTCAE grade 4"]
    assert (items["ALT"], items["ALT_baseline"], items["ALT_x_baseline"]) == (5100.0, 250.0, 20.4)
    assert (items["study_day"], items["ALT_baseline_study_day"]) == (49, -3)
    assert "20.4 × baseline" in evidence["summary"]
    assert "2025-" not in evidence["summary"]  # study days, not dates


# -- fractions arriving over weeks ------------------------------------------------------


def test_fractions_sent_over_weeks_build_one_course_and_one_deviation_alert(
    with_dm: Pipeline, tmp_path: Path, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 2, 24, 18))
    first = fraction_rows("01-001", ["2026-02-23", "2026-02-24"], dose="5")
    ingest(with_dm, tmp_path, "ex_week1.csv", EX_HEAD + first)
    [course] = courses(with_dm)
    assert (course.bed_gy, course.completed, course.bed_below_minimum) == (15.0, False, False)
    key, pk = course.course_key, course.id
    assert alerts(with_dm, "deviation") == []  # fractions are still arriving

    clock.set(datetime(2026, 2, 28, 18))
    rest = fraction_rows("01-001", ["2026-02-25", "2026-02-26", "2026-02-27"], dose="5")
    ingest(with_dm, tmp_path, "ex_week2.csv", EX_HEAD + rest)
    [course] = courses(with_dm)
    assert (course.id, course.course_key, course.fractions, course.bed_gy) == (pk, key, 5, 37.5)
    assert not course.completed and alerts(with_dm, "deviation") == []

    # Three weeks without a fraction: the course is complete; any file brings the judgement.
    clock.set(datetime(2026, 3, 20, 9))
    ingest(with_dm, tmp_path, "lb.csv", LB_HEAD + "02-003,ALT,20,U/L,0,40,2026-03-19\n")
    [course] = courses(with_dm)
    assert (course.id, course.completed, course.bed_below_minimum) == (pk, True, True)
    [alert] = alerts(with_dm, "deviation")
    assert alert.dedup_key == f"deviation:NCT06261047:01-001:{key}"
    assert alert.payload["context"]["schedule"] == "5 × 5 Gy"

    # A re-export of all five fractions, and another unrelated file: still one alert.
    everything = fraction_rows("01-001", ["2026-02-23", "2026-02-24"], dose="5") + rest
    ingest(with_dm, tmp_path, "ex_all.csv", EX_HEAD + everything)
    ingest(with_dm, tmp_path, "lb2.csv", LB_HEAD + "02-003,ALT,21,U/L,0,40,2026-03-20\n")
    assert [(c.id, c.records) for c in courses(with_dm)] == [(pk, 5)]
    assert len(alerts(with_dm, "deviation")) == 1


def test_the_worker_judges_a_course_that_became_complete_while_no_file_arrived(
    with_dm: Pipeline, tmp_path: Path, clock: ManualClock
) -> None:
    from aewatch.worker import Worker

    clock.set(datetime(2026, 2, 28, 18))
    days = ["2026-02-23", "2026-02-24", "2026-02-25", "2026-02-26", "2026-02-27"]
    ingest(with_dm, tmp_path, "ex.csv", EX_HEAD + fraction_rows("01-001", days, dose="5"))
    worker = Worker(with_dm.settings, with_dm.sessions, clock, worker_id="test-worker")
    assert worker.cycle().courses_reviewed == 0
    assert alerts(with_dm, "deviation") == []
    clock.set(datetime(2026, 3, 14, 9))  # 15 days after the last fraction
    assert worker.cycle().courses_reviewed == 1
    [alert] = alerts(with_dm, "deviation")
    assert alert.payload["context"]["bed_gy"] == 37.5
    assert worker.cycle().courses_reviewed == 0
    assert len(alerts(with_dm, "deviation")) == 1


def test_ex_rows_held_for_an_unknown_subject_become_a_course_when_dm_arrives(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    held = ingest(pipeline, tmp_path, "ex.csv", EX_HEAD + fraction_rows("01-001", FIVE_DAYS))
    assert (held.pending, courses(pipeline)) == (5, [])
    ingest(pipeline, tmp_path, "dm.csv", DM)
    assert [(c.fractions, c.bed_gy) for c in courses(pipeline)] == [(5, 72.0)]


def test_a_config_word_reclassifies_stored_records_with_the_next_export(
    with_dm: Pipeline, tmp_path: Path
) -> None:
    from dataclasses import replace

    text = EX_HEAD + "02-006,,Y90 TARE,1.2,GBq,,liver S5,2025-03-01,2025-03-01\n"
    ingest(with_dm, tmp_path, "ex.csv", text)
    assert courses(with_dm) == []
    settings = with_dm.settings
    with_dm.settings = replace(
        settings, systemic_therapy=replace(settings.systemic_therapy, treatments=("TARE",))
    )
    ingest(with_dm, tmp_path, "ex2.csv", text + "02-006,,LENVATINIB,8,mg,,,2025-04-01,\n")
    with with_dm.sessions() as session:
        assert session.scalars(select(ExposureRecord.agent).order_by(ExposureRecord.id)).all() == [
            "tare",  # the config's word, as the drug's name
            "lenvatinib",
        ]


# -- a mixed export, end to end ------------------------------------------------------------

SITE_01 = (  # per-fraction records for one patient, per-course records for another
    EX_HEAD
    + fraction_rows("01-001", FIVE_DAYS)
    + "01-002,RT1,SBRT,10,Gy,5,lung metastasis,2025-06-10,2025-06-14\n"
    + "01-002,RT2,SBRT,10,Gy,3,bone T10,2025-10-01,2025-10-03\n"
)
SITE_02 = (  # a cGy site, a re-irradiation, first-line drugs in EX
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC,EXDOSFRQ\n"
    "02-003,RT1,SBRT,700,cGy,5,liver segment IV,2025-06-02,2025-06-06,\n"
    "02-004,RT1,SBRT,800,cGy,5,liver segment VIII,2025-05-05,2025-05-09,\n"
    "02-004,RT2,SBRT,1000,cGy,3,liver segment VIII,2025-11-03,2025-11-05,\n"
    "02-005,,LENVATINIB,8,mg,,,2025-01-01,2025-06-30,QD\n"
    "02-005,RT1,SBRT,800,cGy,5,adrenal metastasis,2025-07-01,2025-07-05,\n"
    "02-006,,ATEZOLIZUMAB,1200,mg,,,2025-05-01,2025-05-01,Q3W\n"
    "02-006,,BEVACIZUMAB,15,mg/kg,,,2025-05-01,2025-05-01,Q3W\n"
)
LB_MIXED = (
    LB_HEAD
    + "01-001,ALT,30,U/L,0,40,2025-05-30\n"
    + "01-001,ALT,300,U/L,0,40,2025-07-06\n"  # 7.5 × ULN a month after liver RT: RILD
    + "01-002,ALT,30,U/L,0,40,2025-09-28\n"
    + "01-002,ALT,300,U/L,0,40,2025-10-20\n"  # after bone-only RT: not RILD
)


def test_a_mixed_export_end_to_end(with_dm: Pipeline, tmp_path: Path) -> None:
    from aewatch.exposure.rules import ExposureRules
    from aewatch.reports import conduct
    from aewatch.reports.counting import count_adverse_events
    from aewatch.reports.snapshot import load_snapshot
    from aewatch.reports.tables import safety_population

    ingest(with_dm, tmp_path, "site01_ex.csv", SITE_01)
    ingest(with_dm, tmp_path, "site02_ex.csv", SITE_02)
    ingest(with_dm, tmp_path, "lb.csv", LB_MIXED)

    with with_dm.sessions() as session:
        rows = session.execute(
            select(
                Subject.subject_id,
                RtCourse.lesion,
                RtCourse.course_number,
                RtCourse.fractions,
                RtCourse.bed_gy,
                RtCourse.liver_involved,
                RtCourse.bed_below_minimum,
            )
            .join(Subject)
            .order_by(Subject.subject_id, RtCourse.start_on)
        ).all()
    got = [tuple(r) for r in rows]
    assert got == [
        ("01-001", "liver segment VII", 1, 5, 72.0, True, False),
        ("01-002", "lung metastasis", 1, 5, 100.0, False, False),
        ("01-002", "bone T10", 1, 3, 60.0, False, False),
        ("02-003", "liver segment IV", 1, 5, 59.5, True, True),
        ("02-004", "liver segment VIII", 1, 5, 72.0, True, False),
        ("02-004", "liver segment VIII", 2, 3, 60.0, True, False),  # re-irradiation
        ("02-005", "adrenal metastasis", 1, 5, 72.0, False, False),
    ]
    assert [a.subject_id for a in alerts(with_dm, "deviation")] == ["02-003"]
    assert derived_terms(with_dm) == [("01-001", "RILD (non-classic)")]
    # Nothing rejected; the only queries ask the site to report the lab grades >= 3 no AE
    # reports (with their attribution).
    assert sorted(
        (q.subject_id, q.kind, (q.record_key or "").split(":")[1]) for q in quarantine(with_dm)
    ) == [("01-001", "query", "UNREPORTED"), ("01-002", "query", "UNREPORTED")]

    with with_dm.sessions() as session:
        snap = load_snapshot(session, 1, None)
        population = safety_population(snap.subjects, snap.rt_courses)
        counted = count_adverse_events(session, 1)
    first_rt = population.set_index("subject_id")["first_rt_on"].dt.date.to_dict()
    assert first_rt == {
        "01-001": date(2025, 6, 2),
        "01-002": date(2025, 6, 10),
        "02-003": date(2025, 6, 2),
        "02-004": date(2025, 5, 5),
        "02-005": date(2025, 7, 1),  # not the lenvatinib start
    }
    assert counted.population_n == 5  # 02-006 had first-line drugs only
    exposure = conduct.exposure_by_lesion(snap.rt_courses, 60.0)
    summary = conduct.exposure_summary(exposure)
    assert (summary["patients"], summary["lesions"], summary["courses"]) == (5, 6, 7)
    assert (summary["re_irradiations"], summary["liver_courses"], summary["deviations"]) == (
        1,
        4,
        1,
    )
    assert (summary["min_bed_gy"], summary["max_bed_gy"]) == (59.5, 100.0)
    systemic = conduct.systemic_therapy(
        population, snap.exposure, ExposureRules().vocabulary
    ).set_index("agent")
    assert systemic.loc["lenvatinib", ["source", "patients"]].tolist() == ["EX", 1]
    assert "atezolizumab" not in systemic.index  # 02-006 is not in the safety population


def test_the_subject_timeline_shows_each_course_with_its_fractions(
    with_dm: Pipeline, tmp_path: Path, db_url: str
) -> None:
    from aewatch.dbapi import connect
    from aewatch.reports.timeline import subject_timeline

    ingest(with_dm, tmp_path, "site01_ex.csv", SITE_01)
    with connect(db_url) as db:
        one = subject_timeline(db, 1, "01-001")
        two = subject_timeline(db, 1, "01-002")
    assert one is not None and two is not None
    assert [[c[k] for k in ("schedule", "bed_gy", "liver", "status")] for c in one.rt_courses] == [
        ["5 × 8 Gy", 72.0, "yes", "evaluable"]
    ]
    assert len(one.rt_fractions) == 5
    assert {f["course_key"] for f in one.rt_fractions} == {c["course_key"] for c in one.rt_courses}
    assert [c["lesion"] for c in two.rt_courses] == ["lung metastasis", "bone T10"]
    assert [f["fractions"] for f in two.rt_fractions] == [5, 3]


# -- upgrading a database that holds courses of the old one-record-per-course model -----------


def test_an_upgraded_database_keeps_its_courses_and_a_re_export_matches_them(
    db_url: str, pipeline: Pipeline, tmp_path: Path
) -> None:
    import sqlalchemy as sa
    from alembic import command

    from aewatch.db import make_engine
    from aewatch.migrate import alembic_config, upgrade
    from aewatch.models import UTCDateTime

    engine = make_engine(db_url)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    moment = datetime(2025, 7, 1, 9).astimezone()

    def insert(connection: sa.Connection, table: str, **values: object) -> int:
        columns = [
            sa.column(k, UTCDateTime()) if k.endswith("_at") else sa.column(k) for k in values
        ]
        statement = sa.table(table, *columns).insert().returning(sa.column("id"))
        return int(connection.execute(statement, values).scalar_one())

    with engine.begin() as connection:
        trial = insert(
            connection,
            "trials",
            trial_id="NCT06261047",
            title="",
            planned_enrolment=36,
            created_at=moment,
        )
        subject = insert(
            connection,
            "subjects",
            trial_pk=trial,
            subject_id="01-001",
            study_id="NCT06261047",
            site="01",
            updated_at=moment,
        )
        old = insert(  # a course of the old model: one EX record = one course
            connection,
            "rt_courses",
            subject_pk=subject,
            course_key="RT1",
            lesion="liver segment VII",
            treatment="SBRT",
            dose_per_fraction_gy=8.0,
            fractions=5,
            total_dose_gy=40.0,
            start_on=date(2025, 6, 2),
            end_on=date(2025, 6, 6),
            bed_gy=72.0,
            eqd2_gy=60.0,
            alpha_beta_gy=10.0,
            bed_below_minimum=False,
            updated_at=moment,
        )
    upgrade(engine)
    with pipeline.sessions() as session:
        record = session.scalars(select(ExposureRecord)).one()
        course = session.get(RtCourse, old)
        assert course is not None
        assert (record.course_pk, record.record_key) == (
            old,
            "SBRT|LIVER SEGMENT VII||RT1|2025-06-02",
        )
        assert (course.course_key, course.dose_status, course.fraction_doses) == (
            "RT1",
            "evaluable",
            [[5, 8.0]],
        )
    text = EX_HEAD + "01-001,RT1,SBRT,8,Gy,5,liver segment VII,2025-06-02,2025-06-06\n"
    outcome = ingest(pipeline, tmp_path, "ex.csv", text)
    assert (outcome.accepted, outcome.queries) == (1, 0)
    [course] = courses(pipeline)
    assert (course.id, course.course_key, course.records, course.bed_gy) == (old, "RT1", 1, 72.0)
    assert course.liver_involved is True
