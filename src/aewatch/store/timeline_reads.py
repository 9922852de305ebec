"""What `aewatch subject ID` reads about one patient, in plain SQL through the DB-API
driver (``aewatch.dbapi``), at one data cut (``aewatch.reports.datacut``).

The same rows, cut the same way, as the DSMB report's snapshot
(``aewatch.reports.snapshot``), restricted to one subject, without SQLAlchemy or pandas:
the command starts fast. Each row is a dict of plain Python values (dates as ``date``,
times as aware UTC ``datetime``, flags as ``bool``, JSON parsed), on SQLite and
PostgreSQL alike. The knowledge time keeps rows first recorded by then (an AE: its
versions recorded by then); the clinical day keeps events dated on or before it (an AE
by the onset of its latest known version; an event with no date is kept, except a
disposition, which is dated by definition).
"""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from aewatch.dbapi import ReadOnlyDatabase

if TYPE_CHECKING:
    from aewatch.reports.datacut import DataCut

Row = dict[str, Any]


def subject_known(db: ReadOnlyDatabase, trial: int, subject_id: str) -> bool:
    """Is the subject in this trial at all (at any cut)?"""
    return bool(
        db.rows(
            "SELECT 1 FROM subjects WHERE trial_pk = :trial AND subject_id = :subject",
            {"trial": trial, "subject": subject_id},
        )
    )


def subject(db: ReadOnlyDatabase, trial: int, subject_id: str, cut: DataCut) -> Row | None:
    """The DM row as known at the knowledge time (None: not recorded by then)."""
    params = _params(trial, subject_id)
    rows = _dicts(
        db,
        "SELECT s.subject_id, s.site, s.enrolled_on, s.oligoprogression, s.systemic_therapy,"
        " s.died_on, s.withdrawn_on, s.last_contact_on FROM subjects s"
        " WHERE s.trial_pk = :trial AND s.subject_id = :subject"
        f"{_known(cut, 's.created_at', params)}",
        params,
        dates=("enrolled_on", "died_on", "withdrawn_on", "last_contact_on"),
    )
    return rows[0] if rows else None


def dispositions(db: ReadOnlyDatabase, trial: int, subject_id: str, cut: DataCut) -> list[Row]:
    """DS records dated on or before the clinical day, by date."""
    params = _params(trial, subject_id)
    where = _known(cut, "d.created_at", params)
    if cut.clinical_day is not None:
        where += " AND d.start_on <= :cut_day"
        params["cut_day"] = cut.clinical_day
    return _dicts(
        db,
        "SELECT d.start_on, d.category, d.decoded_term, d.disposition FROM dispositions d"
        " JOIN subjects s ON s.id = d.subject_pk"
        f" WHERE s.trial_pk = :trial AND s.subject_id = :subject{where}"
        " ORDER BY d.start_on, d.id",
        params,
        dates=("start_on",),
    )


def rt_courses(db: ReadOnlyDatabase, trial: int, subject_id: str, cut: DataCut) -> list[Row]:
    """Courses started by the clinical day (or undated), as built from EX."""
    params = _params(trial, subject_id)
    return _dicts(
        db,
        "SELECT r.id AS course_pk, r.course_key, r.lesion, r.course_number, r.fractions,"
        " r.fraction_doses, r.start_on, r.end_on, r.bed_gy, r.eqd2_gy, r.records,"
        " r.dose_status, r.completed, r.liver_involved, r.bed_below_minimum"
        " FROM rt_courses r JOIN subjects s ON s.id = r.subject_pk"
        " WHERE s.trial_pk = :trial AND s.subject_id = :subject"
        f"{_known(cut, 'r.created_at', params)}{_dated(cut, 'r.start_on', params)}"
        " ORDER BY r.start_on, r.course_key, r.id",
        params,
        dates=("start_on", "end_on"),
        flags=("completed", "bed_below_minimum"),
        unknown_flags=("liver_involved",),  # None: the site was not recognised
        json_columns=("fraction_doses",),
    )


def exposure(db: ReadOnlyDatabase, trial: int, subject_id: str, cut: DataCut) -> list[Row]:
    """EX records (radiotherapy and systemic) started by the clinical day (or undated)."""
    params = _params(trial, subject_id)
    return _dicts(
        db,
        "SELECT e.category, e.agent, e.treatment, e.lesion, e.dose, e.dose_unit, e.fractions,"
        " e.dose_frequency, e.adjustment, e.start_on, e.end_on, e.course_pk"
        " FROM ex_records e JOIN subjects s ON s.id = e.subject_pk"
        " WHERE s.trial_pk = :trial AND s.subject_id = :subject"
        f"{_known(cut, 'e.created_at', params)}{_dated(cut, 'e.start_on', params)}"
        " ORDER BY e.start_on, e.id",
        params,
        dates=("start_on", "end_on"),
    )


def graded_labs(db: ReadOnlyDatabase, trial: int, subject_id: str, cut: DataCut) -> list[Row]:
    """Plausible results with a CTCAE grade above 0, collected by the clinical day."""
    params = _params(trial, subject_id)
    return _dicts(
        db,
        "SELECT l.collected_on, l.test_code, l.value, l.unit, l.tox_term_low, l.tox_grade_low,"
        " l.tox_term_high, l.tox_grade_high, l.baseline_flag"
        " FROM lab_results l JOIN subjects s ON s.id = l.subject_pk"
        " WHERE s.trial_pk = :trial AND s.subject_id = :subject"
        " AND l.implausible IS NULL"  # queried, never tabulated
        " AND (COALESCE(l.tox_grade_low, 0) > 0 OR COALESCE(l.tox_grade_high, 0) > 0)"
        f"{_known(cut, 'l.created_at', params)}{_dated(cut, 'l.collected_on', params)}"
        " ORDER BY l.collected_on, l.test_code, l.id",
        params,
        dates=("collected_on",),
        flags=("baseline_flag",),
    )


def alerts(db: ReadOnlyDatabase, trial: int, subject_id: str, cut: DataCut) -> list[Row]:
    """Alerts about the subject queued by the knowledge time; sent and acknowledged as
    known then."""
    params = _params(trial, subject_id)
    rows = _dicts(
        db,
        "SELECT kind, status, created_at, sent_at, acknowledged_at FROM alerts"
        " WHERE trial_pk = :trial AND subject_id = :subject"
        f"{_known(cut, 'created_at', params)} ORDER BY id",
        params,
        times=("created_at", "sent_at", "acknowledged_at"),
    )
    if cut.known_at is not None:
        for row in rows:
            for column in ("sent_at", "acknowledged_at"):
                if row[column] is not None and row[column] > cut.known_at:
                    row[column] = None
    return rows


def ae_versions(db: ReadOnlyDatabase, trial: int, subject_id: str, cut: DataCut) -> list[Row]:
    """Every version of the subject's AEs recorded by the knowledge time (which of them
    count at the cut is ``reports.timeline``'s business)."""
    params = _params(trial, subject_id)
    where = ""
    if cut.known_at is not None:
        where = " AND v.recorded_at <= :as_of"
        params["as_of"] = cut.known_at
    return _dicts(
        db,
        "SELECT a.id AS ae_pk, a.ae_key, a.origin, v.version, v.recorded_at, v.ctcae_term,"
        " v.grade, v.serious, v.rt_relation, v.systemic_relation, v.outcome, v.onset_on,"
        " v.onset_precision, v.onset_until, v.evidence, v.set_aside"
        " FROM ae_versions v JOIN adverse_events a ON a.id = v.ae_pk"
        " JOIN subjects s ON s.id = a.subject_pk"
        f" WHERE a.trial_pk = :trial AND s.subject_id = :subject{where}"
        " ORDER BY a.id, v.version",
        params,
        dates=("onset_on", "onset_until"),
        times=("recorded_at",),
        flags=("serious",),
        json_columns=("evidence",),
    )


def _params(trial: int, subject_id: str) -> dict[str, Any]:
    return {"trial": trial, "subject": subject_id}


def _known(cut: DataCut, column: str, params: dict[str, Any]) -> str:
    """The knowledge cut (rows without a record time count as known)."""
    if cut.known_at is None:
        return ""
    params["as_of"] = cut.known_at
    return f" AND ({column} IS NULL OR {column} <= :as_of)"


def _dated(cut: DataCut, column: str, params: dict[str, Any]) -> str:
    """The clinical cut (an undated row is kept: it may be inside the period)."""
    if cut.clinical_day is None:
        return ""
    params["cut_day"] = cut.clinical_day
    return f" AND ({column} IS NULL OR {column} <= :cut_day)"


def _dicts(
    db: ReadOnlyDatabase,
    sql: str,
    params: dict[str, Any],
    *,
    dates: tuple[str, ...] = (),
    times: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
    unknown_flags: tuple[str, ...] = (),
    json_columns: tuple[str, ...] = (),
) -> list[Row]:
    """Driver rows as dicts named as the SELECT list names them, typed alike on both
    databases (SQLite gives dates and times as text, flags as 0/1, JSON as text)."""
    columns = [part.rsplit(" ", 1)[-1].rsplit(".", 1)[-1] for part in _select_list(sql)]
    out = []
    for values in db.rows(sql, params):
        row = dict(zip(columns, values, strict=True))
        for name in dates:
            row[name] = _day(row[name])
        for name in times:
            row[name] = _utc(row[name])
        for name in flags:
            row[name] = bool(row[name])  # NULL reads as False, as the snapshot reads it
        for name in json_columns:
            if isinstance(row[name], str):
                with suppress(ValueError):
                    row[name] = json.loads(row[name])
        for name in unknown_flags:
            row[name] = None if row[name] is None else bool(row[name])
        out.append(row)
    return out


def _select_list(sql: str) -> list[str]:
    return sql[len("SELECT ") : sql.index(" FROM ")].split(", ")


def _day(value: Any) -> date | None:
    if value is None or type(value) is date:
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def _utc(value: Any) -> datetime | None:
    """Naive UTC text on SQLite, aware on PostgreSQL (``models.UTCDateTime``)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
