"""Read one trial's data at one data cut into DataFrames: the only place reports touch SQL.

One SELECT per table, straight from the DBAPI cursor into pandas: ORM objects would
cost seconds on 200,000 AEs. The cut (``aewatch.reports.datacut``) has two parts,
applied to every data type alike: the *clinical* cut keeps events dated on or before
its day (AE onset, lab collection, enrolment, RT start, death, disposition), and the
*knowledge* time keeps what was recorded by then (an AE is its latest version recorded
by that time; other rows count from when they were first recorded). So a month's
report counts an AE entered after the month end about an onset inside it, and a report
replayed at the knowledge time it states gives the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

import pandas as pd
from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.orm import Session

from aewatch.reports.datacut import DataCut
from aewatch.safety.onsets import impute_onsets
from aewatch.safety.relatedness import normalise_relation
from aewatch.store.set_aside import COUNTED_SQL

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
    "onset_precision",
    "onset_until",
    "end_on",
    "aware_at",
    "aware_at_supplied",
    "dictionary_version",
    "evidence",
    "set_aside",
)
# The lean set `aewatch counts` needs: fewer columns, no JSON to parse.
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
    cut: DataCut
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
    dispositions: pd.DataFrame = field(default_factory=pd.DataFrame)
    # What the stopping rules are evaluated on (aewatch.store.rule_inputs), at this cut.
    rule_patients: pd.DataFrame = field(default_factory=pd.DataFrame)
    rule_events: pd.DataFrame = field(default_factory=pd.DataFrame)


def load_snapshot(
    session: Session, trial_pk: int, cut: DataCut | None, *, facts_only: bool = False
) -> Snapshot:
    """All tables of one trial at ``cut`` (None: everything stored now, of any date).

    ``facts_only``: what the headline facts need (subjects, courses, current AEs, DS,
    the rules' inputs), for "since last month"; labs, alerts and the rest stay empty."""
    from aewatch.store.rule_inputs import load_events, load_patients

    cut = cut or DataCut()
    history = _ae_versions(session, trial_pk, cut, AE_COLUMNS, latest_only=facts_only)
    rt_courses = load_rt_courses(session, trial_pk, cut)
    history = impute_partial_onsets(history, rt_courses)
    dispositions = load_dispositions(session, trial_pk, cut)
    empty = pd.DataFrame()
    return Snapshot(
        trial_pk=trial_pk,
        cut=cut,
        subjects=load_subjects(session, trial_pk, cut, dispositions),
        rt_courses=rt_courses,
        exposure=empty if facts_only else load_exposure(session, trial_pk, cut),
        ae=history if facts_only else latest_versions(history),
        ae_history=history,
        labs=empty if facts_only else _labs(session, trial_pk, cut),
        alerts=empty if facts_only else _alerts(session, trial_pk, cut),
        rule_status=empty if facts_only else _rule_status(session, trial_pk, cut),
        quarantine=empty if facts_only else _quarantine(session, trial_pk, cut),
        sites=empty if facts_only else _sites(session, trial_pk, cut),
        dispositions=dispositions,
        rule_patients=load_patients(session, trial_pk, cut.known_at),
        rule_events=load_events(session, trial_pk, cut.known_at),
    )


def impute_partial_onsets(ae: pd.DataFrame, rt_courses: pd.DataFrame) -> pd.DataFrame:
    """``onset_on`` as counted: a partial onset whose period contains the patient's first
    RT day is taken as that day (aewatch.safety.onsets); ``onset_precision`` still says
    it is partial, so it is shown as ``2026-03 (month)``."""
    if ae.empty or "onset_until" not in ae:
        return ae
    first = rt_courses.groupby("subject_id")["start_on"].min() if not rt_courses.empty else {}
    first_rt = pd.to_datetime(ae["subject_id"].map(first))
    out = ae.copy()
    out["onset_on"] = impute_onsets(
        pd.to_datetime(ae["onset_on"]), pd.to_datetime(ae["onset_until"]), first_rt
    )
    return out


def load_adverse_events(
    session: Session,
    trial_pk: int,
    cut: DataCut | None,
    columns: tuple[str, ...] = COUNT_COLUMNS,
) -> pd.DataFrame:
    """One row per AE identity (its latest version at the cut), selected columns only."""
    return _ae_versions(session, trial_pk, cut or DataCut(), columns, latest_only=True)


def latest_versions(history: pd.DataFrame) -> pd.DataFrame:
    """A new version of the same AE is a correction: the latest one wins (domain §5); an AE
    whose latest version is set aside (aewatch.store.set_aside) counts nowhere."""
    if history.empty:
        return history.copy()
    ordered = history.sort_values(["ae_pk", "version"])
    latest = ordered.drop_duplicates("ae_pk", keep="last")
    if "set_aside" in latest:
        latest = latest[latest["set_aside"].isna()]
    return latest.reset_index(drop=True)


def load_subjects(
    session: Session,
    trial_pk: int,
    cut: DataCut | None,
    dispositions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Subjects enrolled by the clinical cut (or not dated), with their death and
    withdrawal dates taken over DM and DS (``aewatch.safety.disposition``)."""
    from aewatch.safety.disposition import end_of_follow_up

    cut = cut or DataCut()
    params: dict[str, Any] = {"trial": trial_pk}
    frame = run_query(
        session,
        "SELECT s.id AS subject_pk, s.subject_id, s.site, s.enrolled_on, s.oligoprogression,"
        " s.systemic_therapy, s.died_on, s.withdrawn_on, s.last_contact_on, s.created_at"
        f" FROM subjects s WHERE s.trial_pk = :trial{_known(cut, 's.created_at', params)}"
        " ORDER BY s.subject_id",
        params,
        dates=("enrolled_on", "died_on", "withdrawn_on", "last_contact_on"),
        times=("created_at",),
    )
    if dispositions is None:
        dispositions = load_dispositions(session, trial_pk, cut)
    frame = end_of_follow_up(frame, dispositions)
    if cut.clinical_day is not None:
        day = pd.Timestamp(cut.clinical_day)
        frame = frame[frame["enrolled_on"].isna() | (frame["enrolled_on"] <= day)].copy()
        for column in ("died_on", "withdrawn_on", "lost_on", "left_on", "last_contact_on"):
            frame.loc[frame[column] > day, column] = pd.NaT
        frame.loc[frame["died_on"].isna(), "death_recorded_in"] = None
    return frame.reset_index(drop=True)


def load_rt_courses(session: Session, trial_pk: int, cut: DataCut | None) -> pd.DataFrame:
    """Courses started by the clinical cut and known at the knowledge time (one per lesion
    and series, built from EX records)."""
    cut = cut or DataCut()
    params: dict[str, Any] = {"trial": trial_pk}
    frame = run_query(
        session,
        "SELECT r.id AS course_pk, s.subject_id, r.course_key, r.lesion, r.lesion_key,"
        " r.course_number, r.treatment, r.dose_per_fraction_gy, r.fractions,"
        " r.fraction_doses, r.total_dose_gy, r.start_on, r.end_on, r.bed_gy, r.eqd2_gy,"
        " r.records, r.dose_status, r.completed, r.liver_involved, r.bed_below_minimum,"
        " r.created_at FROM rt_courses r JOIN subjects s ON s.id = r.subject_pk"
        f" WHERE s.trial_pk = :trial{_known(cut, 'r.created_at', params)}"
        " ORDER BY s.subject_id, r.start_on, r.course_key",
        params,
        dates=("start_on", "end_on"),
        times=("created_at",),
        bools=("bed_below_minimum", "completed"),
    )
    frame["fraction_doses"] = frame["fraction_doses"].map(_json)
    frame["liver_involved"] = frame["liver_involved"].map(
        lambda v: None if v is None or v != v else bool(v)
    )
    if cut.clinical_day is not None:
        day = pd.Timestamp(cut.clinical_day)
        frame = frame[frame["start_on"].isna() | (frame["start_on"] <= day)]
    return frame.reset_index(drop=True)


def load_exposure(session: Session, trial_pk: int, cut: DataCut | None) -> pd.DataFrame:
    """EX records (radiotherapy fractions, intervals, courses and systemic dosing) that
    started by the clinical cut and were known at the knowledge time, with the course
    each belongs to."""
    cut = cut or DataCut()
    params: dict[str, Any] = {"trial": trial_pk}
    frame = run_query(
        session,
        "SELECT e.id AS record_pk, s.subject_id, e.category, e.agent, e.treatment, e.lesion,"
        " e.dose, e.dose_unit, e.fractions, e.dose_frequency, e.adjustment, e.start_on,"
        " e.end_on, e.course_pk, e.created_at FROM ex_records e"
        " JOIN subjects s ON s.id = e.subject_pk"
        f" WHERE s.trial_pk = :trial{_known(cut, 'e.created_at', params)}"
        " ORDER BY s.subject_id, e.start_on, e.id",
        params,
        dates=("start_on", "end_on"),
        times=("created_at",),
    )
    if cut.clinical_day is not None:
        day = pd.Timestamp(cut.clinical_day)
        frame = frame[frame["start_on"].isna() | (frame["start_on"] <= day)]
    return frame.reset_index(drop=True)


def load_dispositions(session: Session, trial_pk: int, cut: DataCut | None) -> pd.DataFrame:
    """DS records dated on or before the clinical cut (DSSTDTC), as known at the cut."""
    cut = cut or DataCut()
    params: dict[str, Any] = {"trial": trial_pk}
    frame = run_query(
        session,
        "SELECT s.subject_id, s.site, d.category, d.decoded_term, d.disposition, d.start_on,"
        " d.created_at FROM dispositions d JOIN subjects s ON s.id = d.subject_pk"
        f" WHERE s.trial_pk = :trial{_known(cut, 'd.created_at', params)}"
        " ORDER BY s.subject_id, d.start_on",
        params,
        dates=("start_on",),
        times=("created_at",),
    )
    if cut.clinical_day is not None:
        frame = frame[frame["start_on"] <= pd.Timestamp(cut.clinical_day)]
    return frame.reset_index(drop=True)


def _ae_versions(
    session: Session,
    trial_pk: int,
    cut: DataCut,
    columns: tuple[str, ...],
    latest_only: bool,
) -> pd.DataFrame:
    """AE versions known at the cut, of AEs whose latest known version has its onset on or
    before the clinical day (an AE with no onset date is kept: it may be in the period)."""
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
    if cut.known_at is not None:
        where += " AND v.recorded_at <= :as_of"
        params["as_of"] = cut.known_at
    if latest_only:
        where += f" AND {COUNTED_SQL}"  # a derived AE set aside counts nowhere
    if latest_only and cut.known_at is None:
        where += " AND v.is_current = :yes"
        params["yes"] = True
    elif latest_only:
        # Latest version recorded by the cut: a correction after it is not yet known.
        where += (
            " AND v.version = (SELECT MAX(w.version) FROM ae_versions w"
            " WHERE w.ae_pk = v.ae_pk AND w.recorded_at <= :as_of)"
        )
    if latest_only and cut.clinical_day is not None:
        where += " AND (v.onset_on IS NULL OR v.onset_on <= :cut_day)"
        params["cut_day"] = cut.clinical_day
    selected = list(columns)
    if not latest_only and cut.clinical_day is not None:
        for needed in ("ae_pk", "version", "onset_on"):
            if needed not in selected:
                selected.append(needed)
        select_list = ", ".join(f"{source.get(c, 'v.' + c)} AS {c}" for c in selected)
    sql = (
        f"SELECT {select_list} FROM ae_versions v JOIN adverse_events a ON a.id = v.ae_pk"
        f" JOIN subjects s ON s.id = a.subject_pk WHERE {where}"
    )
    frame = run_query(
        session,
        sql,
        params,
        dates=tuple(c for c in ("onset_on", "onset_until", "end_on") if c in selected),
        times=tuple(c for c in ("recorded_at", "aware_at") if c in selected),
        bools=tuple(c for c in AE_FLAGS if c in selected),
    )
    if not latest_only and cut.clinical_day is not None:
        latest = latest_versions(frame)
        onset = latest["onset_on"]
        inside = latest.loc[onset.isna() | (onset <= pd.Timestamp(cut.clinical_day)), "ae_pk"]
        frame = frame[frame["ae_pk"].isin(inside)][list(columns)].reset_index(drop=True)
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
    if "aware_at_supplied" in frame:  # True / False / None (recorded before it was kept)
        frame["aware_at_supplied"] = frame["aware_at_supplied"].map(
            lambda v: None if v is None or v != v else bool(v)
        )
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


def _labs(session: Session, trial_pk: int, cut: DataCut) -> pd.DataFrame:
    params: dict[str, Any] = {"trial": trial_pk}
    frame = run_query(
        session,
        "SELECT s.subject_id, l.test_code, l.value, l.unit, l.lower_limit, l.upper_limit,"
        " l.collected_on, l.baseline_flag, l.tox_term_low, l.tox_grade_low, l.tox_term_high,"
        " l.tox_grade_high, l.created_at FROM lab_results l JOIN subjects s ON s.id = l.subject_pk"
        " WHERE s.trial_pk = :trial AND l.implausible IS NULL"  # queried, never tabulated
        f"{_known(cut, 'l.created_at', params)}",
        params,
        dates=("collected_on",),
        times=("created_at",),
        bools=("baseline_flag",),
    )
    if cut.clinical_day is not None:
        day = pd.Timestamp(cut.clinical_day)
        frame = frame[frame["collected_on"].isna() | (frame["collected_on"] <= day)]
    for column in ("tox_grade_low", "tox_grade_high"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    return frame.reset_index(drop=True)


def _alerts(session: Session, trial_pk: int, cut: DataCut) -> pd.DataFrame:
    """Alerts queued by the knowledge time; sending and acknowledgement as known then."""
    params: dict[str, Any] = {"trial": trial_pk}
    frame = run_query(
        session,
        "SELECT id, kind, priority, subject_id, status, created_at, sent_at, requires_ack,"
        " acknowledged_at, escalation_level, report_due_at FROM alerts"
        f" WHERE trial_pk = :trial{_known(cut, 'created_at', params)} ORDER BY id",
        params,
        times=("created_at", "sent_at", "acknowledged_at", "report_due_at"),
        bools=("requires_ack",),
    )
    if cut.known_at is not None:
        known = pd.Timestamp(cut.known_at)
        for column in ("sent_at", "acknowledged_at"):
            frame.loc[frame[column] > known, column] = pd.NaT
    return frame


def _rule_status(session: Session, trial_pk: int, cut: DataCut) -> pd.DataFrame:
    params: dict[str, Any] = {"trial": trial_pk}
    frame = run_query(
        session,
        "SELECT id, rule_name, evaluated_at, evaluable_n, toxic_n, stop_at, cushion, state,"
        " previous_state, detail FROM rule_status"
        f" WHERE trial_pk = :trial{_known(cut, 'evaluated_at', params)} ORDER BY id",
        params,
        times=("evaluated_at",),
    )
    frame["detail"] = frame["detail"].map(_json)
    return frame


def _quarantine(session: Session, trial_pk: int, cut: DataCut) -> pd.DataFrame:
    """Quarantine rows created by the knowledge time, open unless resolved by then."""
    params: dict[str, Any] = {"trial": trial_pk}
    frame = run_query(
        session,
        "SELECT id, file_name, row_number, domain, subject_id, field, reason, kind, state,"
        " created_at, resolved_at FROM quarantine WHERE (trial_pk = :trial OR trial_pk IS NULL)"
        f"{_known(cut, 'created_at', params)} ORDER BY id",
        params,
        times=("created_at", "resolved_at"),
    )
    if cut.known_at is not None:
        later = frame["resolved_at"] > pd.Timestamp(cut.known_at)
        frame.loc[later, "state"] = "open"
        frame.loc[later, "resolved_at"] = pd.NaT
    return frame


def _sites(session: Session, trial_pk: int, cut: DataCut) -> pd.DataFrame:
    params: dict[str, Any] = {"trial": trial_pk}
    frame = run_query(
        session,
        "SELECT site_code, first_data_at, last_data_at FROM sites WHERE trial_pk = :trial"
        f"{_known(cut, 'first_data_at', params)} ORDER BY site_code",
        params,
        times=("first_data_at", "last_data_at"),
    )
    if cut.known_at is not None:
        later = frame["last_data_at"] > pd.Timestamp(cut.known_at)
        frame.loc[later, "last_data_at"] = pd.NaT  # not known then; see conduct.data_currency
    return frame


def _known(cut: DataCut, column: str, params: dict[str, Any]) -> str:
    """The knowledge cut as a WHERE clause (rows without a record time count as known)."""
    if cut.known_at is None:
        return ""
    params["as_of"] = cut.known_at
    return f" AND ({column} IS NULL OR {column} <= :as_of)"


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


def _json(value: Any) -> Any:
    if isinstance(value, str):
        import json

        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
