"""Glue between ingest and the pure CTCAE engine (aewatch.ctcae), run inside the
ingest transaction: code AE terms, check reported grades, compute radiotherapy dose,
grade the labs of touched subjects, and derive AEs the site did not report (lab
grades ≥ the configured level, RILD, Hy's law)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from aewatch.alerts.requests import AlertRequest
from aewatch.config import Settings
from aewatch.db import fast_frame, frame_of
from aewatch.ingest.validate import Fault
from aewatch.models import AdverseEvent, AeVersion, LabResult, RtCourse, Subject

TOX_COLUMNS = ("tox_term_low", "tox_grade_low", "tox_term_high", "tox_grade_high", "tox_note")


def code_adverse_events(
    frame: pd.DataFrame, settings: Settings
) -> tuple[pd.DataFrame, list[Fault]]:
    """Add CTCAE coding and the counting grade; coding doubts and reported-grade problems
    become data queries (the row is kept; nothing is silently changed)."""
    from aewatch.ctcae import DICTIONARY_VERSION
    from aewatch.ctcae.dictionary import code_terms
    from aewatch.ctcae.reported import check_reported_grades

    frame = frame.copy()
    coded = code_terms(
        pd.DataFrame(
            {
                "AEDECOD": frame["decoded_term"],
                "AETERM": frame["verbatim_term"],
                "AEBODSYS": frame["body_system"],
            },
            index=frame.index,
        )
    )
    frame["ctcae_term"] = coded["ctcae_term"]
    frame["ctcae_soc"] = coded["ctcae_soc"].fillna(frame["body_system"])
    frame["meddra_code"] = pd.to_numeric(coded["meddra_code"], errors="coerce").astype("Int64")
    frame["coding"] = coded["coding"]
    frame["grade"] = frame["reported_grade"]
    frame["dictionary_version"] = DICTIONARY_VERSION
    faults: list[Fault] = []
    review = coded["coding"] != "exact"
    for label in frame.index[review.to_numpy()]:
        faults.append(
            Fault(
                int(frame.at[label, "ROW"]),
                "AEDECOD",
                _text(frame.at[label, "decoded_term"]) or _text(frame.at[label, "verbatim_term"]),
                str(coded.at[label, "coding_note"] or "term is not a CTCAE v5.0 term: review"),
                kind="query",
                subject=frame.at[label, "USUBJID"],
            )
        )
    problems = check_reported_grades(
        pd.DataFrame(
            {
                "ctcae_term": frame["ctcae_term"],
                "grade": frame["reported_grade"],
                "outcome": frame["outcome"],
                "death": frame["death"],
            },
            index=frame.index,
        )
    )
    for problem in problems.itertuples(index=False):
        if problem.field == "ctcae_term":
            continue  # an uncoded term already has its coding query
        label = problem.index
        faults.append(
            Fault(
                int(frame.at[label, "ROW"]),
                str(problem.field),
                None if pd.isna(problem.value) else str(problem.value),
                str(problem.reason),
                kind="query",
                subject=frame.at[label, "USUBJID"],
            )
        )
    return frame, faults


def course_doses(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """BED and EQD2 per course (LQ model, α/β from the trial config); a course below the
    protocol minimum (BED ≥ 60 Gy₁₀) is flagged as a deviation."""
    from aewatch.ctcae.dose import bed, bed_deviation, eqd2_from_bed

    frame = frame.copy()
    ab = settings.radiotherapy.alpha_beta_gy
    d = frame["dose_per_fraction_gy"].astype("float64").to_numpy()
    n = frame["fractions"].astype("float64").to_numpy()
    beds = np.asarray(bed(d, n, ab), dtype=float)
    frame["total_dose_gy"] = d * n
    frame["bed_gy"] = np.round(beds, 6)
    frame["eqd2_gy"] = np.round(np.asarray(eqd2_from_bed(beds, ab), dtype=float), 6)
    frame["alpha_beta_gy"] = ab
    deviation = np.asarray(bed_deviation(beds, settings.radiotherapy.min_bed_gy), dtype=bool)
    frame["bed_below_minimum"] = deviation & ~np.isnan(beds)
    return frame


@dataclass
class Derived:
    """What grading added in this transaction: derived AE versions and their alerts."""

    new_ae_versions: list[int] = field(default_factory=list)
    alerts: list[AlertRequest] = field(default_factory=list)


def derive_events(
    session: Session,
    settings: Settings,
    trial_pk: int,
    lab_subjects: set[int],
    subjects: set[int],
    now: datetime,
) -> Derived:
    """Grade the labs of touched subjects; derive lab AEs and liver syndromes as AEs."""
    derived = Derived()
    if not subjects:
        return derived
    context = _SubjectData.load(session, subjects | lab_subjects)
    if context.labs.empty:
        return derived
    graded = _grade(context, settings)
    # Not only new labs: a new RT course or DM record moves the baseline, so every touched
    # subject is regraded; only grades that changed are written.
    _store_grades(session, graded)
    lab_events = _lab_derived_events(graded, context, settings)
    syndromes = _liver_syndromes(context, settings)
    from aewatch.ingest.store import store_adverse_events

    for origin, events in (("lab", lab_events), ("syndrome", syndromes)):
        if events.empty:
            continue
        result = store_adverse_events(
            session, trial_pk, events, context.subject_pks, None, now, now, origin=origin
        )
        derived.new_ae_versions.extend(result.new_ae_versions)
        derived.alerts.extend(_alerts_for(session, result.new_ae_versions, settings, now))
    return derived


@dataclass
class _SubjectData:
    subject_pks: dict[str, int]
    labs: pd.DataFrame
    ae: pd.DataFrame
    courses: pd.DataFrame
    ref_start: dict[str, Any]

    @classmethod
    def load(cls, session: Session, pks: set[int]) -> _SubjectData:
        ids = list(pks)
        subjects = session.execute(
            select(Subject.id, Subject.subject_id, Subject.reference_start).where(
                Subject.id.in_(ids)
            )
        ).all()
        subject_pks = {s.subject_id: s.id for s in subjects}
        by_pk = {s.id: s.subject_id for s in subjects}
        labs = fast_frame(
            session,
            select(
                LabResult.id,
                LabResult.subject_pk,
                LabResult.test_code,
                LabResult.value,
                LabResult.unit,
                LabResult.lower_limit,
                LabResult.upper_limit,
                LabResult.collected_dtc,
                LabResult.baseline_flag,
                *[getattr(LabResult, c) for c in TOX_COLUMNS],
            ).where(LabResult.subject_pk.in_(ids)),
            columns=[
                "lab_pk",
                "subject_pk",
                "LBTESTCD",
                "LBSTRESN",
                "LBSTRESU",
                "LBSTNRLO",
                "LBSTNRHI",
                "LBDTC",
                "baseline_flag",
                *[f"old_{c}" for c in TOX_COLUMNS],
            ],
        )
        labs["USUBJID"] = labs["subject_pk"].map(by_pk)
        labs["LBBLFL"] = np.where(labs["baseline_flag"].astype(bool), "Y", "")
        courses = frame_of(
            session,
            select(RtCourse.subject_pk, RtCourse.start_on, RtCourse.end_on).where(
                RtCourse.subject_pk.in_(ids)
            ),
            ["subject_pk", "start_on", "end_on"],
        )
        courses["USUBJID"] = courses["subject_pk"].map(by_pk)
        ae = frame_of(
            session,
            select(
                AdverseEvent.subject_pk,
                AdverseEvent.origin,
                AeVersion.ctcae_term,
                AeVersion.grade,
                AeVersion.onset_on,
                AeVersion.end_on,
            )
            .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
            .where(AdverseEvent.subject_pk.in_(ids)),
            ["subject_pk", "origin", "ctcae_term", "grade", "onset_on", "end_on"],
        )
        ae["USUBJID"] = ae["subject_pk"].map(by_pk)
        ae["AESTDTC"] = ae["onset_on"].map(lambda d: d.isoformat() if d else None)
        ae["AEENDTC"] = ae["end_on"].map(lambda d: d.isoformat() if d else None)
        # Baseline reference: the first RT start (this trial), else DM.RFXSTDTC.
        ref = {s.subject_id: s.reference_start for s in subjects if s.reference_start}
        if not courses.empty:
            first = courses.dropna(subset=["start_on"]).groupby("USUBJID")["start_on"].min()
            ref.update(first.to_dict())
        return cls(subject_pks, labs, ae, courses, ref)


def _grade(context: _SubjectData, settings: Settings) -> pd.DataFrame:
    from aewatch.ctcae.labs import derive_baseline, grade_labs

    labs = context.labs
    ref = pd.Series({k: pd.Timestamp(v) for k, v in context.ref_start.items()}, dtype=object)
    baseline = derive_baseline(labs, ref if len(ref) else None)
    grades = grade_labs(labs, baseline)
    out = pd.concat([labs, grades], axis=1)
    base_rows = set(baseline["BASEROW"].tolist()) if "BASEROW" in baseline else set()
    out["is_baseline"] = out.index.isin(list(base_rows))
    return out


def _store_grades(session: Session, graded: pd.DataFrame) -> int:
    """Write grades that changed (a new baseline can regrade old rows)."""
    from aewatch.ctcae import DICTIONARY_VERSION

    changed = np.zeros(len(graded), dtype=bool)
    for column in TOX_COLUMNS:
        new = graded[column].astype(object).where(graded[column].notna(), None)
        old = graded[f"old_{column}"].astype(object).where(graded[f"old_{column}"].notna(), None)
        changed |= (new.astype(str) != old.astype(str)).to_numpy()
    rows = graded.loc[changed]
    if rows.empty:
        return 0
    values = rows[[*TOX_COLUMNS, "lab_pk"]].astype(object)
    values = values.where(values.notna(), None)
    tuples = [
        (*(_plain(v) for v in record[:-1]), DICTIONARY_VERSION, int(record[-1]))
        for record in values.itertuples(index=False, name=None)
    ]
    columns = (*TOX_COLUMNS, "dictionary_version")
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # Plain text and integers: the driver's executemany needs no bind processing,
        # which is most of the time of regrading a whole lab file.
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(
                f"UPDATE lab_results SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?",
                tuples,
            )
        finally:
            cursor.close()
        return len(tuples)
    table = LabResult.__table__
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({c: bindparam(c) for c in columns}),
        [{**dict(zip(columns, t[:-1], strict=True)), "b_id": t[-1]} for t in tuples],
    )
    return len(tuples)


def _lab_derived_events(
    graded: pd.DataFrame, context: _SubjectData, settings: Settings
) -> pd.DataFrame:
    """Worst post-baseline lab grade ≥ the configured level, per subject and CTCAE term,
    where the site reported no AE with that term: an AE flagged "lab-derived"."""
    level = settings.grading.lab_derived_ae_min_grade
    parts = []
    for direction in ("low", "high"):
        part = graded[["USUBJID", "LBDTC", "is_baseline", "lab_pk"]].copy()
        part["term"] = graded[f"tox_term_{direction}"]
        part["lab_grade"] = pd.to_numeric(graded[f"tox_grade_{direction}"], errors="coerce")
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    long = long[(long["lab_grade"] >= level) & ~long["is_baseline"] & long["term"].notna()]
    if long.empty:
        return pd.DataFrame()
    long["day"] = long["LBDTC"].astype(str).str[:10]
    ref = pd.Series(context.ref_start).map(lambda d: d.isoformat()) if context.ref_start else None
    if ref is not None:
        starts = long["USUBJID"].map(ref)
        long = long[starts.isna() | (long["day"] >= starts.fillna(""))]
    long = long.sort_values(
        ["USUBJID", "term", "lab_grade", "day"], ascending=[True, True, False, True]
    )
    worst = long.drop_duplicates(["USUBJID", "term"], keep="first")
    site = context.ae[context.ae["origin"] == "site"]
    reported = set(zip(site["USUBJID"], site["ctcae_term"], strict=True))
    worst = worst[
        [(s, t) not in reported for s, t in zip(worst["USUBJID"], worst["term"], strict=True)]
    ]
    if worst.empty:
        return pd.DataFrame()
    from aewatch.ctcae.dictionary import load_dictionary

    dictionary = load_dictionary()
    events = pd.DataFrame(
        {
            "USUBJID": worst["USUBJID"].to_numpy(),
            "ae_key": ("LAB:" + worst["term"]).to_numpy(),
            "ctcae_soc": [getattr(dictionary.lookup(t), "soc", None) for t in worst["term"]],
            "verbatim_term": worst["term"].to_numpy(),
            "decoded_term": worst["term"].to_numpy(),
            "ctcae_term": worst["term"].to_numpy(),
            "reported_grade": pd.array([None] * len(worst), dtype="Int64"),
            "grade": pd.array(worst["lab_grade"].astype(int).to_numpy(), dtype="Int64"),
            "onset_on": pd.to_datetime(worst["day"]).to_numpy(),
            "onset_precision": "day",
            "coding": "exact",
            "evidence": [
                {
                    "source": "lab-derived, not site-reported",
                    "lab_result_id": int(pk),
                    "grade": int(g),
                    "date": day,
                }
                for pk, g, day in zip(
                    worst["lab_pk"], worst["lab_grade"], worst["day"], strict=True
                )
            ],
            "ROW": None,
        }
    )
    return _with_dictionary(events)


def _liver_syndromes(context: _SubjectData, settings: Settings) -> pd.DataFrame:
    from aewatch.ctcae.hepatic import detect_hys_law, detect_rild, liver_timeline

    window = settings.grading.rild_window_days
    courses = context.courses.dropna(subset=["start_on"])
    site_ae = context.ae[context.ae["origin"] == "site"]
    frames = []
    if not courses.empty:
        timeline = liver_timeline(context.labs, site_ae, courses, window)
        frames.append(detect_rild(timeline, window))
    frames.append(detect_hys_law(context.labs, settings.grading.hys_law_window_days))
    events = (
        pd.concat([f for f in frames if not f.empty], ignore_index=True)
        if any(not f.empty for f in frames)
        else pd.DataFrame()
    )
    if events.empty:
        return events
    out = pd.DataFrame(
        {
            "USUBJID": events["USUBJID"].to_numpy(),
            "ae_key": ("SYNDROME:" + events["event"].astype(str)).to_numpy(),
            "verbatim_term": events["event"].to_numpy(),
            "decoded_term": events["event"].to_numpy(),
            "ctcae_term": events["event"].to_numpy(),
            "ctcae_soc": "Hepatobiliary disorders",
            "reported_grade": pd.array([None] * len(events), dtype="Int64"),
            "grade": pd.array([None] * len(events), dtype="Int64"),
            "onset_on": pd.to_datetime(events["onset_date"]).to_numpy(),
            "onset_precision": "day",
            "coding": "derived",
            "evidence": [
                {"summary": str(text), "items": items if isinstance(items, dict) else {}}
                for text, items in zip(events["evidence"], events["evidence_items"], strict=True)
            ],
            "ROW": None,
        }
    )
    return _with_dictionary(out)


def _with_dictionary(frame: pd.DataFrame) -> pd.DataFrame:
    from aewatch.ctcae import DICTIONARY_VERSION

    frame["dictionary_version"] = DICTIONARY_VERSION
    for column in (
        "serious",
        "death",
        "life_threatening",
        "hospitalisation",
        "disability",
        "congenital_anomaly",
        "medically_important",
    ):
        frame[column] = False
    return frame


def _alerts_for(
    session: Session, version_ids: list[int], settings: Settings, now: datetime
) -> list[AlertRequest]:
    """Alerts for derived AEs: liver syndromes always, lab-derived grades when unreported."""
    from aewatch.alerts.rules import DerivedEvent, derived_event_alerts
    from aewatch.consequences import rt_starts

    if not version_ids:
        return []
    rows = session.execute(
        select(AeVersion, AdverseEvent, Subject)
        .join(AdverseEvent, AeVersion.ae_pk == AdverseEvent.id)
        .join(Subject, AdverseEvent.subject_pk == Subject.id)
        .where(AeVersion.id.in_(version_ids))
    ).all()
    starts = rt_starts(session, {s.id for _, _, s in rows})
    kinds = {"RILD (classic)": "rild-classic", "RILD (non-classic)": "rild-non-classic"}
    events = []
    for version, ae, subject in rows:
        term = version.ctcae_term or ""
        kind = "lab-derived" if ae.origin == "lab" else kinds.get(term, "hys-law")
        start = starts.get(subject.id) or subject.reference_start
        day = (version.onset_on - start).days + 1 if version.onset_on and start else None
        evidence = version.evidence or {}
        text = evidence.get("summary") or f"{term} grade {version.grade} from laboratory values"
        events.append(
            DerivedEvent(
                kind=kind,
                trial_id=settings.trial.id,
                site=subject.site,
                subject_id=subject.subject_id,
                event_key=f"{ae.ae_key}:v{version.version}",
                term=term,
                grade=version.grade,
                study_day=day,
                evidence=text,
            )
        )
    return derived_event_alerts(events, settings, now)


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) or value == "" else str(value)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    return value
