"""Who may write what at the same time, when several workers share one PostgreSQL database.

Two locks, both transaction-scoped advisory locks (released at commit or rollback):

* **per subject** — the store, grade and derive stages read and write only the subjects a
  file carries (their AE versions, labs, courses, held rows). Files about different
  subjects run side by side; files about the same subject queue. The keys are taken in
  sorted order, so two files never wait for each other in a cycle.
* **per trial** — the rules stage reads every patient of the trial and writes the rules'
  status, read-modify-write. It takes this lock last and holds it until commit, so only
  one transaction of a trial evaluates and commits at a time: what it reads cannot change
  under it, and the last commit has evaluated everything before it.

SQLite needs neither: BEGIN IMMEDIATE already makes writers queue.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

SUBJECT_NAMESPACE = 0xAE01  # first key of the two-key form; the one-key form is the trial's


def lock_subjects(session: Session, trial_pk: int, subject_ids: Iterable[str]) -> int:
    """Wait for, then hold until commit, the lock of each of these subjects; returns how
    many keys were taken (0 on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    keys = sorted({subject_key(trial_pk, s) for s in subject_ids if s})
    if keys:
        session.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(:namespace, k)) "
                "FROM unnest(CAST(:keys AS integer[])) AS k"
            ),
            {"namespace": SUBJECT_NAMESPACE, "keys": keys},
        )
    return len(keys)


def lock_trial(session: Session, trial_pk: int) -> None:
    """Wait for, then hold until commit, the trial's lock (see the module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0xAE00 + trial_pk})


def subject_key(trial_pk: int, subject_id: str) -> int:
    """A stable 32-bit key (a collision only makes two subjects queue, never unsafe)."""
    value = zlib.crc32(f"{trial_pk}:{subject_id}".encode())
    return value - (1 << 32) if value >= 1 << 31 else value
