"""Worsening after RT is treatment-emergent (ICH E9; ADaM TRTEMFL), through the real
pipeline: hypertension grade 2 from the systemic therapy since January that becomes
grade 3 after RT is counted once, as an emergent grade 3 dated at the worsening, in
`aewatch counts` (both paths), the grade >= 3 RT rule (its window anchored there) and the
DSMB report's tables, while the January grade 2 stays listed. An AE all of whose records
follow RT is not split; a re-export that raises the grade without a dated record is
dated at AEAWDTC, else at receipt, and says so; EX arriving after the AE still splits it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from aewatch.clock import ManualClock
from aewatch.dbapi import connect
from aewatch.models import AdverseEvent, AeVersion, Alert
from aewatch.pipeline import Pipeline
from aewatch.reports import tables
from aewatch.reports.counting import count_adverse_events
from aewatch.reports.datacut import DataCut
from aewatch.reports.sections import compute_sections
from aewatch.reports.snapshot import load_snapshot
from aewatch.reports.sql_counts import counts_document
from aewatch.reports.timeline import subject_timeline
from aewatch.safety.evaluation import evaluate_rule
from aewatch.store import status_reads
from aewatch.store.rule_inputs import load_events, load_patients
from aewatch.trials import ensure_trial

DM = "USUBJID,SITEID,RFXSTDTC\n" + "".join(f"06-00{n},06,2026-03-02\n" for n in (1, 2, 3, 4))
EX = "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n" + "".join(
    f"06-00{n},RT1,SBRT,8,Gy,5,2026-03-02,2026-03-06\n" for n in (1, 2, 3, 4)
)
HEADER = (
    "USUBJID,AESPID,AESEQ,AETERM,AEDECOD,AETOXGR,AESER,AEREL,AERELSYS,AESTDTC,AEENDTC,AEAWDTC\n"
)
# Sent in February, before RT: hypertension grade 2 from the systemic therapy.
AE_FEBRUARY = HEADER + (
    "06-003,HTN-1,1,HYPERTENSION,Hypertension,2,N,UNRELATED,PROBABLE,2026-01-20,,\n"
    "06-004,HTN-1,1,HYPERTENSION,Hypertension,2,N,UNRELATED,PROBABLE,2026-01-20,,\n"
)
# (a) Log form: grade 2 since January, grade 3 from 2026-03-10 (after RT on 2026-03-02).
# (b) Log form, both records after RT: one emergent AE, grade 3, onset 2026-03-04.
LOG_FORM = (
    "06-001,HTN-1,1,HYPERTENSION,Hypertension,2,N,UNRELATED,PROBABLE,2026-01-15,2026-03-09,\n"
    "06-001,HTN-1,2,HYPERTENSION,Hypertension,3,N,POSSIBLE,PROBABLE,2026-03-10,,2026-03-11\n"
    "06-002,NAU-1,1,NAUSEA,Nausea,1,N,PROBABLE,UNLIKELY,2026-03-04,2026-03-11,\n"
    "06-002,NAU-1,2,NAUSEA,Nausea,3,N,PROBABLE,UNLIKELY,2026-03-12,,2026-03-13\n"
)
# (c) The re-export raises the January record to grade 3, with no record dated after
# RT: 06-003's site gives AEAWDTC 2026-03-18, 06-004's gives none (received 2026-03-25).
RAISED = (
    "06-003,HTN-1,1,HYPERTENSION,Hypertension,3,N,POSSIBLE,PROBABLE,2026-01-20,,2026-03-18\n"
    "06-004,HTN-1,1,HYPERTENSION,Hypertension,3,N,POSSIBLE,PROBABLE,2026-01-20,,\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def ingest(settings: Any, sessions: Any, clock: ManualClock, folder: Path, *files: Any) -> None:
    pipeline = Pipeline(settings, sessions, clock, "w1")
    outcomes = pipeline.ingest_paths([write(folder, name, text) for name, text in files])
    assert [o.status for o in outcomes] == ["done"] * len(files), outcomes


def three_exports(settings: Any, sessions: Any, tmp_path: Path) -> ManualClock:
    clock = ManualClock(datetime(2026, 2, 10, 9, tzinfo=UTC))
    ingest(settings, sessions, clock, tmp_path, ("dm.csv", DM), ("ae-feb.csv", AE_FEBRUARY))
    clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    ingest(settings, sessions, clock, tmp_path, ("ex.csv", EX), ("ae-mar.csv", HEADER + LOG_FORM))
    clock.set(datetime(2026, 3, 25, 9, tzinfo=UTC))
    ingest(settings, sessions, clock, tmp_path, ("ae-reexport.csv", HEADER + LOG_FORM + RAISED))
    return clock


def version_count(sessions: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AeVersion)) or 0)


def test_a_grade_rising_after_rt_is_one_emergent_event_dated_at_the_worsening(
    settings: Any, sessions: Any, tmp_path: Path, db_url: str
) -> None:
    clock = three_exports(settings, sessions, tmp_path)
    with sessions() as session:
        trial_pk = ensure_trial(session, settings, clock.now()).id
        snap = load_snapshot(session, trial_pk, DataCut())
        counted = count_adverse_events(session, trial_pk, by="term").table
        patients = load_patients(session, trial_pk)
        events = load_events(session, trial_pk)
    ae = {(r["subject_id"], r["ae_key"]): r for r in snap.ae.to_dict("records")}
    # The pre-RT AEs keep their January onsets at their pre-RT grade 2: listed, not emergent.
    for subject, onset in (("06-001", "2026-01-15"), ("06-003", "2026-01-20")):
        pre = ae[(subject, "HTN-1")]
        assert (pre["grade"], pre["onset_on"]) == (2, pd.Timestamp(onset))
    # Each worsening is an AE of its own: grade 3, dated (a) by the record after RT,
    # (c) at AEAWDTC, else at the re-export's receipt; (b) is not split.
    worsened = {
        subject: (row["grade"], row["onset_on"].date(), row["rt_relation"])
        for (subject, key), row in ae.items()
        if key == "HTN-1~worsened"
    }
    assert worsened == {
        "06-001": (3, date(2026, 3, 10), "possible"),
        "06-003": (3, date(2026, 3, 18), "possible"),
        "06-004": (3, date(2026, 3, 25), "possible"),
    }
    assert sorted(k for s, k in ae if s == "06-002") == ["NAU-1"]
    nausea = ae[("06-002", "NAU-1")]
    assert (nausea["grade"], nausea["onset_on"].date()) == (3, date(2026, 3, 4))
    # `aewatch counts` (pandas and SQL): each patient once, at grade 3; no grade 2 counted.
    by_term = {row["term"]: row for row in counted.to_dict("records")}
    assert {
        t: (r["patients"], r["grade_2"], r["grade_3"], r["events"]) for t, r in by_term.items()
    } == {
        "Hypertension": (3, 0, 3, 3),
        "Nausea": (1, 0, 1, 1),
    }
    with connect(db_url) as db:
        fast = counts_document(db, settings.trial.id, by="term")
        since = counts_document(db, settings.trial.id, by="term", since=date(2026, 3, 11))
        status_events = status_reads.load_events(db, trial_pk, 3)
    # By SOC: gastrointestinal before vascular.
    assert [
        (r["term"], r["patients"], r["patients_by_worst_grade"]["3"], r["events"])
        for r in fast["counts"]
    ] == [
        ("Nausea", 1, 1, 1),
        ("Hypertension", 3, 3, 3),
    ]
    # --since 2026-03-11: 06-001's worsening (2026-03-10) and the nausea (03-04) fall out.
    assert [(r["term"], r["patients"]) for r in since["counts"]] == [("Hypertension", 2)]
    # The grade >= 3 RT rule: each toxic patient at the worsening's date.
    rule = next(r for r in settings.stopping_rules if r.name == "grade3-rt-related")
    status = evaluate_rule(rule, patients, events, pd.Timestamp(clock.now()))
    toxic_on = {p.subject_id: p.evaluable_on.date() for p in status.history if p.toxic}
    assert toxic_on == {
        "06-001": date(2026, 3, 10),
        "06-002": date(2026, 3, 4),
        "06-003": date(2026, 3, 18),
        "06-004": date(2026, 3, 25),
    }
    # `aewatch status` reads the same events.
    onsets = {(e["subject_id"], e["ae_key"]): e["onset"].date() for e in status_events}
    assert onsets[("06-001", "HTN-1~worsened")] == date(2026, 3, 10)
    assert ("06-001", "HTN-1") not in onsets  # grade 2: below the rule's grade
    # The DSMB report's tables at the end of March agree.
    report = compute_sections(snap, settings, datetime(2026, 3, 1, tzinfo=UTC), clock.now())
    by_event = report.frames["ae_by_event"]
    rows = by_event[by_event["level"] != "soc"]
    assert [(r["term"], r["g2"], r["g3"], r["any"]) for r in rows.to_dict("records")] == [
        ("", 0, 4, 4),  # any adverse event
        ("Hypertension", 0, 3, 3),
        ("Nausea", 0, 1, 1),
    ]
    by_patient = report.frames["ae_by_patient"].set_index("term")
    assert (by_patient.at["Hypertension", "g3"], by_patient.at["Hypertension", "g2"]) == (3, 0)
    population = tables.safety_population(snap.subjects, snap.rt_courses, "rt_started")
    countable = tables.countable_events(snap.ae, population)
    assert sorted(
        zip(countable["subject_id"], countable["ae_key"], countable["grade"], strict=True)
    ) == [
        ("06-001", "HTN-1~worsened", 3),
        ("06-002", "NAU-1", 3),
        ("06-003", "HTN-1~worsened", 3),
        ("06-004", "HTN-1~worsened", 3),
    ]
    assert report.rules["grade3-rt-related"].status.toxic_n == 4


def test_a_worsening_without_a_dated_record_says_how_it_was_dated(
    settings: Any, sessions: Any, tmp_path: Path, db_url: str
) -> None:
    clock = three_exports(settings, sessions, tmp_path)
    notes = {}
    with sessions() as session:
        trial_pk = ensure_trial(session, settings, clock.now()).id
    with connect(db_url) as db:
        for subject in ("06-001", "06-003", "06-004"):
            timeline = subject_timeline(db, trial_pk, subject)
            assert timeline is not None
            rows = {row["ae_key"]: row for row in timeline.adverse_events}
            notes[subject] = rows["HTN-1~worsened"]["note"]
            # The pre-RT grade stays visible next to the worsening.
            assert rows["HTN-1"]["grade"] == 2
    assert notes["06-001"] == (
        "worsening of HTN-1 after RT (pre-RT grade 2); dated by the site's record of the "
        "higher grade"
    )
    assert "dated at the awareness date the site gave (AEAWDTC)" in notes["06-003"]
    assert "no awareness date (AEAWDTC): dated at receipt of the re-export" in notes["06-004"]


def test_re_exports_and_re_runs_change_nothing(
    settings: Any, sessions: Any, tmp_path: Path
) -> None:
    clock = three_exports(settings, sessions, tmp_path)
    before = version_count(sessions)
    # The same records again, renumbered (AESEQ is not part of an AE's content) and in
    # another order in the file.
    again = (HEADER + RAISED + LOG_FORM).replace(",1,HYPERTENSION", ",7,HYPERTENSION")
    clock.advance(days=1)
    ingest(
        settings, sessions, clock, tmp_path, ("ae-again.csv", again), ("ex-again.csv", EX + "\n")
    )
    assert version_count(sessions) == before


def test_a_correction_withdraws_the_worsening_through_a_new_version(
    settings: Any, sessions: Any, tmp_path: Path
) -> None:
    clock = three_exports(settings, sessions, tmp_path)
    corrected = (
        HEADER
        + LOG_FORM.replace(
            "Hypertension,3,N,POSSIBLE,PROBABLE,2026-03-10",
            "Hypertension,2,N,POSSIBLE,PROBABLE,2026-03-10",
        )
        + RAISED
    )
    clock.advance(days=1)
    ingest(settings, sessions, clock, tmp_path, ("ae-corrected.csv", corrected))
    with sessions() as session:
        rows = session.execute(
            select(AeVersion.version, AeVersion.grade, AeVersion.is_current)
            .join(AdverseEvent, AdverseEvent.id == AeVersion.ae_pk)
            .where(AdverseEvent.ae_key == "HTN-1~worsened")
            .order_by(AeVersion.ae_pk, AeVersion.version)
        ).all()
    # 06-001's worsening: grade 3, then withdrawn (no grade); the other two unchanged.
    assert [tuple(r) for r in rows] == [(1, 3, False), (2, None, True), (1, 3, True), (1, 3, True)]


def test_ex_arriving_after_the_ae_still_splits_the_worsening(
    settings: Any, sessions: Any, tmp_path: Path, db_url: str
) -> None:
    clock = ManualClock(datetime(2026, 3, 15, 9, tzinfo=UTC))
    ingest(settings, sessions, clock, tmp_path, ("dm.csv", DM), ("ae.csv", HEADER + LOG_FORM))
    with sessions() as session:
        keys = sorted(session.scalars(select(AdverseEvent.ae_key)).all())
    assert keys == ["HTN-1", "NAU-1"]  # RT not known yet: nothing to split
    clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    ingest(settings, sessions, clock, tmp_path, ("ex.csv", EX))
    with connect(db_url) as db:
        fast = counts_document(db, settings.trial.id, by="term")
    with sessions() as session:
        trial_pk = ensure_trial(session, settings, clock.now()).id
        snap = load_snapshot(session, trial_pk, DataCut())
    ae = {(r["subject_id"], r["ae_key"]): r for r in snap.ae.to_dict("records")}
    assert ae[("06-001", "HTN-1")]["grade"] == 2
    worsening = ae[("06-001", "HTN-1~worsened")]
    assert (worsening["grade"], worsening["onset_on"].date()) == (3, date(2026, 3, 10))
    assert [(r["term"], r["patients"], r["events"]) for r in fast["counts"]] == [
        ("Nausea", 1, 1),
        ("Hypertension", 1, 1),
    ]


def test_a_serious_worsening_is_alerted_once_as_the_worsening(
    settings: Any, sessions: Any, tmp_path: Path
) -> None:
    serious = LOG_FORM.replace(
        "Hypertension,3,N,POSSIBLE,PROBABLE,2026-03-10",
        "Hypertension,3,Y,POSSIBLE,PROBABLE,2026-03-10",
    )
    clock = ManualClock(datetime(2026, 3, 20, 9, tzinfo=UTC))
    ingest(settings, sessions, clock, tmp_path, ("dm.csv", DM), ("ex.csv", EX))
    ingest(settings, sessions, clock, tmp_path, ("ae.csv", HEADER + serious))
    with sessions() as session:
        alerts = session.scalars(select(Alert.dedup_key).where(Alert.kind == "sae-initial")).all()
        flags = dict(
            session.execute(
                select(AdverseEvent.ae_key, AeVersion.serious)
                .join(AeVersion, AeVersion.ae_pk == AdverseEvent.id)
                .where(AeVersion.is_current.is_(True))
            ).all()
        )
    # The SAE is the worsening after RT; the January grade 2 was not serious.
    assert alerts == [f"sae-initial:{settings.trial.id}:06-001:HTN-1~worsened:v1"]
    assert (flags["HTN-1"], flags["HTN-1~worsened"]) == (False, True)


def test_a_serious_worsening_found_when_ex_arrives_is_one_sae_in_the_timeliness_table(
    settings: Any, sessions: Any, tmp_path: Path
) -> None:
    """The SAE was recorded (and alerted) with the AE file on 2026-03-15; the split when EX
    arrives five days later is not a second SAE recorded late."""
    from aewatch.reports.currency import sae_timeliness

    serious = LOG_FORM.replace(
        "Hypertension,3,N,POSSIBLE,PROBABLE,2026-03-10,,2026-03-11",
        "Hypertension,3,Y,POSSIBLE,PROBABLE,2026-03-10,,2026-03-15",
    )
    clock = ManualClock(datetime(2026, 3, 15, 9, tzinfo=UTC))
    ingest(settings, sessions, clock, tmp_path, ("dm.csv", DM), ("ae.csv", HEADER + serious))
    clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    ingest(settings, sessions, clock, tmp_path, ("ex.csv", EX))
    with sessions() as session:
        trial_pk = ensure_trial(session, settings, clock.now()).id
        snap = load_snapshot(session, trial_pk, DataCut())
    population = tables.safety_population(snap.subjects, snap.rt_courses, "rt_started")
    listed = sae_timeliness(snap.ae_history, population, 24.0)
    assert listed[["subject_id", "hours_aware_to_recorded", "within_clock"]].to_dict("records") == [
        {"subject_id": "06-001", "hours_aware_to_recorded": 9.0, "within_clock": True}
    ]
