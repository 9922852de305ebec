"""The SDTM DS domain through check → store: disposition events as sites send them, and a
death or a loss to follow-up in DS alone counted where it matters."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from aewatch.models import AeVersion, Disposition, QuarantineEntry
from aewatch.pipeline import Pipeline
from aewatch.reports.datacut import DataCut
from aewatch.reports.snapshot import load_snapshot
from aewatch.safety.evaluation import evaluate_rule

DM = (
    "STUDYID,DOMAIN,USUBJID,SITEID,RFXSTDTC\n"
    "NCT06261047,DM,01-001,01,2025-03-01\n"
    "NCT06261047,DM,01-002,01,2025-03-03\n"
)
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "01-001,RT1,SBRT,8,Gy,5,2025-03-01,2025-03-07\n"
    "01-002,RT1,SBRT,8,Gy,5,2025-03-03,2025-03-09\n"
)
DS = (
    "STUDYID,DOMAIN,USUBJID,DSSEQ,DSSPID,DSTERM,DSDECOD,DSCAT,DSSTDTC\n"
    "NCT06261047,DS,01-001,1,,PROGRESSION OF DISEASE,PROGRESSIVE DISEASE,DISPOSITION EVENT,"
    "2025-06-01\n"
    "NCT06261047,DS,01-001,2,,DIED,DEATH,DISPOSITION EVENT,2025-06-20\n"
    "NCT06261047,DS,01-002,1,,Lost,LOST TO FOLLOW-UP,DISPOSITION EVENT,2025-04-15\n"
    "NCT06261047,DS,01-002,2,,INFORMED CONSENT,INFORMED CONSENT OBTAINED,PROTOCOL MILESTONE,"
    "2025-02-20\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def stored(pipeline: Pipeline) -> list[tuple[str, str, str, date | None]]:
    with pipeline.sessions() as session:
        rows = session.scalars(select(Disposition).order_by(Disposition.id)).all()
        return [(r.event_key, r.decoded_term, r.disposition, r.start_on) for r in rows]


def test_disposition_events_are_stored_with_what_they_mean(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM)])
    (outcome,) = pipeline.ingest_paths([write(tmp_path / "ds.csv", DS)])
    assert (outcome.status, outcome.accepted, outcome.quarantined) == ("done", 4, 0)
    assert [(d, on) for _, _, d, on in stored(pipeline)] == [
        ("progression", date(2025, 6, 1)),
        ("death", date(2025, 6, 20)),
        ("lost to follow-up", date(2025, 4, 15)),
        ("milestone", date(2025, 2, 20)),
    ]


def test_a_re_export_with_a_corrected_date_updates_the_event_in_place(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM), write(tmp_path / "ds.csv", DS)])
    # DSSEQ renumbered, the death date corrected: still one death.
    corrected = DS.replace("01-001,2,,DIED,DEATH", "01-001,7,,DIED,DEATH").replace(
        "2025-06-20", "2025-06-19"
    )
    (outcome,) = pipeline.ingest_paths([write(tmp_path / "ds2.csv", corrected)])
    assert outcome.versions == 1
    deaths = [row for row in stored(pipeline) if row[2] == "death"]
    assert deaths == [("DISPOSITION EVENT|DEATH", "DEATH", "death", date(2025, 6, 19))]


def test_bad_disposition_rows_are_quarantined_or_queried_with_a_reason(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM)])
    bad = (
        "USUBJID,DSDECOD,DSCAT,DSSTDTC\n"
        "01-001,MOVED ABROAD,DISPOSITION EVENT,2025-05-01\n"  # unknown term: kept, queried
        "01-001,DEATH,DISPOSITION EVENT,\n"  # no date: rejected
        "01-002,DEATH,DISPOSITION EVENT,2025-07-01\n"
        "01-002,DEATH,DISPOSITION EVENT,2025-07-02\n"  # the same event twice: rejected
    )
    (outcome,) = pipeline.ingest_paths([write(tmp_path / "ds_bad.csv", bad)])
    # The queries: the unknown term, and for the DS-only death of 01-002: DM has none, and
    # no AE is fatal.
    assert (outcome.accepted, outcome.quarantined, outcome.queries) == (2, 2, 3)
    with pipeline.sessions() as session:
        reasons = {
            (q.row_number, q.kind): q.reason
            for q in session.scalars(select(QuarantineEntry).where(QuarantineEntry.domain == "DS"))
        }
    assert "not a recognised disposition term" in reasons[(1, "query")]
    assert "DSSTDTC is empty" in reasons[(2, "rejected")]
    assert "appears twice" in reasons[(4, "rejected")]
    assert ("DISPOSITION EVENT|MOVED ABROAD", "MOVED ABROAD", "other", date(2025, 5, 1)) in (
        stored(pipeline)
    )


def test_events_of_a_subject_not_in_dm_yet_wait_for_it(pipeline: Pipeline, tmp_path: Path) -> None:
    (held,) = pipeline.ingest_paths([write(tmp_path / "ds.csv", DS)])
    assert (held.pending, stored(pipeline)) == (4, [])
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM)])
    assert len(stored(pipeline)) == 4


def test_a_death_and_a_loss_recorded_in_ds_only_count_for_the_rules_and_the_report(
    pipeline: Pipeline, tmp_path: Path, settings
) -> None:
    """DM has no death date and no withdrawal: the DS records alone must end follow-up."""
    pipeline.ingest_paths(
        [write(tmp_path / n, t) for n, t in (("dm.csv", DM), ("ex.csv", EX), ("ds.csv", DS))]
    )
    with pipeline.sessions() as session:
        # The only AE is the death itself, as a Death NOS (no AE reports it yet).
        assert session.scalars(select(AeVersion.ctcae_term)).all() == ["Death NOS"]
        snap = load_snapshot(session, 1, DataCut(clinical_day=date(2025, 12, 31)))
    subjects = snap.subjects.set_index("subject_id")
    assert subjects.loc["01-001", "died_on"] == pd.Timestamp("2025-06-20")
    assert subjects.loc["01-001", "death_recorded_in"] == "DS"
    assert subjects.loc["01-002", "lost_on"] == pd.Timestamp("2025-04-15")
    # Neither is pending forever: 01-001 died after the 90-day window (followed through
    # it, by the DS death date), 01-002 was lost before its end (left early: excluded).
    rule = next(r for r in settings.stopping_rules if r.name == "grade3-rt-related")
    status = evaluate_rule(rule, snap.rule_patients, snap.rule_events, "2025-12-31")
    assert status.pending_subjects == ()
    assert status.evaluable_subjects == ("01-001",)
    assert status.excluded_subjects == ("01-002",)
