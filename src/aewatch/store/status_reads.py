"""What `aewatch status` reads, in plain SQL through the DB-API driver (``aewatch.dbapi``).

The same patients and events as ``rule_inputs`` (which the ingest transaction reads
through SQLAlchemy and pandas), without importing either, so that the command starts
fast: one row per subject with its RT window, last known contact and end of follow-up
(DM and DS, as ``safety.disposition``), the version of every AE current at the knowledge
time, and each rule's stored history. ``known_at`` (None: everything recorded) replays
what was recorded by then, as ``rule_inputs`` does. A test checks that both readers give
the same rule status.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aewatch.dbapi import ReadOnlyDatabase
from aewatch.safety.disposition import DEATH, LOST, WITHDRAWAL
from aewatch.safety.evaluation import PatientDates, utc_day
from aewatch.safety.onsets import IMPUTED_ONSET_SQL

# aewatch.store.set_aside.COUNTED_SQL, written out: that module loads SQLAlchemy, which
# `aewatch status` does not.
COUNTED_SQL = "v.set_aside IS NULL"

EVENT_FIELDS = (
    "subject_id",
    "ae_key",
    "onset",
    "grade",
    "ctcae_term",
    "ctcae_soc",
    "rt_relation",
    "systemic_relation",
    "serious",
    "derived",
)


def trial_pk(db: ReadOnlyDatabase, trial_id: str) -> int | None:
    found = db.rows("SELECT id FROM trials WHERE trial_id = :t", {"t": trial_id})
    return int(found[0][0]) if found else None


def load_patients(
    db: ReadOnlyDatabase, trial: int, known_at: datetime | None = None
) -> list[PatientDates]:
    """Subjects with their first RT start, last RT end, and last contact: the latest of the
    recorded last contact, any plausible lab or AE date, death and the end of RT; death
    and withdrawal (or loss to follow-up) are the earliest of DM and DS (``rule_inputs``)."""
    params: dict[str, Any] = {"trial": trial, "yes": True}
    rows = db.rows(
        "SELECT s.id, s.subject_id, s.died_on, s.withdrawn_on, s.last_contact_on,"
        " c.rt_start, c.rt_end, d.data_contact FROM subjects s"
        " LEFT JOIN (SELECT subject_pk, MIN(start_on) AS rt_start, MAX(end_on) AS rt_end"
        f" FROM rt_courses WHERE {_known('created_at', known_at, params)}"
        " GROUP BY subject_pk) c ON c.subject_pk = s.id"
        " LEFT JOIN (SELECT pk, MAX(day) AS data_contact FROM ("
        " SELECT subject_pk AS pk, MAX(collected_on) AS day FROM lab_results"
        f" WHERE implausible IS NULL AND {_known('created_at', known_at, params)}"
        " GROUP BY subject_pk"
        " UNION ALL SELECT a.subject_pk, MAX(COALESCE(v.end_on, v.onset_on))"
        f" FROM adverse_events a JOIN ae_versions v ON v.ae_pk = a.id AND {_version(known_at)}"
        " GROUP BY a.subject_pk) u GROUP BY pk) d ON d.pk = s.id"
        f" WHERE s.trial_pk = :trial AND {_known('s.created_at', known_at, params)}",
        params,
    )
    left = _dispositions(db, trial, known_at)
    patients = []
    for pk, subject, died, withdrawn, last_contact, rt_start, rt_end, data_contact in rows:
        ds = left.get(int(pk), {})
        died_day = _earliest(utc_day(died), ds.get(DEATH))
        withdrawn_day = _earliest(utc_day(withdrawn), ds.get(WITHDRAWAL))
        end_day = utc_day(rt_end)
        known = [utc_day(last_contact), utc_day(data_contact), died_day, end_day]
        patients.append(
            PatientDates(
                subject_id=str(subject),
                rt_start=utc_day(rt_start),
                rt_end=end_day,
                last_contact=max((d for d in known if d is not None), default=None),
                died_on=died_day,
                # Withdrawn or lost to follow-up: either way the window cannot be followed.
                withdrawn_on=_earliest(withdrawn_day, ds.get(LOST)),
            )
        )
    return patients


def load_events(
    db: ReadOnlyDatabase, trial: int, min_grade: int | None, known_at: datetime | None = None
) -> list[dict[str, Any]]:
    """The version of every AE current at ``known_at``, as mappings of ``EVENT_FIELDS``;
    with ``min_grade`` only derived syndromes and events graded at least that (no rule can
    count the rest)."""
    where = f"a.trial_pk = :trial AND {_version(known_at)}"
    params: dict[str, Any] = {"trial": trial, "yes": True}
    if known_at is not None:
        params["known_at"] = known_at
    if min_grade is not None:
        where += " AND (a.origin = 'syndrome' OR v.grade >= :min_grade)"
        params["min_grade"] = int(min_grade)
    # A partial onset whose period holds the first RT day counts from that day, as the
    # ingest transaction's evaluation takes it (aewatch.safety.onsets).
    first_rt = (
        "LEFT JOIN (SELECT subject_pk, MIN(start_on) AS first_rt_on FROM rt_courses"
        f" WHERE {_known('created_at', known_at, params)} GROUP BY subject_pk) f"
        " ON f.subject_pk = s.id"
    )
    rows = db.rows(
        f"SELECT s.subject_id, a.ae_key, {IMPUTED_ONSET_SQL}, v.grade, v.ctcae_term,"
        " v.ctcae_soc, v.rt_relation, v.systemic_relation, v.serious, a.origin"
        " FROM ae_versions v JOIN adverse_events a ON v.ae_pk = a.id"
        f" JOIN subjects s ON a.subject_pk = s.id {first_rt} WHERE {where}",
        params,
    )
    events = []
    for subject, key, onset, grade, term, soc, rt, systemic, serious, origin in rows:
        derived = term if origin == "syndrome" else None
        values = (str(subject), str(key), utc_day(onset), grade, term, soc, rt, systemic)
        events.append(dict(zip(EVENT_FIELDS, (*values, bool(serious), derived), strict=True)))
    return events


def load_history(
    db: ReadOnlyDatabase, trial: int, known_at: datetime | None = None
) -> list[tuple[str, str, str | None, datetime]]:
    """Every stored evaluation by ``known_at``: (rule, state, previous state, evaluated at,
    aware UTC)."""
    params: dict[str, Any] = {"trial": trial}
    rows = db.rows(
        "SELECT rule_name, state, previous_state, evaluated_at FROM rule_status"
        f" WHERE trial_pk = :trial AND {_known('evaluated_at', known_at, params)} ORDER BY id",
        params,
    )
    return [(str(r), str(s), p, _utc_time(at)) for r, s, p, at in rows]


def _dispositions(
    db: ReadOnlyDatabase, trial: int, known_at: datetime | None
) -> dict[int, dict[str, datetime]]:
    """Per subject pk, the first dated death, withdrawal and loss to follow-up in DS."""
    params: dict[str, Any] = {"trial": trial, "death": DEATH, "out": WITHDRAWAL, "lost": LOST}
    rows = db.rows(
        "SELECT d.subject_pk, d.disposition, MIN(d.start_on) FROM dispositions d"
        " JOIN subjects s ON s.id = d.subject_pk WHERE s.trial_pk = :trial"
        " AND d.disposition IN (:death, :out, :lost) AND d.start_on IS NOT NULL"
        f" AND {_known('d.created_at', known_at, params)}"
        " GROUP BY d.subject_pk, d.disposition",
        params,
    )
    found: dict[int, dict[str, datetime]] = {}
    for pk, disposition, day in rows:
        moment = utc_day(day)
        if moment is not None:
            found.setdefault(int(pk), {})[str(disposition)] = moment
    return found


def _known(column: str, known_at: datetime | None, params: dict[str, Any]) -> str:
    """Rows first recorded by ``known_at`` (rows without a record time count as known)."""
    if known_at is None:
        return "1 = 1"
    params["known_at"] = known_at
    return f"({column} IS NULL OR {column} <= :known_at)"


def _version(known_at: datetime | None) -> str:
    """The current version, or the latest version recorded by ``known_at`` (binds
    ``:yes`` or ``:known_at``)."""
    if known_at is None:
        return f"v.is_current = :yes AND {COUNTED_SQL}"
    return (
        "v.version = (SELECT MAX(w.version) FROM ae_versions w"
        f" WHERE w.ae_pk = v.ae_pk AND w.recorded_at <= :known_at) AND {COUNTED_SQL}"
    )


def _earliest(*days: datetime | None) -> datetime | None:
    return min((d for d in days if d is not None), default=None)


def _utc_time(value: Any) -> datetime:
    """Stored times are naive UTC text on SQLite, aware on PostgreSQL."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
