"""Read one trial's data as of a moment into DataFrames: the only place reports touch SQL.

One SELECT per table, straight from the DBAPI cursor into pandas: ORM objects would
cost seconds on 200,000 AEs. ``as_of`` replays history: an AE is its latest version
*recorded* on or before the cut (a later correction is invisible to an earlier
report), and dated rows after the cut are left out, so a month's report can be
regenerated later and give the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.orm import Session

AE_FLAGS = (
    "serious",
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "medically_important",
)
AE_COLUMNS = (
    "ae_pk",
    "subject_id",
    "site",
    "ae_key",
    "origin",
    "version",
    "recorded_at",
    "ctcae_term",
    "ctcae_soc",
    "grade",
    *AE_FLAGS,
    "rt_relation",
    "systemic_relation",
    "outcome",
    "action_taken",
    "onset_on",
    "end_on",
    "aware_at",
    "dictionary_version",
    "evidence",
)
# The lean set `aewatch counts` needs: fewer columns, no JSON to parse.
RELATIONS = ("unrelated", "unlikely", "possible", "probable", "definite")
COUNT_COLUMNS = (
    "subject_id",
    "site",
    "origin",
    "ctcae_term",
    "ctcae_soc",
    "grade",
    "serious",
    "rt_relation",
    "systemic_relation",
    "onset_on",
)


@dataclass(frozen=True)
class Snapshot:
    """Everything a summary table may read, frozen at one data cut."""

    trial_pk: int
    as_of: datetime | None
    subjects: pd.DataFrame
    rt_courses: pd.DataFrame
    exposure: pd.DataFrame  # EX records as received, with what each was read as
    ae: pd.DataFrame
    ae_history: pd.DataFrame
    labs: pd.DataFrame
    alerts: pd.DataFrame
    rule_status: pd.DataFrame
    quarantine: pd.DataFrame
    sites: pd.DataFrame


def load_snapshot(session: Session, trial_pk: int, as_of: datetime | None) -> Snapshot:
    """All tables of one trial as of ``as_of`` (None: everything stored now)."""
    history = _ae_versions(session, trial_pk, as_of, AE_COLUMNS, latest_only=False)
    return Snapshot(
        trial_pk=trial_pk,
        as_of=as_of,
        subjects=load_subjects(session, trial_pk, as_of),
        rt_courses=load_rt_courses(session, trial_pk, as_of),
        exposure=load_exposure(session, trial_pk, as_of),
        ae=latest_versions(history),
        ae_history=history,
        labs=_labs(session, trial_pk, as_of),
        alerts=_alerts(session, trial_pk, as_of),
        rule_status=_rule_status(session, trial_pk, as_of),
        quarantine=_quarantine(session, trial_pk, as_of),
        sites=_sites(session, trial_pk),
    )


def load_adverse_events(
    session: Session,
    trial_pk: int,
    as_of: datetime | None,
    columns: tuple[str, ...] = COUNT_COLUMNS,
) -> pd.DataFrame:
    """One row per AE identity (its latest version as of the cut), selected columns only."""
    return _ae_versions(session, trial_pk, as_of, columns, latest_only=True)


def latest_versions(history: pd.DataFrame) -> pd.DataFrame:
    """A new version of the same AE is a correction: the latest one wins (domain §5)."""
    if history.empty:
        return history.copy()
    ordered = history.sort_values(["ae_pk", "version"])
    return ordered.drop_duplicates("ae_pk", keep="last").reset_index(drop=True)


def load_subjects(session: Session, trial_pk: int, as_of: datetime | None) -> pd.DataFrame:
    frame = run_query(
        session,
        "SELECT s.id AS subject_pk, s.subject_id, s.site, s.enrolled_on, s.oligoprogression,"
        " s.systemic_therapy, s.died_on, s.withdrawn_on, s.last_contact_on"
        " FROM subjects s WHERE s.trial_pk = :trial ORDER BY s.subject_id",
        {"trial": trial_pk},
        dates=("enrolled_on", "died_on", "withdrawn_on", "last_contact_on"),
    )
    if as_of is not None:
        cut = _cut_day(as_of)
        frame = frame[frame["enrolled_on"].isna() | (frame["enrolled_on"] <= cut)].copy()
        for column in ("died_on", "withdrawn_on", "last_contact_on"):
            frame.loc[frame[column] > cut, column] = pd.NaT
    return frame.reset_index(drop=True)


def load_rt_courses(session: Session, trial_pk: int, as_of: datetime | None) -> pd.DataFrame:
    """Courses started by the cut (one per lesion and series, built from EX records)."""
    frame = run_query(
        session,
        "SELECT r.id AS course_pk, s.subject_id, r.course_key, r.lesion, r.lesion_key,"
        " r.course_number, r.treatment, r.dose_per_fraction_gy, r.fractions,"
        " r.fraction_doses, r.total_dose_gy, r.start_on, r.end_on, r.bed_gy, r.eqd2_gy,"
        " r.records, r.dose_status, r.completed, r.liver_involved, r.bed_below_minimum"
        " FROM rt_courses r JOIN subjects s ON s.id = r.subject_pk"
        " WHERE s.trial_pk = :trial ORDER BY s.subject_id, r.start_on, r.course_key",
        {"trial": trial_pk},
        dates=("start_on", "end_on"),
        bools=("bed_below_minimum", "completed"),
    )
    frame["fraction_doses"] = frame["fraction_doses"].map(_json)
    frame["liver_involved"] = frame["liver_involved"].map(
        lambda v: None if v is None or v != v else bool(v)
    )
    if as_of is not None:
        frame = frame[frame["start_on"].isna() | (frame["start_on"] <= _cut_day(as_of))]
    return frame.reset_index(drop=True)


def load_exposure(session: Session, trial_pk: int, as_of: datetime | None) -> pd.DataFrame:
    """EX records (radiotherapy fractions, intervals, courses and systemic dosing) that
    started by the cut, with the course each belongs to."""
    frame = run_query(
        session,
        "SELECT e.id AS record_pk, s.subject_id, e.category, e.agent, e.treatment, e.lesion,"
        " e.dose, e.dose_unit, e.fractions, e.dose_frequency, e.adjustment, e.start_on,"
        " e.end_on, e.course_pk FROM ex_records e JOIN subjects s ON s.id = e.subject_pk"
        " WHERE s.trial_pk = :trial ORDER BY s.subject_id, e.start_on, e.id",
        {"trial": trial_pk},
        dates=("start_on", "end_on"),
    )
    if as_of is not None:
        frame = frame[frame["start_on"].isna() | (frame["start_on"] <= _cut_day(as_of))]
    return frame.reset_index(drop=True)


def _ae_versions(
    session: Session,
    trial_pk: int,
    as_of: datetime | None,
    columns: tuple[str, ...],
    latest_only: bool,
) -> pd.DataFrame:
    source = {
        "ae_pk": "a.id",
        "subject_id": "s.subject_id",
        "site": "s.site",
        "ae_key": "a.ae_key",
        "origin": "a.origin",
    }
    select_list = ", ".join(f"{source.get(c, 'v.' + c)} AS {c}" for c in columns)
    params: dict[str, Any] = {"trial": trial_pk}
    where = "a.trial_pk = :trial"
    if as_of is not None:
        where += " AND v.recorded_at <= :as_of"
        params["as_of"] = as_of
    if latest_only and as_of is None:
        where += " AND v.is_current = :yes"
        params["yes"] = True
    elif latest_only:
        # Latest version recorded by the cut: a correction after it is not yet known.
        where += (
            " AND v.version = (SELECT MAX(w.version) FROM ae_versions w"
            " WHERE w.ae_pk = v.ae_pk AND w.recorded_at <= :as_of)"
        )
    sql = (
        f"SELECT {select_list} FROM ae_versions v JOIN adverse_events a ON a.id = v.ae_pk"
        f" JOIN subjects s ON s.id = a.subject_pk WHERE {where}"
    )
    frame = run_query(
        session,
        sql,
        params,
        dates=tuple(c for c in ("onset_on", "end_on") if c in columns),
        times=tuple(c for c in ("recorded_at", "aware_at") if c in columns),
        bools=tuple(c for c in AE_FLAGS if c in columns),
    )
    return normalise_ae(frame)


def normalise_ae(frame: pd.DataFrame) -> pd.DataFrame:
    """Uncoded terms and missing SOCs still count; relation words are lower case."""
    if "ctcae_term" in frame:
        frame["ctcae_term"] = frame["ctcae_term"].fillna("Uncoded term")
    if "ctcae_soc" in frame:
        missing = frame["ctcae_soc"].isna() & frame["ctcae_term"].notna()
        if missing.any():
            socs = soc_of_terms(frame.loc[missing, "ctcae_term"].unique())
            # Only the SOCs found: an all-missing lookup is float NaN, which a pandas 3
            # string column refuses (an uncoded term then failed every count).
            found = frame.loc[missing, "ctcae_term"].map(socs).dropna()
            frame.loc[found.index, "ctcae_soc"] = found
        frame["ctcae_soc"] = frame["ctcae_soc"].fillna("Unclassified")
    for column in ("rt_relation", "systemic_relation"):
        if column in frame:
            words = {w: normalise_relation(w) for w in frame[column].dropna().unique()}
            frame[column] = frame[column].map(words)
    if "grade" in frame:
        frame["grade"] = pd.to_numeric(frame["grade"]).astype("Int64")
    if "evidence" in frame:
        frame["evidence"] = frame["evidence"].map(_json)
    return frame


def soc_of_terms(terms: Any) -> dict[str, str]:
    """CTCAE SOC of each term, for rows stored without one (lab-derived AEs)."""
    try:
        from aewatch.ctcae.dictionary import load_dictionary
    except ImportError:
        return {}
    dictionary = load_dictionary()
    found = {term: dictionary.lookup(term) for term in terms}
    return {term: entry.soc for term, entry in found.items() if entry is not None}


def normalise_relation(value: object) -> str | None:
    """Lower-case the five-level scale; any other non-empty word counts as possible, as in
    the alert rules (aewatch.alerts.requests): relatedness not ruled out is reported."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    word = str(value).strip().lower()
    if not word:
        return None
    return word if word in RELATIONS else "possible"


def _labs(session: Session, trial_pk: int, as_of: datetime | None) -> pd.DataFrame:
    frame = run_query(
        session,
        "SELECT s.subject_id, l.test_code, l.value, l.unit, l.lower_limit, l.upper_limit,"
        " l.collected_on, l.baseline_flag, l.tox_term_low, l.tox_grade_low, l.tox_term_high,"
        " l.tox_grade_high FROM lab_results l JOIN subjects s ON s.id = l.subject_pk"
        " WHERE s.trial_pk = :trial AND l.implausible IS NULL",  # queried, never tabulated
        {"trial": trial_pk},
        dates=("collected_on",),
        bools=("baseline_flag",),
    )
    if as_of is not None:
        frame = frame[frame["collected_on"].isna() | (frame["collected_on"] <= _cut_day(as_of))]
    for column in ("tox_grade_low", "tox_grade_high"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    return frame.reset_index(drop=True)


def _alerts(session: Session, trial_pk: int, as_of: datetime | None) -> pd.DataFrame:
    params: dict[str, Any] = {"trial": trial_pk}
    where = "trial_pk = :trial"
    if as_of is not None:
        where += " AND created_at <= :as_of"
        params["as_of"] = as_of
    return run_query(
        session,
        "SELECT id, kind, priority, subject_id, status, created_at, sent_at, requires_ack,"
        f" acknowledged_at, escalation_level FROM alerts WHERE {where} ORDER BY id",
        params,
        times=("created_at", "sent_at", "acknowledged_at"),
        bools=("requires_ack",),
    )


def _rule_status(session: Session, trial_pk: int, as_of: datetime | None) -> pd.DataFrame:
    params: dict[str, Any] = {"trial": trial_pk}
    where = "trial_pk = :trial"
    if as_of is not None:
        where += " AND evaluated_at <= :as_of"
        params["as_of"] = as_of
    frame = run_query(
        session,
        "SELECT id, rule_name, evaluated_at, evaluable_n, toxic_n, stop_at, cushion, state,"
        f" previous_state, detail FROM rule_status WHERE {where} ORDER BY id",
        params,
        times=("evaluated_at",),
    )
    frame["detail"] = frame["detail"].map(_json)
    return frame


def _quarantine(session: Session, trial_pk: int, as_of: datetime | None) -> pd.DataFrame:
    params: dict[str, Any] = {"trial": trial_pk}
    where = "(trial_pk = :trial OR trial_pk IS NULL)"
    if as_of is not None:
        where += " AND created_at <= :as_of"
        params["as_of"] = as_of
    return run_query(
        session,
        "SELECT id, file_name, row_number, domain, subject_id, field, reason, kind, state,"
        f" created_at, resolved_at FROM quarantine WHERE {where} ORDER BY id",
        params,
        times=("created_at", "resolved_at"),
    )


def _sites(session: Session, trial_pk: int) -> pd.DataFrame:
    return run_query(
        session,
        "SELECT site_code, first_data_at, last_data_at FROM sites WHERE trial_pk = :trial"
        " ORDER BY site_code",
        {"trial": trial_pk},
        times=("first_data_at", "last_data_at"),
    )


def run_query(
    session: Session,
    sql: str,
    params: dict[str, Any],
    *,
    dates: tuple[str, ...] = (),
    times: tuple[str, ...] = (),
    bools: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Raw rows → typed frame. SQLite returns dates as text, PostgreSQL as objects."""
    statement = text(sql)
    if "as_of" in params:
        # Stored as naive UTC on SQLite (models.UTCDateTime), aware on PostgreSQL; not
        # importing the ORM models keeps `aewatch counts` start-up short.
        statement = statement.bindparams(bindparam("as_of", type_=DateTime(timezone=True)))
        as_of = params["as_of"].astimezone(UTC)
        sqlite = session.get_bind().dialect.name == "sqlite"
        params = {**params, "as_of": as_of.replace(tzinfo=None) if sqlite else as_of}
    if session.get_bind().dialect.name == "sqlite":
        # Dates are ISO text in SQLite; bind them as text (the driver's adapter is deprecated).
        params = {k: v.isoformat() if type(v) is date else v for k, v in params.items()}
    result = session.execute(statement, params)
    # Raw DBAPI tuples: building a frame from SQLAlchemy Row objects is several times slower.
    frame = pd.DataFrame(result.cursor.fetchall(), columns=list(result.keys()))
    result.close()
    for column in dates:
        frame[column] = pd.to_datetime(frame[column], format="ISO8601").astype("datetime64[ns]")
    for column in times:
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    for column in bools:
        frame[column] = frame[column].fillna(False).astype(bool)
    return frame


def _cut_day(as_of: datetime) -> pd.Timestamp:
    """Dated clinical rows carry a day, not a time: the cut's UTC day is included."""
    return pd.Timestamp(as_of.date())


def _json(value: Any) -> Any:
    if isinstance(value, str):
        import json

        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
