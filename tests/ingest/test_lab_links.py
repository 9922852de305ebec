"""Lab-derived AEs linked to the site AEs that report the same abnormality, through the
real pipeline on both engines: the site's AE counts once, with its grade and attribution;
the lab grade stays as evidence and a higher one is queried; an unreported lab-derived AE
asks the site for attribution."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from aewatch.clock import ManualClock
from aewatch.dbapi import connect
from aewatch.models import AdverseEvent, AeVersion, QuarantineEntry, Subject
from aewatch.pipeline import Pipeline
from aewatch.reports.sql_counts import counts_document
from aewatch.safety.evaluation import evaluate_rule
from aewatch.store.rule_inputs import load_events, load_patients
from aewatch.trials import ensure_trial

DM = "USUBJID,SITEID,RFXSTDTC\n08-001,08,2026-01-05\n"
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC\n"
    "08-001,RT1,SBRT,10,Gy,5,LIVER,2026-01-05,2026-01-12\n"
)
LB = (
    "USUBJID,LBSEQ,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"
    "08-001,1,PLAT,200,10^9/L,150,400,2026-01-02\n"
    "08-001,2,PLAT,40,10^9/L,150,400,2026-02-10\n"
)
AE_HEAD = "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AEREL,AESTDTC,AEENDTC\n"
# The site reports it two days after the draw, grade 2, unlikely related to RT, ongoing.
SITE_AE = AE_HEAD + "08-001,AE-1,LOW PLATELETS,Platelet count decreased,2,N,UNLIKELY,2026-02-12,\n"
# A thrombocytopenia months later, resolved: another event.
LATER_AE = AE_HEAD + (
    "08-001,AE-2,LOW PLATELETS,Platelet count decreased,2,N,UNLIKELY,2026-06-01,2026-06-20\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def trial_with(settings: Any, sessions: Any, tmp_path: Path, *files: tuple[str, str]) -> Pipeline:
    pipeline = Pipeline(settings, sessions, ManualClock(datetime(2026, 7, 1, tzinfo=UTC)), "w1")
    for name, text in (("dm.csv", DM), ("ex.csv", EX), ("lb.csv", LB), *files):
        pipeline.ingest_paths([write(tmp_path, name, text)])
    return pipeline


def counted(pipeline: Pipeline) -> list[tuple[str, str, int | None, str | None]]:
    with pipeline.sessions() as session:
        rows = session.execute(
            select(
                AdverseEvent.origin, AeVersion.ctcae_term, AeVersion.grade, AeVersion.rt_relation
            )
            .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
            .join(Subject, Subject.id == AdverseEvent.subject_pk)
            .where(AeVersion.set_aside.is_(None))
            .order_by(AdverseEvent.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def open_queries(pipeline: Pipeline) -> list[tuple[str | None, str | None, str]]:
    with pipeline.sessions() as session:
        rows = session.scalars(
            select(QuarantineEntry)
            .where(QuarantineEntry.state == "open", QuarantineEntry.record_key.like("LAB:%"))
            .order_by(QuarantineEntry.id)
        ).all()
    return [(q.record_key, q.field, q.reason) for q in rows]


def toxic_in_grade3_rule(pipeline: Pipeline, settings: Any) -> tuple[str, ...]:
    with pipeline.sessions() as session:
        trial_pk = ensure_trial(session, settings, pipeline.clock.now()).id
        patients, events = load_patients(session, trial_pk), load_events(session, trial_pk)
    rule = next(r for r in settings.stopping_rules if r.name == "grade3-rt-related")
    return evaluate_rule(rule, patients, events, pd.Timestamp(pipeline.clock.now())).toxic_subjects


def test_an_unreported_lab_grade_asks_the_site_for_attribution_and_counts_meanwhile(
    settings: Any, sessions: Any, tmp_path: Path
) -> None:
    trial = trial_with(settings, sessions, tmp_path)
    assert counted(trial) == [("lab", "Platelet count decreased", 3, None)]
    assert open_queries(trial) == [
        (
            "LAB:UNREPORTED:Platelet count decreased",
            "AEREL",
            "Laboratory values grade Platelet count decreased 3 (CTCAE v5.0) on 2026-02-10 "
            "and no AE reports it: report it as an AE with its relationship to radiotherapy "
            "(AEREL), or say why it is not an adverse event; until then it counts as each "
            "stopping rule's missing_attribution says",
        )
    ]
    # missing_attribution = "related" in the grade-3 rule: the patient is toxic for now.
    assert toxic_in_grade3_rule(trial, settings) == ("08-001",)


def test_the_site_ae_reporting_it_counts_once_with_its_grade_and_attribution(
    settings: Any, sessions: Any, tmp_path: Path, db_url: str
) -> None:
    trial = trial_with(settings, sessions, tmp_path, ("ae.csv", SITE_AE))
    assert counted(trial) == [("site", "Platelet count decreased", 2, "unlikely")]
    with trial.sessions() as session:
        lab = session.scalars(
            select(AeVersion)
            .join(AdverseEvent, AdverseEvent.id == AeVersion.ae_pk)
            .where(AdverseEvent.origin == "lab", AeVersion.is_current)
        ).one()
        site = session.scalars(select(AdverseEvent).where(AdverseEvent.ae_key == "AE-1")).one()
    # The lab copy is kept, as evidence, set aside in favour of the site's AE.
    assert (lab.grade, lab.set_aside, lab.superseded_by) == (
        3,
        "the site reported it as AE AE-1",
        site.id,
    )
    with connect(db_url) as db:
        fast = counts_document(db, settings.trial.id, by="term")
    assert [(r["term"], r["patients"], r["events"]) for r in fast["counts"]] == [
        ("Platelet count decreased", 1, 1)
    ]
    # Unlikely related to RT: the grade-3 rule no longer counts the patient.
    assert toxic_in_grade3_rule(trial, settings) == ()
    assert open_queries(trial) == [
        (
            "LAB:GRADE:AE-1",
            "AETOXGR",
            "AE AE-1 (Platelet count decreased) is grade 2 but the laboratory values grade "
            "it 3 on 2026-02-10 (CTCAE v5.0): review the grade and correct AETOXGR, or "
            "confirm it",
        )
    ]
    # The site corrects the grade to 3: the grade query is answered by the export.
    trial.ingest_paths([write(tmp_path, "ae_fixed.csv", SITE_AE.replace(",2,N,", ",3,N,"))])
    assert open_queries(trial) == []
    assert counted(trial) == [("site", "Platelet count decreased", 3, "unlikely")]


def test_a_site_ae_of_the_same_term_months_later_is_another_event(
    settings: Any, sessions: Any, tmp_path: Path
) -> None:
    trial = trial_with(settings, sessions, tmp_path, ("ae.csv", LATER_AE))
    assert counted(trial) == [
        ("lab", "Platelet count decreased", 3, None),
        ("site", "Platelet count decreased", 2, "unlikely"),
    ]
    assert [key for key, _, _ in open_queries(trial)] == ["LAB:UNREPORTED:Platelet count decreased"]
