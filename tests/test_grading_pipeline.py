"""Grading inside the ingest transaction: stored grades, derived AEs, regrading when the
baseline moves, and the coding queries a data manager sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from aewatch.models import AdverseEvent, AeVersion, LabResult, QuarantineEntry, RtCourse
from aewatch.pipeline import Pipeline

DM = "USUBJID,SITEID\n01-001,01\n"
LB = (
    "USUBJID,LBSEQ,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"
    "01-001,1,ALT,100,U/L,0,40,2025-03-01\n"
    "01-001,2,ALT,130,U/L,0,40,2025-04-01\n"
    "01-001,3,PLAT,40,10^9/L,150,400,2025-04-01\n"
)
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "01-001,RT1,SBRT,10,Gy,5,2025-03-15,2025-03-21\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def alt_grades(pipeline: Pipeline) -> list[int | None]:
    with pipeline.sessions() as session:
        return list(
            session.scalars(
                select(LabResult.tox_grade_high)
                .where(LabResult.test_code == "ALT")
                .order_by(LabResult.collected_on)
            )
        )


def test_a_new_rt_course_moves_the_baseline_and_regrades_stored_labs(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM), write(tmp_path / "lb.csv", LB)])
    # No baseline yet: 130 U/L is > 3 x ULN (40) -> grade 2 on the ULN rules.
    assert alt_grades(pipeline)[1] == 2
    pipeline.ingest_paths([write(tmp_path / "ex.csv", EX)])
    # Baseline is now 100 U/L (abnormal, > ULN): 130 is < 1.5 x baseline -> grade 0.
    assert alt_grades(pipeline)[1] == 0


def test_a_grade_3_lab_without_a_site_ae_becomes_a_flagged_derived_ae(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.ingest_paths(
        [
            write(tmp_path / "dm.csv", DM),
            write(tmp_path / "ex.csv", EX),
            write(tmp_path / "lb.csv", LB),
        ]
    )
    with pipeline.sessions() as session:
        derived = session.execute(
            select(
                AdverseEvent.origin,
                AeVersion.ctcae_term,
                AeVersion.ctcae_soc,
                AeVersion.grade,
                AeVersion.evidence,
            )
            .join(AeVersion, AeVersion.ae_pk == AdverseEvent.id)
            .where(AdverseEvent.origin == "lab")
        ).all()
    assert [(d.ctcae_term, d.grade, d.ctcae_soc) for d in derived] == [
        ("Platelet count decreased", 3, "Investigations")
    ]
    assert derived[0].evidence["source"] == "lab-derived, not site-reported"


def test_bed_is_stored_per_course_and_a_low_dose_is_a_deviation(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    low = EX.replace("RT1,SBRT,10,Gy,5", "RT1,SBRT,5,Gy,5")
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM), write(tmp_path / "ex.csv", low)])
    with pipeline.sessions() as session:
        course = session.scalars(select(RtCourse)).one()
    assert (course.bed_gy, course.eqd2_gy, course.bed_below_minimum) == (37.5, 31.25, True)


def test_an_unknown_term_is_coded_to_other_specify_and_queried(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    ae = (
        "USUBJID,AESPID,AETERM,AEDECOD,AEBODSYS,AETOXGR\n"
        "01-001,1,LIVER ACHE,Liver ache,Hepatobiliary disorders,2\n"
        "01-001,2,ALT UP,Alanine aminotransferase increased,Investigations,5\n"
    )
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM), write(tmp_path / "ae.csv", ae)])
    with pipeline.sessions() as session:
        versions = {v.aeseq or v.verbatim_term: v for v in session.scalars(select(AeVersion))}
        queries = session.scalars(
            select(QuarantineEntry).where(QuarantineEntry.kind == "query")
        ).all()
    coded = versions["LIVER ACHE"]
    assert (coded.ctcae_term, coded.coding) == (
        "Hepatobiliary disorders - Other, specify",
        "other_specify",
    )
    reasons = " | ".join(q.reason for q in queries)
    assert "Other, specify" in reasons
    assert "Grade 5 is not defined for 'Alanine aminotransferase increased'" in reasons
    assert versions["ALT UP"].grade == 5, "nothing is silently changed"


def test_a_new_lab_file_is_stored_with_its_grades_and_nothing_else_is_rewritten(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    lb = LB + "01-001,4,ALT,-5,U/L,0,40,2025-04-02\n" + "01-001,5,XYZ,3,mg,1,5,2025-04-02\n"
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM), write(tmp_path / "lb.csv", lb)])
    with pipeline.sessions() as session:
        rows = session.execute(
            select(
                LabResult.test_code,
                LabResult.value,
                LabResult.tox_grade_high,
                LabResult.tox_grade_low,
                LabResult.tox_note,
                LabResult.dictionary_version,
                LabResult.created_at,
                LabResult.updated_at,
            ).order_by(LabResult.id)
        ).all()
    assert [(r.test_code, r.tox_grade_high, r.tox_grade_low) for r in rows] == [
        ("ALT", 1, None),  # no baseline: 100 U/L is > ULN, <= 3 x ULN
        ("ALT", 2, None),
        ("PLAT", None, 3),
        ("ALT", None, None),  # a negative ALT is implausible: never graded
        ("XYZ", None, None),  # no CTCAE criterion
    ]
    assert [r.tox_note for r in rows][3:] == [
        "not graded: result LBSTRESN '-5' U/L is not a plausible ALT result"
        " (plausible: 0 to 50000 U/L)",
        "no CTCAE v5.0 lab criteria for LBTESTCD 'XYZ'",
    ]
    # Each has a grade or a note, and names the dictionary that gave it.
    from aewatch.ctcae import DICTIONARY_VERSION

    assert {r.dictionary_version for r in rows} == {DICTIONARY_VERSION}
    assert all(r.created_at == r.updated_at for r in rows)


def test_a_file_whose_new_labs_were_never_graded_rolls_back_whole(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injected: the grade stage left out. New results are written by the grade
    stage; without it the file must fail visibly, not commit with its labs missing."""
    import aewatch.pipeline.transaction as transaction

    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM)])
    stages = tuple(s for s in transaction.FILE_STAGES if s.__name__ != "grade")
    monkeypatch.setattr(transaction, "FILE_STAGES", stages)
    [outcome] = pipeline.ingest_paths([write(tmp_path / "lb.csv", LB)])
    assert outcome.status == "failed"
    with pipeline.sessions() as session:
        assert session.scalars(select(LabResult.id)).all() == []


def test_held_lab_results_and_a_workbooks_own_are_stored_and_graded_together(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """An LB export arrives before the subject's DM record and waits; then a workbook
    with a DM and an LB sheet stores the waiting result and its own in one transaction
    (keys for both drawn before either is written)."""
    from openpyxl import Workbook

    header = ["USUBJID", "LBSEQ", "LBTESTCD", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI"]
    lb = ",".join([*header, "LBDTC"]) + "\n01-002,1,ALT,130,U/L,0,40,2025-03-01\n"
    [held] = pipeline.ingest_paths([write(tmp_path / "lb.csv", lb)])
    assert (held.status, held.pending) == ("done", 1)
    workbook = Workbook()
    dm = workbook.active
    dm.title = "DM"
    dm.append(["USUBJID", "SITEID"])
    dm.append(["01-002", "01"])
    sheet = workbook.create_sheet("LB")
    sheet.append([*header, "LBDTC"])
    sheet.append(["01-002", 2, "PLAT", 40, "10^9/L", 150, 400, "2025-04-01"])
    workbook.save(tmp_path / "site01.xlsx")
    [outcome] = pipeline.ingest_paths([tmp_path / "site01.xlsx"])
    assert outcome.status == "done", outcome
    with pipeline.sessions() as session:
        rows = session.execute(
            select(LabResult.test_code, LabResult.tox_grade_high, LabResult.tox_grade_low).order_by(
                LabResult.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [("ALT", 2, None), ("PLAT", None, 3)]
