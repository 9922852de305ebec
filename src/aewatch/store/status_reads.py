"""What `aewatch status` reads, in plain SQL through the DB-API driver (``aewatch.dbapi``).

The same patients and events as ``rule_inputs`` (which the ingest transaction reads
through SQLAlchemy and pandas), without importing either, so that the command starts
fast: one row per subject with its RT window and last known contact, the current
version of every AE, and each rule's stored history. A test checks that both readers
give the same rule status.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aewatch.dbapi import ReadOnlyDatabase
from aewatch.safety.evaluation import PatientDates, utc_day

EVENT_FIELDS = (
    "subject_id",
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


def load_patients(db: ReadOnlyDatabase, trial: int) -> list[PatientDates]:
    """Subjects with their first RT start, last RT end, and last contact: the latest of the
    recorded last contact, any lab or AE date, death and the end of RT (``rule_inputs``)."""
    rows = db.rows(
        "SELECT s.subject_id, s.died_on, s.withdrawn_on, s.last_contact_on,"
        " c.rt_start, c.rt_end, d.data_contact FROM subjects s"
        " LEFT JOIN (SELECT subject_pk, MIN(start_on) AS rt_start, MAX(end_on) AS rt_end"
        " FROM rt_courses GROUP BY subject_pk) c ON c.subject_pk = s.id"
        " LEFT JOIN (SELECT pk, MAX(day) AS data_contact FROM ("
        " SELECT subject_pk AS pk, MAX(collected_on) AS day FROM lab_results GROUP BY subject_pk"
        " UNION ALL SELECT a.subject_pk, MAX(COALESCE(v.end_on, v.onset_on))"
        " FROM adverse_events a JOIN ae_versions v ON v.ae_pk = a.id AND v.is_current = :yes"
        " GROUP BY a.subject_pk) u GROUP BY pk) d ON d.pk = s.id"
        " WHERE s.trial_pk = :trial",
        {"trial": trial, "yes": True},
    )
    patients = []
    for subject, died, withdrawn, last_contact, rt_start, rt_end, data_contact in rows:
        died_day, end_day = utc_day(died), utc_day(rt_end)
        known = [utc_day(last_contact), utc_day(data_contact), died_day, end_day]
        patients.append(
            PatientDates(
                subject_id=str(subject),
                rt_start=utc_day(rt_start),
                rt_end=end_day,
                last_contact=max((d for d in known if d is not None), default=None),
                died_on=died_day,
                withdrawn_on=utc_day(withdrawn),
            )
        )
    return patients


def load_events(db: ReadOnlyDatabase, trial: int, min_grade: int | None) -> list[dict[str, Any]]:
    """The current version of every AE, as mappings of ``EVENT_FIELDS``; with ``min_grade``
    only derived syndromes and events graded at least that (no rule can count the rest)."""
    where = "a.trial_pk = :trial AND v.is_current = :yes"
    params: dict[str, Any] = {"trial": trial, "yes": True}
    if min_grade is not None:
        where += " AND (a.origin = 'syndrome' OR v.grade >= :min_grade)"
        params["min_grade"] = int(min_grade)
    rows = db.rows(
        "SELECT s.subject_id, v.onset_on, v.grade, v.ctcae_term, v.ctcae_soc, v.rt_relation,"
        " v.systemic_relation, v.serious, a.origin FROM ae_versions v"
        " JOIN adverse_events a ON v.ae_pk = a.id JOIN subjects s ON a.subject_pk = s.id"
        f" WHERE {where}",
        params,
    )
    events = []
    for subject, onset, grade, term, soc, rt, systemic, serious, origin in rows:
        derived = term if origin == "syndrome" else None
        values = (str(subject), utc_day(onset), grade, term, soc, rt, systemic, bool(serious))
        events.append(dict(zip(EVENT_FIELDS, (*values, derived), strict=True)))
    return events


def load_history(db: ReadOnlyDatabase, trial: int) -> list[tuple[str, str, str | None, datetime]]:
    """Every stored evaluation: (rule, state, previous state, evaluated at, aware UTC)."""
    rows = db.rows(
        "SELECT rule_name, state, previous_state, evaluated_at FROM rule_status"
        " WHERE trial_pk = :trial ORDER BY id",
        {"trial": trial},
    )
    return [(str(r), str(s), p, _utc_time(at)) for r, s, p, at in rows]


def _utc_time(value: Any) -> datetime:
    """Stored times are naive UTC text on SQLite, aware on PostgreSQL."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
