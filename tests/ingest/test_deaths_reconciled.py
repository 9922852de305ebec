"""One reconciled view of each death, through the real pipeline on both engines.

A death known from DM or DS only is a grade 5 Death NOS of unknown attribution: it alerts
once and counts in the AE tables, the SQL counts and both RT stopping rules until the site
reports the fatal AE (which then counts instead: events and patients once) or a person
confirms it was not caused by an AE. A DM re-export that empties the date of death keeps
the death and raises a query until a person confirms the removal (audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from typer.testing import CliRunner

from aewatch.cli import app
from aewatch.clock import ManualClock
from aewatch.dbapi import connect
from aewatch.models import AdverseEvent, AeVersion, Alert, AuditEntry, QuarantineEntry, Subject
from aewatch.pipeline import Pipeline
from aewatch.reports.counting import count_adverse_events
from aewatch.reports.sql_counts import counts_document
from aewatch.safety.evaluation import evaluate_rule
from aewatch.store.rule_inputs import load_events, load_patients
from aewatch.trials import ensure_trial
from support import CONFIG

DM = "USUBJID,SITEID,RFXSTDTC\n07-001,07,2026-01-05\n07-002,07,2026-01-05\n"
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC\n"
    "07-001,RT1,SBRT,10,Gy,5,LIVER,2026-01-05,2026-01-12\n"
    "07-002,RT1,SBRT,10,Gy,5,LIVER,2026-01-05,2026-01-12\n"
)
DM_DEATH = "USUBJID,SITEID,RFXSTDTC,DTHFL,DTHDTC\n07-001,07,2026-01-05,Y,2026-03-04\n"
DM_DEATH_EMPTIED = "USUBJID,SITEID,RFXSTDTC,DTHFL,DTHDTC\n07-001,07,2026-01-05,,\n"
FATAL_AE = (
    "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESDTH,AEREL,AEOUT,AESTDTC,AEENDTC,AEAWDTC\n"
    "07-001,AE-3,LIVER FAILURE,Hepatic failure,5,Y,Y,UNLIKELY,FATAL,2026-02-20,2026-03-04,"
    "2026-03-04\n"
)
DS_DEATH = (
    "USUBJID,DSSPID,DSCAT,DSTERM,DSDECOD,DSSTDTC\n"
    "07-002,DS-9,DISPOSITION EVENT,DIED AT HOME,DEATH,2026-04-10\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def trial_with(settings: Any, sessions: Any, tmp_path: Path, *files: tuple[str, str]) -> Pipeline:
    clock = ManualClock(datetime(2026, 4, 20, 9, tzinfo=UTC))
    pipeline = Pipeline(settings, sessions, clock, "w1")
    for name, text in (("dm.csv", DM), ("ex.csv", EX), *files):
        pipeline.ingest_paths([write(tmp_path, name, text)])
    return pipeline


def counted_events(pipeline: Pipeline) -> list[tuple[str, str, int | None, str]]:
    """(subject, term, grade, origin) of every AE version that counts."""
    with pipeline.sessions() as session:
        rows = session.execute(
            select(Subject.subject_id, AeVersion.ctcae_term, AeVersion.grade, AdverseEvent.origin)
            .join(AdverseEvent, AdverseEvent.subject_pk == Subject.id)
            .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
            .where(AeVersion.set_aside.is_(None))
            .order_by(Subject.subject_id, AdverseEvent.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def rule_status(pipeline: Pipeline, settings: Any, name: str) -> Any:
    with pipeline.sessions() as session:
        trial_pk = ensure_trial(session, settings, pipeline.clock.now()).id
        patients, events = load_patients(session, trial_pk), load_events(session, trial_pk)
    rule = next(r for r in settings.stopping_rules if r.name == name)
    return evaluate_rule(rule, patients, events, pd.Timestamp(pipeline.clock.now()))


def open_queries(pipeline: Pipeline) -> list[QuarantineEntry]:
    with pipeline.sessions() as session:
        return list(
            session.scalars(
                select(QuarantineEntry)
                .where(QuarantineEntry.kind == "query", QuarantineEntry.state == "open")
                .order_by(QuarantineEntry.id)
            )
        )


def death_alerts(pipeline: Pipeline) -> list[str]:
    with pipeline.sessions() as session:
        return list(
            session.scalars(select(Alert.dedup_key).where(Alert.kind == "death").order_by(Alert.id))
        )


def test_a_death_in_dm_only_alerts_once_and_counts_as_grade_5_of_unknown_attribution(
    settings: Any, sessions: Any, tmp_path: Path, db_url: str
) -> None:
    trial = trial_with(settings, sessions, tmp_path, ("dm_death.csv", DM_DEATH))
    assert counted_events(trial) == [("07-001", "Death NOS", 5, "death")]
    with trial.sessions() as session:
        (version,) = session.scalars(select(AeVersion).where(AeVersion.is_current))
        assert (str(version.onset_on), version.serious, version.death) == ("2026-03-04", 1, 1)
        assert version.rt_relation is None
    assert death_alerts(trial) == ["death:NCT06261047:07-001:DEATH"]
    # Both RT rules count it (missing attribution counts as related): the grade-5 rule
    # crosses at its first evaluable patient, dated at the death.
    grade5 = rule_status(trial, settings, "grade5-rt-related")
    assert (grade5.state, grade5.toxic_subjects) == ("crossed", ("07-001",))
    assert grade5.crossing is not None and str(grade5.crossing.evaluable_on.date()) == "2026-03-04"
    assert rule_status(trial, settings, "grade3-rt-related").toxic_subjects == ("07-001",)
    # The report's counts and `aewatch counts` agree.
    with trial.sessions() as session:
        trial_pk = ensure_trial(session, settings, trial.clock.now()).id
        table = count_adverse_events(session, trial_pk, by="term").table
    assert [(r["term"], r["patients"], r["grade_5"]) for r in table.to_dict("records")] == [
        ("Death NOS", 1, 1)
    ]
    with connect(db_url) as db:
        fast = counts_document(db, settings.trial.id, by="term")
    assert [(r["term"], r["patients"]) for r in fast["counts"]] == [("Death NOS", 1)]
    # The query tells the site what to send, and how the death counts meanwhile.
    (query,) = open_queries(trial)
    assert (query.domain, query.field, query.value) == ("DM", "DTHDTC", "2026-03-04")
    assert query.reason.endswith(
        "; until then it counts as a grade 5 Death NOS of unknown attribution in every "
        "table and stopping rule"
    )
    # The same DM again changes nothing and alerts nothing.
    trial.ingest_paths(
        [write(tmp_path, "dm_death_again.csv", DM_DEATH + "07-002,07,2026-01-05,,\n")]
    )
    assert death_alerts(trial) == ["death:NCT06261047:07-001:DEATH"]
    assert len(counted_events(trial)) == 1


def test_the_site_s_fatal_ae_then_counts_instead_with_its_attribution(
    settings: Any, sessions: Any, tmp_path: Path, db_url: str
) -> None:
    trial = trial_with(
        settings, sessions, tmp_path, ("dm_death.csv", DM_DEATH), ("ae.csv", FATAL_AE)
    )
    # One death, counted once: the site's hepatic failure, not the derived Death NOS.
    assert counted_events(trial) == [("07-001", "Hepatic failure", 5, "site")]
    # One death alert; the cause arrives as a follow-up on the same thread.
    assert death_alerts(trial) == ["death:NCT06261047:07-001:DEATH"]
    with trial.sessions() as session:
        alerts = session.execute(
            select(Alert.kind, Alert.dedup_key, Alert.thread_key, Alert.payload).order_by(Alert.id)
        ).all()
    (death,) = [a for a in alerts if a.kind == "death"]
    (cause,) = [a for a in alerts if a.kind == "sae-followup"]
    assert (cause.kind, cause.dedup_key) == ("sae-followup", "death-cause:NCT06261047:07-001:AE-3")
    assert cause.thread_key == death.thread_key
    assert cause.payload["context"]["followup_reasons"][0].startswith(
        "the cause of the death already notified (recorded without a fatal AE): "
        "Hepatic failure, grade 5"
    )
    with trial.sessions() as session:
        death = session.scalars(
            select(AeVersion)
            .join(AdverseEvent, AdverseEvent.id == AeVersion.ae_pk)
            .where(AdverseEvent.origin == "death", AeVersion.is_current)
        ).one()
        site_ae = session.scalars(select(AdverseEvent).where(AdverseEvent.ae_key == "AE-3")).one()
        assert (death.set_aside, death.superseded_by) == (
            "the site reported the fatal AE",
            site_ae.id,
        )
    with connect(db_url) as db:
        fast = counts_document(db, settings.trial.id, by="term")
    assert [(r["term"], r["patients"]) for r in fast["counts"]] == [("Hepatic failure", 1)]
    # The DSMB report's path (snapshot, latest versions) counts the same single death.
    from aewatch.reports import tables
    from aewatch.reports.datacut import DataCut
    from aewatch.reports.snapshot import load_snapshot

    with trial.sessions() as session:
        snap = load_snapshot(
            session, ensure_trial(session, settings, trial.clock.now()).id, DataCut()
        )
    population = tables.safety_population(snap.subjects, snap.rt_courses, "rt_started")
    countable = tables.countable_events(snap.ae, population)
    assert list(zip(countable["subject_id"], countable["ctcae_term"], strict=True)) == [
        ("07-001", "Hepatic failure")
    ]
    # The site judged it unlikely related to RT: the grade-3 rule does not count it now.
    assert rule_status(trial, settings, "grade3-rt-related").toxic_subjects == ()
    assert open_queries(trial) == []


def test_a_death_in_ds_only_is_a_death_everywhere_and_queried_for_dm(
    settings: Any, sessions: Any, tmp_path: Path, db_url: str
) -> None:
    trial = trial_with(settings, sessions, tmp_path, ("ds.csv", DS_DEATH))
    assert counted_events(trial) == [("07-002", "Death NOS", 5, "death")]
    assert death_alerts(trial) == ["death:NCT06261047:07-002:DEATH"]
    dm_query, cause_query = open_queries(trial)
    assert (dm_query.domain, dm_query.subject_id, dm_query.field, dm_query.reason) == (
        "DS",
        "07-002",
        "DSDECOD",
        "DS records a death on 2026-04-10 but DM does not: send DM with DTHFL Y and the date "
        "of death DTHDTC",
    )
    assert cause_query.reason.startswith(
        "DS records a death on 2026-04-10 but no AE of this subject is fatal"
    )
    assert rule_status(trial, settings, "grade5-rt-related").toxic_subjects == ("07-002",)
    # A person closing the request for DM (say, DM will be sent later) does not stop the
    # death counting: only an answer to the cause query can.
    env = {"AEWATCH_CONFIG": str(CONFIG), "AEWATCH_DATABASE_URL": db_url}
    result = CliRunner().invoke(
        app,
        ["quarantine", "resolve", str(dm_query.id), "--by", "CRA", "--note", "DM next month"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    trial.ingest_paths([write(tmp_path, "ds_again.csv", DS_DEATH)])
    assert counted_events(trial) == [("07-002", "Death NOS", 5, "death")]
    assert [q.id for q in open_queries(trial)] == [cause_query.id]


def test_a_re_export_that_empties_the_death_keeps_it_until_a_person_confirms(
    settings: Any, sessions: Any, tmp_path: Path, db_url: str
) -> None:
    trial = trial_with(
        settings,
        sessions,
        tmp_path,
        ("dm_death.csv", DM_DEATH),
        ("dm_emptied.csv", DM_DEATH_EMPTIED),
    )
    with trial.sessions() as session:
        subject = session.scalars(select(Subject).where(Subject.subject_id == "07-001")).one()
        assert (str(subject.died_on), subject.death_flag) == ("2026-03-04", True)
    removal = [q for q in open_queries(trial) if q.record_key == "DEATH-REMOVED"]
    assert [(q.field, q.value, q.file_name, q.row_number) for q in removal] == [
        ("DTHFL", "Y", "dm_emptied.csv", 1),
        ("DTHDTC", "2026-03-04", "dm_emptied.csv", 1),
    ] or [(q.field, q.value, q.file_name, q.row_number) for q in removal] == [
        ("DTHDTC", "2026-03-04", "dm_emptied.csv", 1),
        ("DTHFL", "Y", "dm_emptied.csv", 1),
    ]
    assert "the death is kept and still counts" in removal[0].reason
    assert counted_events(trial) == [("07-001", "Death NOS", 5, "death")]
    # The same emptied export again raises nothing new.
    trial.ingest_paths([write(tmp_path, "dm_emptied_again.csv", DM_DEATH_EMPTIED)])
    assert len([q for q in open_queries(trial) if q.record_key == "DEATH-REMOVED"]) == 2
    # A person confirms both removals from the command line; it is audited.
    env = {"AEWATCH_CONFIG": str(CONFIG), "AEWATCH_DATABASE_URL": db_url}
    runner = CliRunner()
    refused = runner.invoke(
        app, ["quarantine", "resolve", str(removal[0].id), "--by", "Dr Li", "--note", " "], env=env
    )
    assert refused.exit_code == 1
    for query in removal:
        result = runner.invoke(
            app,
            [
                "quarantine",
                "resolve",
                str(query.id),
                "--by",
                "Dr Li",
                "--note",
                "death entered for the wrong patient (site PI, 2026-04-19)",
            ],
            env=env,
        )
        assert result.exit_code == 0, result.output
        assert "removed as the re-export said" in result.output
    with trial.sessions() as session:
        subject = session.scalars(select(Subject).where(Subject.subject_id == "07-001")).one()
        assert (subject.died_on, subject.death_flag) == (None, None)
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "query-resolved-by-hand")
        ).all()
        assert [a.actor for a in audit] == ["Dr Li", "Dr Li"]
        assert (
            audit[0].detail["note"] == "death entered for the wrong patient (site PI, 2026-04-19)"
        )
        resolved = session.get(QuarantineEntry, removal[0].id)
        assert resolved is not None and (resolved.state, resolved.resolved_by) == (
            "resolved",
            "Dr Li",
        )
    assert counted_events(trial) == []
    assert rule_status(trial, settings, "grade5-rt-related").toxic_subjects == ()


def test_a_person_confirming_a_death_was_not_caused_by_an_ae_stops_it_counting(
    settings: Any, sessions: Any, tmp_path: Path, db_url: str
) -> None:
    trial = trial_with(settings, sessions, tmp_path, ("dm_death.csv", DM_DEATH))
    (query,) = open_queries(trial)
    env = {"AEWATCH_CONFIG": str(CONFIG), "AEWATCH_DATABASE_URL": db_url}
    result = CliRunner().invoke(
        app,
        [
            "quarantine",
            "resolve",
            str(query.id),
            "--by",
            "Dr Li",
            "--note",
            "death from HCC progression (site PI)",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert counted_events(trial) == []
    # A later export about the subject does not raise the query again.
    trial.ingest_paths([write(tmp_path, "dm_again.csv", DM_DEATH)])
    assert open_queries(trial) == []
    assert counted_events(trial) == []
    with trial.sessions() as session:
        death = session.scalars(
            select(AeVersion)
            .join(AdverseEvent, AdverseEvent.id == AeVersion.ae_pk)
            .where(AdverseEvent.origin == "death", AeVersion.is_current)
        ).one()
    assert death.set_aside == "death not caused by an AE: confirmed by Dr Li"
