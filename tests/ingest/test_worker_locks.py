"""Several workers on PostgreSQL: files about different subjects are stored side by side;
only the stopping-rule evaluation (and commit) of one trial is one at a time."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text

from aewatch.models import AdverseEvent, RuleStatusRecord, Subject
from aewatch.pipeline import Pipeline, transaction
from aewatch.store.locks import SUBJECT_NAMESPACE, lock_subjects, lock_trial, subject_key

DM = "USUBJID,SITEID,RFXSTDTC\n01-001,01,2026-01-05\n01-002,01,2026-01-05\n"
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC\n"
    "01-001,RT1,RADIOTHERAPY,8,Gy,5,LIVER,2026-01-05,2026-01-09\n"
    "01-002,RT1,RADIOTHERAPY,8,Gy,5,LIVER,2026-01-05,2026-01-09\n"
)


def _postgres_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("advisory locks exist on PostgreSQL; SQLite serialises writers")


def _held_elsewhere(engine, *key: int) -> bool:  # type: ignore[no-untyped-def]
    """Whether another connection is refused this advisory lock right now."""
    with engine.connect() as other:
        function = "pg_try_advisory_xact_lock"
        got = other.execute(text(f"SELECT {function}({', '.join(map(str, key))})")).scalar()
        other.rollback()
    return not got


def test_a_subject_lock_excludes_that_subject_only(db_url: str, engine, sessions) -> None:
    _postgres_only(db_url)
    with sessions() as session, session.begin():
        assert lock_subjects(session, 1, ["01-001", "01-002", "01-001"]) == 2
        assert _held_elsewhere(engine, SUBJECT_NAMESPACE, subject_key(1, "01-001"))
        assert not _held_elsewhere(engine, SUBJECT_NAMESPACE, subject_key(1, "01-003"))
        assert not _held_elsewhere(engine, SUBJECT_NAMESPACE, subject_key(2, "01-001"))
        assert not _held_elsewhere(engine, 0xAE00 + 1)  # the trial's lock is not taken
        lock_trial(session, 1)
        assert _held_elsewhere(engine, 0xAE00 + 1)
    assert not _held_elsewhere(engine, SUBJECT_NAMESPACE, subject_key(1, "01-001"))


def test_subject_keys_are_stable_32_bit_integers() -> None:
    keys = {subject_key(7, f"01-{i:03d}") for i in range(1000)}
    assert all(-(2**31) <= k < 2**31 for k in keys)
    assert subject_key(7, "01-001") == subject_key(7, "01-001") != subject_key(8, "01-001")
    assert len(keys) == 1000


def test_files_about_different_subjects_are_graded_at_the_same_time(
    db_url: str, settings, sessions, clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both workers must be inside their transactions, past the store stage, at once: with
    one lock for the whole file the second would wait and the barrier would break."""
    _postgres_only(db_url)
    setup = Pipeline(settings, sessions, clock, "setup")
    (tmp_path / "dm.csv").write_text(DM)
    (tmp_path / "ex.csv").write_text(EX)
    setup.ingest_paths([tmp_path / "dm.csv", tmp_path / "ex.csv"])
    both_grading = threading.Barrier(2, timeout=30)
    real_grade = transaction.FILE_STAGES[0]

    def grade_when_both_are_here(ctx, so_far):  # type: ignore[no-untyped-def]
        both_grading.wait()
        return real_grade(ctx, so_far)

    monkeypatch.setattr(
        transaction, "FILE_STAGES", (grade_when_both_are_here, *transaction.FILE_STAGES[1:])
    )
    outcomes: dict[str, object] = {}
    errors: list[BaseException] = []

    def ingest(worker: str, subject: str) -> None:
        folder = tmp_path / worker
        folder.mkdir()
        path = folder / f"ae_{subject}.csv"
        path.write_text(
            "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AEREL,AESTDTC\n"
            f"{subject},AE-1,NAUSEA,Nausea,3,N,PROBABLE,2026-01-20\n"
        )
        try:
            pipeline = Pipeline(settings, sessions, clock, worker)
            outcomes[worker] = pipeline.ingest_paths([path])[0]
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    threads = [
        threading.Thread(target=ingest, args=("worker-a", "01-001")),
        threading.Thread(target=ingest, args=("worker-b", "01-002")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and not both_grading.broken
    assert [outcomes[w].status for w in ("worker-a", "worker-b")] == ["done", "done"]  # type: ignore[attr-defined]
    with sessions() as session:
        subjects = session.scalars(
            select(Subject.subject_id).join(AdverseEvent, AdverseEvent.subject_pk == Subject.id)
        ).all()
        last = session.scalars(
            select(RuleStatusRecord)
            .where(RuleStatusRecord.rule_name == "grade3-rt-related")
            .order_by(RuleStatusRecord.id.desc())
        ).first()
    assert sorted(subjects) == ["01-001", "01-002"]
    # The evaluation committed last saw both files' toxicities.
    assert last is not None and last.toxic_n == 2
