"""No value can fail a file: every column of every domain, fed the values that broke ingest
before (``AESEQ=1e308`` failed a whole AE file holding a grade 4 sepsis SAE with "internal
error: TypeError"), leaves the file done, every row accounted for, and the good rows beside
the bad ones stored and alerted."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from aewatch.models import AdverseEvent, Alert, ExposureRecord, LabResult, Subject
from aewatch.pipeline import Pipeline

HOSTILE = ("1e308", "-1e308", "inf", "-inf", "nan", "1e400", "9" * 400, "", "NULL", "0x1F")

BASE_DM = (
    "STUDYID,DOMAIN,USUBJID,SITEID,RFXSTDTC\n"
    "NCT06261047,DM,01-001,01,2026-01-05\n"
    "NCT06261047,DM,01-002,01,2026-01-06\n"
)
BASE_EX = (
    "STUDYID,DOMAIN,USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "NCT06261047,EX,01-001,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-12\n"
)

GOOD: dict[str, list[dict[str, str]]] = {
    "DM": [
        {
            "STUDYID": "NCT06261047",
            "DOMAIN": "DM",
            "USUBJID": "02-001",
            "SITEID": "02",
            "SEX": "F",
            "ARM": "RT",
            "OLIGOCAT": "metachronous",
            "FLSTTRT": "Lenvatinib",
            "RFSTDTC": "2026-01-02",
            "RFICDTC": "2026-01-01",
            "RFXSTDTC": "2026-01-05",
            "RFXENDTC": "2026-01-12",
            "DTHFL": "N",
            "DTHDTC": "",
            "WITHDTC": "",
        }
    ],
    "AE": [
        {
            "STUDYID": "NCT06261047",
            "DOMAIN": "AE",
            "USUBJID": "01-001",
            "AESEQ": "1",
            "AESPID": "AE-SEPSIS",
            "AETERM": "SEPSIS",
            "AEDECOD": "Sepsis",
            "AEBODSYS": "Infections and infestations",
            "AETOXGR": "4",
            "AESEV": "SEVERE",
            "AESER": "Y",
            "AESDTH": "N",
            "AESLIFE": "Y",
            "AESHOSP": "Y",
            "AESDISAB": "N",
            "AESCONG": "N",
            "AESMIE": "N",
            "AEREL": "POSSIBLE",
            "AERELSYS": "UNLIKELY",
            "AEOUT": "RECOVERING/RESOLVING",
            "AEACN": "DRUG INTERRUPTED",
            "AESTDTC": "2026-02-01",
            "AEENDTC": "",
            "AEAWDTC": "2026-02-02",
        }
    ],
    "LB": [
        {
            "STUDYID": "NCT06261047",
            "DOMAIN": "LB",
            "USUBJID": "01-001",
            "LBSEQ": "1",
            "LBTESTCD": "ALT",
            "LBTEST": "Alanine Aminotransferase",
            "LBSTRESN": "35",
            "LBSTRESU": "U/L",
            "LBSTNRLO": "0",
            "LBSTNRHI": "40",
            "LBBLFL": "",
            "LBDTC": "2026-02-01",
            "LBTOXGR": "0",
        }
    ],
    "EX": [
        {
            "STUDYID": "NCT06261047",
            "DOMAIN": "EX",
            "USUBJID": "01-002",
            "EXSEQ": "1",
            "EXSPID": "RT-GOOD",
            "EXLNKID": "L1",
            "EXTRT": "SBRT",
            "EXDOSE": "10",
            "EXDOSU": "Gy",
            "EXNFRAC": "5",
            "EXLOC": "LIVER",
            "EXSTDTC": "2026-01-06",
            "EXENDTC": "2026-01-13",
        }
    ],
}
CASES = [(domain, column) for domain, rows in GOOD.items() for column in rows[0]]


def hostile_file(domain: str, column: str) -> str:
    """The good rows, then one row per hostile value in ``column`` (each row otherwise a
    distinct, valid record)."""
    good = GOOD[domain][0]
    rows = [good]
    for i, value in enumerate(HOSTILE):
        row = dict(good)
        row.update(
            {
                "DM": {"USUBJID": f"02-1{i:02d}"},
                "AE": {
                    "AESPID": f"AE-H{i}",
                    "AESEQ": str(10 + i),
                    "AESER": "N",
                    "AESLIFE": "N",
                    "AESHOSP": "N",
                    "AETOXGR": "1",
                    "AEDECOD": "Nausea",
                    "AETERM": "NAUSEA",
                    "AEBODSYS": "Gastrointestinal disorders",
                },
                "LB": {"LBSEQ": str(10 + i), "LBDTC": f"2026-02-{10 + i:02d}"},
                "EX": {"EXSPID": f"RT-H{i}", "EXLNKID": f"LH{i}", "EXSEQ": str(10 + i)},
            }[domain]
        )
        row[column] = value
        rows.append(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(good), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture
def trial(pipeline: Pipeline, tmp_path: Path) -> Pipeline:
    base = tmp_path / "base"
    base.mkdir()
    (base / "dm.csv").write_text(BASE_DM)
    (base / "ex.csv").write_text(BASE_EX)
    outcomes = pipeline.ingest_paths([base / "dm.csv", base / "ex.csv"])
    assert [o.status for o in outcomes] == ["done", "done"]
    return pipeline


@pytest.mark.parametrize(("domain", "column"), CASES, ids=[f"{d}-{c}" for d, c in CASES])
def test_hostile_values_in_one_column_never_fail_the_file_and_the_good_rows_go_in(
    domain: str, column: str, trial: Pipeline, tmp_path: Path
) -> None:
    path = tmp_path / f"{domain.lower()}_{column.lower()}.csv"
    path.write_text(hostile_file(domain, column), encoding="utf-8")
    outcome = trial.ingest_paths([path])[0]
    assert outcome.status == "done", outcome.reason
    assert outcome.rows == 1 + len(HOSTILE)
    assert outcome.accepted + outcome.quarantined + outcome.pending == outcome.rows
    with trial.sessions() as session:
        if domain == "DM":
            assert session.scalar(select(Subject.id).where(Subject.subject_id == "02-001"))
        elif domain == "AE":
            assert session.scalar(
                select(AdverseEvent.id).where(AdverseEvent.ae_key == "AE-SEPSIS")
            ), "the grade 4 sepsis SAE must be stored"
            alerts = session.scalars(
                select(Alert.dedup_key).where(Alert.kind == "sae-initial")
            ).all()
            assert [k for k in alerts if ":AE-SEPSIS:" in k], "and alerted"
        elif domain == "LB":
            assert (
                session.scalar(select(LabResult.value).where(LabResult.lab_key == "ALT|2026-02-01"))
                == 35.0
            )
        else:
            good = session.scalars(
                select(ExposureRecord).where(ExposureRecord.sponsor_id == "RT-GOOD")
            ).first()
            assert good is not None and good.course_pk is not None, "stored, in a course"


NUMBER_FAULTS = [
    ("AE", "AESEQ", "1e308", "AESEQ '1e308' is too large (at most 2147483647)"),
    ("AE", "AESEQ", "inf", "AESEQ 'inf' is not a finite number"),
    ("AE", "AESEQ", "2.5", "AESEQ '2.5' is not a whole number"),
    (
        "AE",
        "AETOXGR",
        "inf",
        "AETOXGR 'inf' is not a CTCAE grade: use the digits 1 to 5 (III, "
        "Grade 3 and G3 are read as 3)",
    ),
    ("LB", "LBSEQ", "-1", "LBSEQ '-1' is below 0"),
    (
        "LB",
        "LBTOXGR",
        "inf",
        "LBTOXGR 'inf' is not a CTCAE grade: use the digits 0 to 5, or "
        "leave it empty (aewatch grades the result itself)",
    ),
    ("EX", "EXNFRAC", "1e309", "number of fractions EXNFRAC '1e309' is not a finite number"),
    ("EX", "EXNFRAC", "4.5", "number of fractions EXNFRAC '4.5' is not a whole number"),
    ("EX", "EXSEQ", "3000000000", "EXSEQ '3000000000' is too large (at most 2147483647)"),
    (
        "EX",
        "EXDOSE",
        "1e308",
        "dose per fraction EXDOSE '1e308' is too large to compute with (above 1e+100)",
    ),
    ("EX", "EXDOSE", "nan", "dose per fraction EXDOSE 'nan' is not a finite number"),
]


@pytest.mark.parametrize(
    ("domain", "column", "value", "reason"),
    NUMBER_FAULTS,
    ids=[f"{c}={v}" for _, c, v, _ in NUMBER_FAULTS],
)
def test_a_number_that_cannot_be_used_quarantines_its_row_with_the_field_and_reason(
    domain: str, column: str, value: str, reason: str, trial: Pipeline, tmp_path: Path
) -> None:
    from aewatch.models import QuarantineEntry

    good = GOOD[domain][0]
    bad = {**good, column: value, "AESPID": "AE-2", "LBDTC": "2026-02-20", "EXSPID": "RT-2"}
    bad = {k: v for k, v in bad.items() if k in good}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(good), lineterminator="\n")
    writer.writeheader()
    writer.writerows([good, bad])
    path = tmp_path / f"{domain.lower()}.csv"
    path.write_text(out.getvalue())
    outcome = trial.ingest_paths([path])[0]
    assert (outcome.status, outcome.accepted, outcome.quarantined) == ("done", 1, 1)
    with trial.sessions() as session:
        entries = session.scalars(
            select(QuarantineEntry).where(QuarantineEntry.kind == "rejected")
        ).all()
    assert [(e.row_number, e.field, e.value, e.reason) for e in entries] == [
        (2, column, value, reason)
    ]


def test_every_value_sdtm_allows_fits_its_column(trial: Pipeline, tmp_path: Path) -> None:
    """SEX UNDIFFERENTIATED (16 characters) once failed a whole DM file on PostgreSQL."""
    path = tmp_path / "dm2.csv"
    path.write_text("USUBJID,SITEID,SEX\n03-001,03,UNDIFFERENTIATED\n03-002,03,F\n")
    outcome = trial.ingest_paths([path])[0]
    assert (outcome.status, outcome.accepted) == ("done", 2)
    with trial.sessions() as session:
        sex = session.scalar(select(Subject.sex).where(Subject.subject_id == "03-001"))
    assert sex == "UNDIFFERENTIATED"


def test_an_ae_identifier_too_long_for_an_alert_key_is_quarantined(
    trial: Pipeline, tmp_path: Path
) -> None:
    path = tmp_path / "ae2.csv"
    spid = "X" * 65
    path.write_text(
        "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEREL,AESTDTC\n"
        f"01-001,{spid},SEPSIS,Sepsis,4,Y,Y,POSSIBLE,2026-02-01\n"
        "01-001,AE-7,SEPSIS,Sepsis,4,Y,Y,POSSIBLE,2026-02-01\n"
    )
    outcome = trial.ingest_paths([path])[0]
    assert (outcome.status, outcome.accepted, outcome.quarantined) == ("done", 1, 1)
