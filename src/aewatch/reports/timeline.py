"""One patient's safety story for `aewatch subject ID`: RT courses with their fractions,
systemic therapy, AEs with their grade history, lab grades, disposition events and
alerts, in the order staff would read them, at the same data cut as `counts`, `status`
and the DSMB report (aewatch.reports.datacut)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from aewatch.reports.datacut import DataCut
from aewatch.reports.snapshot import load_snapshot
from aewatch.safety.onsets import onset_text


@dataclass(frozen=True)
class SubjectTimeline:
    subject_id: str
    subject: dict[str, object]
    rt_courses: pd.DataFrame  # one row per course: schedule, BED, liver, status
    rt_fractions: pd.DataFrame  # the EX records each course was built from
    systemic_therapy: pd.DataFrame  # systemic EX records (drug, dates, dose, adjustments)
    adverse_events: pd.DataFrame  # one row per AE: current grade and "1→3" history
    ae_versions: pd.DataFrame
    labs: pd.DataFrame  # graded results only
    alerts: pd.DataFrame
    dispositions: pd.DataFrame


def subject_timeline(
    session: Session, trial_pk: int, subject_id: str, cut: DataCut | None = None
) -> SubjectTimeline | None:
    """None when the subject is unknown in this trial (or not yet recorded at the cut)."""
    exists = session.execute(
        text("SELECT 1 FROM subjects WHERE trial_pk = :t AND subject_id = :s"),
        {"t": trial_pk, "s": subject_id},
    ).first()
    if exists is None:
        return None
    snap = load_snapshot(session, trial_pk, cut)
    mine = {
        name: frame[frame["subject_id"] == subject_id]
        for name, frame in (
            ("subjects", snap.subjects),
            ("rt", snap.rt_courses),
            ("ex", snap.exposure),
            ("history", snap.ae_history),
            ("labs", snap.labs),
            ("alerts", snap.alerts),
            ("dispositions", snap.dispositions),
        )
    }
    history = mine["history"].sort_values(["onset_on", "ae_key", "version"])
    grades = history.groupby("ae_pk")["grade"].apply(
        lambda g: "→".join("?" if pd.isna(x) else str(int(x)) for x in g)
    )
    current = history.drop_duplicates("ae_pk", keep="last").copy()
    current["grade_history"] = current["ae_pk"].map(grades)
    current["note"] = current["evidence"].map(ae_note)
    # A partial onset is shown as such (2026-03 (month)), never as the day it is taken as.
    current["onset_on"] = [
        onset_text(on, precision)
        for on, precision in zip(current["onset_on"], current["onset_precision"], strict=True)
    ]
    labs = mine["labs"]
    graded = labs[labs["tox_grade_low"].fillna(0).gt(0) | labs["tox_grade_high"].fillna(0).gt(0)]
    subject_rows = mine["subjects"].drop(columns=["subject_pk", "created_at"]).to_dict("records")
    return SubjectTimeline(
        subject_id=subject_id,
        subject=subject_rows[0] if subject_rows else {"subject_id": subject_id},
        rt_courses=course_rows(mine["rt"]),
        rt_fractions=fraction_rows(mine["ex"], mine["rt"]),
        systemic_therapy=mine["ex"][mine["ex"]["category"] == "systemic"][
            [
                "agent",
                "treatment",
                "start_on",
                "end_on",
                "dose",
                "dose_unit",
                "dose_frequency",
                "adjustment",
            ]
        ].reset_index(drop=True),
        adverse_events=current[
            [
                "ae_key",
                "origin",
                "onset_on",
                "ctcae_term",
                "grade",
                "grade_history",
                "note",
                "serious",
                "rt_relation",
                "systemic_relation",
                "outcome",
                "version",
            ]
        ].reset_index(drop=True),
        ae_versions=history[["ae_key", "version", "recorded_at", "grade", "serious"]].reset_index(
            drop=True
        ),
        labs=graded.sort_values(["collected_on", "test_code"])[
            [
                "collected_on",
                "test_code",
                "value",
                "unit",
                "tox_term_low",
                "tox_grade_low",
                "tox_term_high",
                "tox_grade_high",
                "baseline_flag",
            ]
        ].reset_index(drop=True),
        alerts=mine["alerts"][
            ["kind", "status", "created_at", "sent_at", "acknowledged_at"]
        ].reset_index(drop=True),
        dispositions=mine["dispositions"][
            ["start_on", "category", "decoded_term", "disposition"]
        ].reset_index(drop=True),
    )


def ae_note(evidence: object) -> str:
    """What aewatch made of an AE: a worsening after RT and how it was dated, the pre-RT
    part of one, or a derived AE's evidence (aewatch.safety.emergence)."""
    if not isinstance(evidence, dict):
        return ""
    if isinstance(evidence.get("summary"), str):
        return evidence["summary"]
    split = evidence.get("emergence")
    if isinstance(split, dict):
        first_rt, worsened = split.get("first_rt_on"), split.get("worsened")
        return f"before RT (first RT day {first_rt}); its worsening after RT is {worsened}"
    return ""


def course_rows(courses: pd.DataFrame) -> pd.DataFrame:
    """A patient's courses as staff read them: lesion, course number, schedule, BED."""
    from aewatch.exposure.courses import EVALUABLE, schedule_text

    frame = courses.sort_values(["start_on", "course_key"]).copy()
    frame["schedule"] = frame["fraction_doses"].map(schedule_text)
    frame["liver"] = frame["liver_involved"].map(
        lambda v: "yes" if v is True else ("no" if v is False else "not recognised")
    )
    in_progress = (frame["dose_status"] == EVALUABLE) & ~frame["completed"]
    frame["status"] = frame["dose_status"].where(~in_progress, "in progress")
    columns = [
        "course_key",
        "lesion",
        "course_number",
        "start_on",
        "end_on",
        "records",
        "fractions",
        "schedule",
        "bed_gy",
        "eqd2_gy",
        "liver",
        "status",
        "bed_below_minimum",
    ]
    return frame[columns].reset_index(drop=True)


def fraction_rows(exposure: pd.DataFrame, courses: pd.DataFrame) -> pd.DataFrame:
    """The radiotherapy EX records under their course: what the site sent, date by date."""
    rt = exposure[exposure["category"] == "radiotherapy"]
    keys = courses.set_index("course_pk")["course_key"] if len(courses) else pd.Series()
    frame = rt.assign(
        course_key=rt["course_pk"].map(keys),
        fractions=pd.to_numeric(rt["fractions"]).astype("Int64"),
    )
    columns = [
        "course_key",
        "start_on",
        "end_on",
        "treatment",
        "lesion",
        "dose",
        "dose_unit",
        "fractions",
    ]
    return frame.sort_values(["start_on", "course_key"])[columns].reset_index(drop=True)
