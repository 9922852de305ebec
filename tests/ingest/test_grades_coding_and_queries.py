"""Grades as sites write them, verbatim terms coded through the synonym table, and the data
queries a monitor expects (seriousness, attribution, deaths recorded in one domain only),
each checked word for word."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from aewatch.models import AeVersion, AuditEntry, QuarantineEntry
from aewatch.pipeline import Pipeline

DM = "USUBJID,SITEID,RFXSTDTC\n01-001,01,2026-01-05\n01-002,01,2026-01-05\n"
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC\n"
    "01-001,RT1,SBRT,8,Gy,5,LIVER,2026-01-05,2026-01-12\n"
)
HEAD = "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AESDTH,AEREL,AEOUT,AESTDTC\n"
# An SAE as a site should send it: with its awareness date (else that is queried too).
SAE_HEAD = HEAD.replace("\n", ",AEAWDTC\n")
AWARENESS_MISSING = (
    "AEAWDTC (when the site became aware of this serious AE) is missing: give the date and "
    "time, e.g. 2026-11-27T15:00 in the site's local time; until then the 24-hour "
    "reporting clock runs from when the file was received"
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def trial(pipeline: Pipeline, tmp_path: Path) -> Pipeline:
    pipeline.ingest_paths([write(tmp_path, "dm.csv", DM), write(tmp_path, "ex.csv", EX)])
    return pipeline


def open_queries(pipeline: Pipeline) -> list[QuarantineEntry]:
    with pipeline.sessions() as session:
        return list(
            session.scalars(
                select(QuarantineEntry)
                .where(QuarantineEntry.kind == "query", QuarantineEntry.state == "open")
                .order_by(QuarantineEntry.id)
            )
        )


def current_versions(pipeline: Pipeline) -> list[AeVersion]:
    with pipeline.sessions() as session:
        return list(
            session.scalars(select(AeVersion).where(AeVersion.is_current).order_by(AeVersion.id))
        )


# --------------------------------------------------------------------------- grades


@pytest.mark.parametrize("written", ["III", "Grade 3", "G3", "3.0", "grade iii", "Gr. 3"])
def test_a_grade_written_as_a_roman_numeral_or_a_label_is_read_as_3_and_audited(
    written: str, trial: Pipeline, tmp_path: Path
) -> None:
    text = HEAD + f"01-001,AE-1,ASCITES,Ascites,{written},N,,,POSSIBLE,,2026-02-01\n"
    outcome = trial.ingest_paths([write(tmp_path, "ae.csv", text)])[0]
    assert (outcome.accepted, outcome.quarantined) == (1, 0)
    (version,) = current_versions(trial)
    assert (version.reported_grade, version.grade) == (3, 3)
    with trial.sessions() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "values normalised")
        ).one()
    assert audit.detail["values"] == [
        {"row": 1, "subject": "01-001", "field": "AETOXGR", "written": written, "read_as": "3"}
    ]


@pytest.mark.parametrize("written", ["2.5", "0", "6", "VI", "two", "1e308", "inf"])
def test_fractions_and_grades_outside_1_to_5_stay_rejected(
    written: str, trial: Pipeline, tmp_path: Path
) -> None:
    text = HEAD + f"01-001,AE-1,ASCITES,Ascites,{written},N,,,POSSIBLE,,2026-02-01\n"
    outcome = trial.ingest_paths([write(tmp_path, "ae.csv", text)])[0]
    assert (outcome.accepted, outcome.quarantined) == (0, 1)
    with trial.sessions() as session:
        entry = session.scalars(select(QuarantineEntry)).one()
    assert entry.reason == (
        f"AETOXGR '{written}' is not a CTCAE grade: use the digits 1 to 5 (III, Grade 3 and "
        "G3 are read as 3)"
    )


# --------------------------------------------------------------------------- coding


@pytest.mark.parametrize(
    ("verbatim", "term"),
    [
        ("Thrombocytopenia", "Platelet count decreased"),
        ("THROMBOCYTOPAENIA", "Platelet count decreased"),
        ("Neutropenia", "Neutrophil count decreased"),
        ("Anaemia", "Anemia"),
        ("Anemia", "Anemia"),
        ("Leucopenia", "White blood cell decreased"),
        ("Lymphopenia", "Lymphocyte count decreased"),
        ("Hyperbilirubinaemia", "Blood bilirubin increased"),
        ("Hypoalbuminaemia", "Hypoalbuminemia"),
    ],
)
def test_common_lab_abnormality_names_are_coded_to_their_ctcae_term(
    verbatim: str, term: str, trial: Pipeline, tmp_path: Path
) -> None:
    text = HEAD + f"01-001,AE-1,{verbatim},,3,N,,,POSSIBLE,,2026-02-01\n"
    text = text.replace("AEDECOD,", "AEDECOD,AEBODSYS,").replace(
        f"{verbatim},,", f"{verbatim},,Blood and lymphatic system disorders,"
    )
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    (version,) = current_versions(trial)
    assert version.ctcae_term == term
    assert version.coding in ("synonym", "exact")
    assert [q.field for q in open_queries(trial)] == [], "a plain synonym needs no review"


def test_the_coding_method_is_recorded_and_one_platelet_toxicity_is_one_term(
    trial: Pipeline, tmp_path: Path
) -> None:
    text = HEAD + (
        "01-001,AE-1,Thrombocytopenia,,3,N,,,POSSIBLE,,2026-02-01\n"
        "01-002,AE-1,Platelets low,Platelet count decreased,3,N,,,POSSIBLE,,2026-02-01\n"
    )
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    versions = current_versions(trial)
    assert [(v.ctcae_term, v.coding) for v in versions] == [
        ("Platelet count decreased", "synonym"),
        ("Platelet count decreased", "exact"),
    ]


def test_a_synonym_that_covers_two_terms_is_coded_and_queried(
    trial: Pipeline, tmp_path: Path
) -> None:
    text = HEAD + "01-001,AE-1,Transaminases increased,,3,N,,,POSSIBLE,,2026-02-01\n"
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    (version,) = current_versions(trial)
    assert (version.ctcae_term, version.coding) == ("Alanine aminotransferase increased", "synonym")
    assert [q.reason for q in open_queries(trial)] == [
        "AEDECOD is empty; AETERM 'Transaminases increased' coded to 'Alanine aminotransferase "
        "increased' by the synonym table: covers ALT and AST: coded to ALT increased; if AST "
        "was raised too, report it as its own AE (Aspartate aminotransferase increased)"
    ]


# --------------------------------------------------------------------------- monitor queries


def test_a_missing_relationship_to_rt_is_queried_and_counts_as_the_rules_say(
    trial: Pipeline, tmp_path: Path
) -> None:
    text = HEAD + "01-001,AE-1,ASCITES,Ascites,3,N,,,,,2026-02-01\n"
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    assert [(q.field, q.reason) for q in open_queries(trial)] == [
        (
            "AEREL",
            "AEREL (relationship to radiotherapy) is missing: ask the investigator to assess "
            "it as unrelated, unlikely, possible, probable or definite; until then it counts "
            "as related in the stopping rules grade3-rt-related, grade5-rt-related",
        )
    ]


def test_a_serious_ae_without_any_criterion_is_queried(trial: Pipeline, tmp_path: Path) -> None:
    text = HEAD + "01-001,AE-1,ASCITES,Ascites,3,Y,,,POSSIBLE,,2026-02-01\n"
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    assert [(q.field, q.value, q.reason) for q in open_queries(trial)] == [
        ("AEAWDTC", None, AWARENESS_MISSING),
        (
            "AESER",
            "Y",
            "AESER is Y but no seriousness criterion is Y: give the criterion that makes the "
            "AE serious (AESDTH, AESLIFE, AESHOSP, AESDISAB, AESCONG, AESMIE); it is needed "
            "for expedited reporting",
        ),
    ]


def test_a_non_serious_ae_with_a_criterion_is_serious_and_queried(
    trial: Pipeline, tmp_path: Path
) -> None:
    text = HEAD + "01-001,AE-1,ASCITES,Ascites,3,N,Y,,POSSIBLE,,2026-02-01\n"
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    assert [(q.field, q.reason) for q in open_queries(trial)] == [
        ("AEAWDTC", AWARENESS_MISSING),  # serious, so its awareness date is asked for
        (
            "AESER",
            "AESER is N but a seriousness criterion is Y: treated as serious; confirm with "
            "the site and correct AESER or the criterion",
        ),
    ]
    assert current_versions(trial)[0].serious is True


def test_a_non_serious_grade_5_ae_is_serious_alerted_and_queried(
    trial: Pipeline, tmp_path: Path
) -> None:
    from aewatch.models import Alert

    text = HEAD + "01-001,AE-1,LIVER FAILURE,Hepatic failure,5,N,,,POSSIBLE,FATAL,2026-02-01\n"
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    fields = {q.field: q.reason for q in open_queries(trial)}
    assert fields["AESER"] == (
        "AESER is N but the AE is fatal (AETOXGR 5 or AEOUT FATAL): treated as serious; "
        "correct AESER to Y and set AESDTH to Y"
    )
    assert current_versions(trial)[0].serious is True
    with trial.sessions() as session:
        kinds = session.scalars(select(Alert.kind)).all()
    assert "death" in kinds


def test_a_fatal_ae_without_a_death_in_dm_is_queried_until_dm_records_it(
    trial: Pipeline, tmp_path: Path
) -> None:
    text = SAE_HEAD + "01-001,AE-9,SEPSIS,Sepsis,5,Y,,Y,POSSIBLE,FATAL,2026-02-01,2026-02-03\n"
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    (query,) = open_queries(trial)
    assert (query.domain, query.subject_id, query.field, query.file_name, query.row_number) == (
        "AE",
        "01-001",
        "AETOXGR",
        "ae.csv",
        1,
    )
    assert query.reason == (
        "AE AE-9 (Sepsis) is fatal (AETOXGR 5) but DM records no death for this subject: "
        "send DM with DTHFL Y and the date of death DTHDTC, or correct the AE"
    )
    dm = "USUBJID,SITEID,RFXSTDTC,DTHFL,DTHDTC\n01-001,01,2026-01-05,Y,2026-02-03\n"
    trial.ingest_paths([write(tmp_path, "dm_death.csv", dm)])
    assert open_queries(trial) == []


def test_a_death_in_dm_without_a_fatal_ae_is_queried_until_the_ae_arrives(
    trial: Pipeline, tmp_path: Path
) -> None:
    dm = "USUBJID,SITEID,RFXSTDTC,DTHFL,DTHDTC\n01-002,01,2026-01-05,Y,2026-02-03\n"
    trial.ingest_paths([write(tmp_path, "dm_death.csv", dm)])
    (query,) = open_queries(trial)
    assert (query.domain, query.field, query.value, query.file_name) == (
        "DM",
        "DTHDTC",
        "2026-02-03",
        "dm_death.csv",
    )
    assert query.reason == (
        "DM records a death (DTHDTC 2026-02-03) but no AE of this subject is fatal "
        "(AETOXGR 5, AEOUT FATAL): report the AE that caused the death as grade 5, or "
        "confirm that the death was not caused by an AE (e.g. disease progression); until "
        "then it counts as a grade 5 Death NOS of unknown attribution in every table and "
        "stopping rule"
    )
    text = (
        SAE_HEAD
        + "01-002,AE-1,LIVER FAILURE,Hepatic failure,5,Y,,Y,POSSIBLE,FATAL,2026-02-03,2026-02-03\n"
    )
    trial.ingest_paths([write(tmp_path, "ae.csv", text)])
    assert open_queries(trial) == []


def test_a_death_flag_without_a_date_or_a_fatal_ae_is_queried_on_both(
    trial: Pipeline, tmp_path: Path
) -> None:
    dm = "USUBJID,SITEID,RFXSTDTC,DTHFL,DTHDTC\n01-002,01,2026-01-05,Y,\n"
    trial.ingest_paths([write(tmp_path, "dm_death.csv", dm)])
    assert [(q.field, q.reason) for q in open_queries(trial)] == [
        ("DTHDTC", "DTHFL is Y but DTHDTC is empty: give the date of death"),
        (
            "DTHFL",
            "DM records a death (DTHFL Y) but no AE of this subject is fatal (AETOXGR 5, "
            "AEOUT FATAL): report the AE that caused the death as grade 5, or confirm that "
            "the death was not caused by an AE (e.g. disease progression); until then it "
            "counts as a grade 5 Death NOS of unknown attribution in every table and "
            "stopping rule",
        ),
    ]


def test_the_death_queries_are_raised_once_however_often_the_data_are_re_sent(
    trial: Pipeline, tmp_path: Path
) -> None:
    text = SAE_HEAD + "01-001,AE-9,SEPSIS,Sepsis,5,Y,,Y,POSSIBLE,FATAL,2026-02-01,2026-02-03\n"
    trial.ingest_paths([write(tmp_path, "ae1.csv", text)])
    trial.ingest_paths(
        [write(tmp_path, "ae2.csv", text + "01-002,AE-1,NAUSEA,Nausea,1,N,,,NONE,,2026-02-01,\n")]
    )
    assert len(open_queries(trial)) == 1
