"""A synthetic 36-patient trial through the real pipeline: qualifying toxicities
accumulate until the grade-3 rule crosses at the right patient, exactly one crossing
alert is queued, and re-ingesting the same data changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from aewatch.models import Alert, RuleStatusRecord
from aewatch.pipeline import Pipeline

START = date(2025, 1, 6)
# Patients with a grade 3 RT-related AE 80 days after RT. Patient n ends RT on day 7n + 5,
# so a toxic patient is evaluable on day 7n + 85, the others on day 7n + 95 (end of the
# 90-day window). Walking the Pocock boundary (0.15/0.30/0.10: stop at >= 8 toxic among
# 22-26 evaluable) by hand: the 25th evaluable patient is 01-026, the 8th toxic one.
TOXIC = {3, 8, 12, 15, 18, 21, 24, 26, 27, 29, 30}


def patient(n: int) -> str:
    return f"01-{n:03d}"


def files_for(n: int, folder: Path) -> list[Path]:
    """Patient n: DM, one RT course, a follow-up lab; toxic ones a grade 3 AE after RT."""
    rt_start = START + timedelta(days=7 * n)
    rt_end = rt_start + timedelta(days=5)
    dm = folder / f"dm_{n:02d}.csv"
    dm.write_text(f"USUBJID,SITEID,RFXSTDTC\n{patient(n)},01,{rt_start}\n")
    ex = folder / f"ex_{n:02d}.csv"
    ex.write_text(
        "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
        f"{patient(n)},RT1,SBRT,8,Gy,5,{rt_start},{rt_end}\n"
    )
    lb = folder / f"lb_{n:02d}.csv"  # follow-up: a normal lab after the 90-day window
    lb.write_text(
        "USUBJID,LBSEQ,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"
        f"{patient(n)},1,ALT,20,U/L,0,40,{rt_end + timedelta(days=95)}\n"
    )
    paths = [dm, ex, lb]
    if n in TOXIC:
        ae = folder / f"ae_{n:02d}.csv"
        ae.write_text(
            "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AEREL,AESTDTC\n"
            f"{patient(n)},AE-1,ASCITES,Ascites,3,N,PROBABLE,{rt_end + timedelta(days=80)}\n"
        )
        paths.append(ae)
    return paths


def grade3_history(pipeline: Pipeline) -> list[RuleStatusRecord]:
    with pipeline.sessions() as session:
        return list(
            session.scalars(
                select(RuleStatusRecord)
                .where(RuleStatusRecord.rule_name == "grade3-rt-related")
                .order_by(RuleStatusRecord.id)
            )
        )


def test_the_grade3_rule_crosses_at_the_right_patient_once(
    pipeline: Pipeline, clock, tmp_path: Path
) -> None:
    # Everyone is followed through the 90-day window when the data arrive.
    clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    for n in range(1, 37):
        pipeline.ingest_paths(files_for(n, tmp_path))
    history = grade3_history(pipeline)
    crossed = [h for h in history if h.state == "crossed"]
    first = crossed[0]
    assert first.previous_state in ("ok", "approaching")
    assert (first.detail or {}).get("crossed_at_n") == 25
    assert "01-026" in (first.detail or {}).get("toxic_subjects", [])
    with pipeline.sessions() as session:
        alerts = session.scalars(
            select(Alert.dedup_key).where(
                Alert.kind == "threshold", Alert.dedup_key.like("%grade3-rt-related:crossed%")
            )
        ).all()
        rows_before = session.scalar(select(func.count()).select_from(RuleStatusRecord))
    assert len(alerts) == 1
    # Re-ingest everything (new bytes, same content): nothing changes.
    for n in range(1, 37):
        for path in files_for(n, tmp_path):
            path.write_text(path.read_text() + "\n")
        pipeline.ingest_paths(files_for(n, tmp_path))
    with pipeline.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RuleStatusRecord)) == rows_before
        again = session.scalars(
            select(Alert.dedup_key).where(
                Alert.kind == "threshold", Alert.dedup_key.like("%grade3-rt-related:crossed%")
            )
        ).all()
    assert again == alerts


# The same trial as sites really send it: patient 20's grade 3 nausea is dated only to the
# month RT began (2025-05, RT from 2025-05-26), and patient 23's death is in DM only, 30 days
# after RT, with no fatal AE. By hand: the nausea counts from the first RT day (day 140 of
# the trial, toxic), the death as a grade 5 Death NOS of unknown attribution on day 196
# (toxic in both RT rules: missing attribution counts as related). The grade-3 rule's
# evaluable patients in order of their final status: the 17th is 01-023, the 6th toxic one,
# which meets the boundary (6 at n = 13-17): crossed on 2025-07-21 (day 196). The grade-5
# rule crosses at its first evaluable patient, 01-023, the same day.
PARTIAL_ONSET, DM_DEATH = 20, 23


def files_as_sites_send(n: int, folder: Path) -> list[Path]:
    paths = files_for(n, folder)
    rt_start = START + timedelta(days=7 * n)
    if n == PARTIAL_ONSET:
        ae = folder / f"ae_{n:02d}.csv"
        ae.write_text(
            "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AEREL,AESTDTC\n"
            f"{patient(n)},AE-1,NAUSEA,Nausea,3,N,PROBABLE,{rt_start:%Y-%m}\n"
        )
        paths.append(ae)
    if n == DM_DEATH:
        died = rt_start + timedelta(days=5 + 30)
        paths[0].write_text(
            f"USUBJID,SITEID,RFXSTDTC,DTHFL,DTHDTC\n{patient(n)},01,{rt_start},Y,{died}\n"
        )
    return paths


def test_partial_onsets_and_a_dm_only_death_count_as_counted_by_hand(
    pipeline: Pipeline, clock, tmp_path: Path, settings, db_url: str
) -> None:
    import pandas as pd

    from aewatch.dbapi import connect
    from aewatch.reports.counting import count_adverse_events
    from aewatch.reports.sql_counts import counts_document
    from aewatch.safety.evaluation import evaluate_rule
    from aewatch.store.rule_inputs import load_events, load_patients
    from aewatch.trials import ensure_trial

    clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    for n in range(1, 37):
        pipeline.ingest_paths(files_as_sites_send(n, tmp_path))
    # As the data stand once every patient's files are in (the latest status record).
    latest = grade3_history(pipeline)[-1]
    assert latest.state == "crossed"
    assert (latest.detail or {}).get("crossed_at_n") == 17
    assert (latest.detail or {}).get("crossed_on") == "2025-07-21"
    with pipeline.sessions() as session:
        grade5 = session.scalars(
            select(RuleStatusRecord)
            .where(RuleStatusRecord.rule_name == "grade5-rt-related")
            .order_by(RuleStatusRecord.id.desc())
        ).first()
        trial_pk = ensure_trial(session, settings, clock.now()).id
        report = count_adverse_events(session, trial_pk, by="term").table
        patients, events = load_patients(session, trial_pk), load_events(session, trial_pk)
    assert grade5 is not None and grade5.state == "crossed"
    assert (grade5.detail or {}).get("crossed_at_n") == 1
    assert (grade5.detail or {}).get("crossed_on") == "2025-07-21"
    # `aewatch status` evaluates the same rows: the same crossings, at 01-023.
    for name, n in (("grade3-rt-related", 17), ("grade5-rt-related", 1)):
        rule = next(r for r in settings.stopping_rules if r.name == name)
        status = evaluate_rule(rule, patients, events, pd.Timestamp(clock.now()))
        assert (status.crossed_at_n, status.crossed_subject) == (n, "01-023")
    # The report's counts and `aewatch counts` agree with the hand count.
    expected = [("Ascites", 11, 11), ("Death NOS", 1, 1), ("Nausea", 1, 1)]
    assert sorted((r["term"], r["patients"], r["events"]) for r in report.to_dict("records")) == (
        expected
    )
    with connect(db_url) as db:
        fast = counts_document(db, settings.trial.id, by="term")
    assert sorted((r["term"], r["patients"], r["events"]) for r in fast["counts"]) == expected
