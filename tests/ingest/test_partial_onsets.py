"""Partial AE onsets through the real pipeline: a month-only onset in the month RT began
is treatment-emergent and in the grade-3 rule from the first RT day; a year wholly
before RT is not; the precision is shown wherever the onset is (alert email, SAE
listing, `aewatch subject`; the email in tests/alerts/test_partial_onset_email.py),
never as an invented exact day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from aewatch.clock import ManualClock
from aewatch.dbapi import connect
from aewatch.pipeline import Pipeline
from aewatch.reports import tables
from aewatch.reports.counting import count_adverse_events
from aewatch.reports.datacut import DataCut
from aewatch.reports.snapshot import load_snapshot
from aewatch.reports.sql_counts import counts_document
from aewatch.reports.timeline import subject_timeline
from aewatch.safety.evaluation import evaluate_rule
from aewatch.safety.onsets import impute_onset, onset_text
from aewatch.store.rule_inputs import load_events, load_patients
from aewatch.trials import ensure_trial

DM = "USUBJID,SITEID,RFXSTDTC\n05-001,05,2026-03-02\n05-002,05,2026-03-02\n05-003,05,2026-03-10\n"
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "05-001,RT1,SBRT,8,Gy,5,2026-03-02,2026-03-06\n"
    "05-002,RT1,SBRT,8,Gy,5,2026-03-02,2026-03-06\n"
    "05-003,RT1,SBRT,8,Gy,5,2026-03-10,2026-03-14\n"
)
AE = (
    "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEREL,AESTDTC,AEAWDTC\n"
    # RT began on 2026-03-02, inside March: the nausea is taken as on 2026-03-02.
    "05-001,AE-1,NAUSEA,Nausea,3,N,N,PROBABLE,2026-03,2026-03-20\n"
    # All of 2025 is before RT: hypertension from the systemic therapy, not emergent.
    "05-002,AE-1,HTN,Hypertension,3,N,N,PROBABLE,2025,2026-03-20\n"
    # A serious one in the month RT began (2026-03-10): study day 1, imputed.
    "05-003,AE-1,NAUSEA,Nausea,3,Y,Y,POSSIBLE,2026-03,2026-03-20\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def ingest(settings: Any, sessions: Any, clock: ManualClock, folder: Path) -> None:
    pipeline = Pipeline(settings, sessions, clock, "w1")
    pipeline.ingest_paths(
        [write(folder, n, t) for n, t in (("dm.csv", DM), ("ex.csv", EX), ("ae.csv", AE))]
    )


def test_a_month_onset_is_taken_as_the_first_rt_day_when_rt_began_that_month() -> None:
    assert impute_onset(date(2026, 3, 1), date(2026, 3, 31), date(2026, 3, 2)) == date(2026, 3, 2)
    # RT before the period: the first day of the period (never earlier than it can be).
    assert impute_onset(date(2026, 3, 1), date(2026, 3, 31), date(2026, 2, 2)) == date(2026, 3, 1)
    # RT after the period, and a full date, are left alone.
    assert impute_onset(date(2025, 1, 1), date(2025, 12, 31), date(2026, 3, 2)) == date(2025, 1, 1)
    assert impute_onset(date(2026, 3, 1), None, date(2026, 3, 2)) == date(2026, 3, 1)
    assert onset_text(date(2026, 3, 1), "month") == "2026-03 (month)"
    assert onset_text(date(2026, 3, 2), "year") == "2026 (year)"
    assert onset_text(date(2026, 3, 2), "day") == "2026-03-02"


def test_a_month_onset_in_the_rt_month_is_emergent_and_in_the_grade3_rule(
    settings: Any, sessions: Any, tmp_path: Path, db_url: str
) -> None:
    clock = ManualClock(datetime(2026, 3, 25, 8, tzinfo=UTC))
    ingest(settings, sessions, clock, tmp_path)
    with sessions() as session:
        trial_pk = ensure_trial(session, settings, clock.now()).id
        counted = count_adverse_events(session, trial_pk, by="term").table
        snap = load_snapshot(session, trial_pk, DataCut())
        patients = load_patients(session, trial_pk)
        events = load_events(session, trial_pk)
    by_term = {row["term"]: row for row in counted.to_dict("records")}
    # Nausea: both patients, grade 3; hypertension from 2025 is not treatment-emergent.
    assert set(by_term) == {"Nausea"}
    nausea = by_term["Nausea"]
    assert (nausea["patients"], nausea["grade_3"], nausea["events"]) == (2, 2, 2)
    # `aewatch counts` (aggregated in SQL) agrees, with and without --since.
    with connect(db_url) as db:
        fast = counts_document(db, settings.trial.id, by="term")
        since = counts_document(db, settings.trial.id, by="term", since=date(2026, 3, 2))
        later = counts_document(db, settings.trial.id, by="term", since=date(2026, 3, 3))
    assert [(r["term"], r["patients"]) for r in fast["counts"]] == [("Nausea", 2)]
    assert [(r["term"], r["patients"]) for r in since["counts"]] == [("Nausea", 2)]
    assert [(r["term"], r["patients"]) for r in later["counts"]] == [("Nausea", 1)]
    # The report's path agrees: the same two events are countable.
    population = tables.safety_population(snap.subjects, snap.rt_courses, "rt_started")
    countable = tables.countable_events(snap.ae, population)
    assert sorted(countable["subject_id"]) == ["05-001", "05-003"]
    onsets = dict(zip(countable["subject_id"], countable["onset_on"], strict=True))
    assert onsets == {
        "05-001": pd.Timestamp("2026-03-02"),
        "05-003": pd.Timestamp("2026-03-10"),
    }
    rule = next(r for r in settings.stopping_rules if r.name == "grade3-rt-related")
    status = evaluate_rule(rule, patients, events, pd.Timestamp(clock.now()))
    assert status.toxic_subjects == ("05-001", "05-003")
    toxic_on = {p.subject_id: p.evaluable_on.date() for p in status.history if p.toxic}
    assert toxic_on == {"05-001": date(2026, 3, 2), "05-003": date(2026, 3, 10)}


def test_a_partial_onset_shows_its_precision_in_the_listing_and_the_timeline(
    settings: Any, sessions: Any, tmp_path: Path, db_url: str
) -> None:
    clock = ManualClock(datetime(2026, 3, 25, 8, tzinfo=UTC))
    ingest(settings, sessions, clock, tmp_path)
    with sessions() as session:
        trial_pk = ensure_trial(session, settings, clock.now()).id
        snap = load_snapshot(session, trial_pk, DataCut())
    with connect(db_url) as db:
        timeline = subject_timeline(db, trial_pk, "05-003")
        other = subject_timeline(db, trial_pk, "05-002")
    population = tables.safety_population(snap.subjects, snap.rt_courses, "rt_started")
    listing = tables.sae_listing(tables.countable_events(snap.ae, population))
    assert listing[["subject_id", "onset_day"]].to_dict("records") == [
        {"subject_id": "05-003", "onset_day": "1 (imputed; onset known to the month)"}
    ]
    assert timeline is not None and other is not None
    assert [ae["onset_on"] for ae in timeline.adverse_events] == ["2026-03 (month)"]
    assert [ae["onset_on"] for ae in other.adverse_events] == ["2025 (year)"]
