"""One patient's safety story for `aewatch subject ID`: RT courses with their fractions,
systemic therapy, AEs with their grade history, lab grades, disposition events and
alerts, in the order staff would read them, at the same data cut as `counts`, `status`
and the DSMB report (aewatch.reports.datacut).

Plain Python over the rows ``store.timeline_reads`` reads through the driver: one
patient's rows are few, and the command starts without pandas or SQLAlchemy. The cut
is the snapshot's (``reports.snapshot``): an AE is its versions recorded by the
knowledge time, shown if its latest one is not set aside (``store.set_aside``) and has
its onset on or before the clinical day (or none); a partial onset is taken as the
first RT day when its period contains it (``safety.onsets``) and shown as partial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from aewatch.dbapi import ReadOnlyDatabase
from aewatch.exposure.statuses import EVALUABLE, schedule_text
from aewatch.reports.datacut import DataCut
from aewatch.safety.disposition import DEATH, LOST, WITHDRAWAL
from aewatch.safety.onsets import impute_onset, onset_text
from aewatch.safety.relatedness import normalise_relation
from aewatch.store import timeline_reads

Row = dict[str, Any]


@dataclass(frozen=True)
class SubjectTimeline:
    subject_id: str
    subject: dict[str, object]  # DM at the cut, death and withdrawal over DM and DS
    rt_courses: list[Row]  # one row per course: schedule, BED, liver, status
    rt_fractions: list[Row]  # the EX records each course was built from
    systemic_therapy: list[Row]  # systemic EX records (drug, dates, dose, adjustments)
    adverse_events: list[Row]  # one row per AE: current grade and "1→3" history
    ae_versions: list[Row]
    labs: list[Row]  # graded results only
    alerts: list[Row]
    dispositions: list[Row]

    def sections(self) -> dict[str, list[Row]]:
        """What `aewatch subject` prints, in its order."""
        return {
            "rt_courses": self.rt_courses,
            "rt_fractions": self.rt_fractions,
            "systemic_therapy": self.systemic_therapy,
            "adverse_events": self.adverse_events,
            "labs": self.labs,
            "dispositions": self.dispositions,
            "alerts": self.alerts,
        }


def subject_timeline(
    db: ReadOnlyDatabase, trial_pk: int, subject_id: str, cut: DataCut | None = None
) -> SubjectTimeline | None:
    """None when the subject is unknown in this trial (at any cut)."""
    if not timeline_reads.subject_known(db, trial_pk, subject_id):
        return None
    cut = cut or DataCut()
    read = {
        name: getattr(timeline_reads, name)(db, trial_pk, subject_id, cut)
        for name in ("rt_courses", "exposure", "ae_versions", "graded_labs", "alerts")
    }
    dispositions = timeline_reads.dispositions(db, trial_pk, subject_id, cut)
    subject = timeline_reads.subject(db, trial_pk, subject_id, cut)
    courses = sorted(read["rt_courses"], key=lambda c: (_late(c["start_on"]), c["course_key"]))
    starts = [c["start_on"] for c in courses if c["start_on"] is not None]
    history = ae_history(read["ae_versions"], cut, min(starts) if starts else None)
    exposure = read["exposure"]
    return SubjectTimeline(
        subject_id=subject_id,
        subject=subject_at_cut(subject, dispositions, cut) or {"subject_id": subject_id},
        rt_courses=[course_row(c) for c in courses],
        rt_fractions=fraction_rows(exposure, courses),
        systemic_therapy=[
            {k: e[k] for k in SYSTEMIC_COLUMNS} for e in exposure if e["category"] == "systemic"
        ],
        adverse_events=current_rows(history),
        ae_versions=[{k: v[k] for k in VERSION_COLUMNS} for v in history],
        labs=sorted(
            ({k: lab[k] for k in LAB_COLUMNS} for lab in read["graded_labs"]),
            key=lambda lab: (_late(lab["collected_on"]), lab["test_code"]),
        ),
        alerts=read["alerts"],
        dispositions=[{k: d[k] for k in DISPOSITION_COLUMNS} for d in dispositions],
    )


SYSTEMIC_COLUMNS = (
    "agent",
    "treatment",
    "start_on",
    "end_on",
    "dose",
    "dose_unit",
    "dose_frequency",
    "adjustment",
)
AE_COLUMNS = (
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
)
VERSION_COLUMNS = ("ae_key", "version", "recorded_at", "grade", "serious")
LAB_COLUMNS = (
    "collected_on",
    "test_code",
    "value",
    "unit",
    "tox_term_low",
    "tox_grade_low",
    "tox_term_high",
    "tox_grade_high",
    "baseline_flag",
)
DISPOSITION_COLUMNS = ("start_on", "category", "decoded_term", "disposition")
FRACTION_COLUMNS = (
    "course_key",
    "start_on",
    "end_on",
    "treatment",
    "lesion",
    "dose",
    "dose_unit",
    "fractions",
)


def subject_at_cut(subject: Row | None, dispositions: list[Row], cut: DataCut) -> Row | None:
    """DM at the cut with death and withdrawal taken over DM and DS, the earliest date of
    each (``safety.disposition.end_of_follow_up``), ``lost_on`` and ``left_on`` from DS;
    None when not enrolled by the clinical day. Dates after it are not yet known."""
    if subject is None:
        return None
    day = cut.clinical_day
    if day is not None and subject["enrolled_on"] is not None and subject["enrolled_on"] > day:
        return None
    first: dict[str, date] = {}
    for row in dispositions:
        kind, on = row["disposition"], row["start_on"]
        if kind in (DEATH, WITHDRAWAL, LOST) and on is not None:
            first[kind] = min(on, first.get(kind, on))
    in_dm, in_ds = subject["died_on"] is not None, DEATH in first
    out = dict(subject)
    out["died_on"] = _earliest(subject["died_on"], first.get(DEATH))
    out["withdrawn_on"] = _earliest(subject["withdrawn_on"], first.get(WITHDRAWAL))
    out["death_recorded_in"] = {
        (True, False): "DM",
        (False, True): "DS",
        (True, True): "DM and DS",
    }.get((in_dm, in_ds))
    out["lost_on"] = first.get(LOST)
    out["left_on"] = _earliest(out["withdrawn_on"], out["lost_on"])
    if day is not None:
        for column in ("died_on", "withdrawn_on", "lost_on", "left_on", "last_contact_on"):
            if out[column] is not None and out[column] > day:
                out[column] = None
        if out["died_on"] is None:
            out["death_recorded_in"] = None
    return out


def ae_history(versions: list[Row], cut: DataCut, first_rt: date | None) -> list[Row]:
    """The versions of the AEs shown at the cut, each with its onset as counted, in the
    order read: by onset (unknown last), AE key and version."""
    latest: dict[int, Row] = {}
    for version in versions:
        if version["version"] >= latest.get(version["ae_pk"], version)["version"]:
            latest[version["ae_pk"]] = version
    day = cut.clinical_day
    shown = {
        pk
        for pk, v in latest.items()
        if v["set_aside"] is None and (day is None or v["onset_on"] is None or v["onset_on"] <= day)
    }
    history = []
    for version in versions:
        if version["ae_pk"] not in shown:
            continue
        row = dict(version)
        row["onset_on"] = impute_onset(row["onset_on"], row["onset_until"], first_rt)
        row["ctcae_term"] = row["ctcae_term"] if row["ctcae_term"] is not None else "Uncoded term"
        row["rt_relation"] = normalise_relation(row["rt_relation"])
        row["systemic_relation"] = normalise_relation(row["systemic_relation"])
        history.append(row)
    return sorted(history, key=lambda v: (_late(v["onset_on"]), v["ae_key"], v["version"]))


def current_rows(history: list[Row]) -> list[Row]:
    """One row per AE: its latest version (the highest number, wherever a correction
    moved its onset in ``history``'s order), placed where that version stands, with the
    grades of all its versions in version order ("1→3"; "?" for one without a grade) and
    what aewatch made of it."""
    versions: dict[int, list[tuple[int, Row]]] = {}
    for at, version in enumerate(history):
        versions.setdefault(version["ae_pk"], []).append((at, version))
    latest = [max(found, key=lambda pair: pair[1]["version"]) for found in versions.values()]
    rows = []
    for _, version in sorted(latest, key=lambda pair: pair[0]):
        ordered = sorted((v for _, v in versions[version["ae_pk"]]), key=lambda v: v["version"])
        row = {k: version.get(k) for k in AE_COLUMNS}
        row["grade_history"] = "→".join(
            "?" if v["grade"] is None else str(v["grade"]) for v in ordered
        )
        row["note"] = ae_note(version["evidence"])
        # A partial onset is shown as such (2026-03 (month)), never as the day it is taken as.
        row["onset_on"] = onset_text(version["onset_on"], version["onset_precision"])
        rows.append(row)
    return rows


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


def course_row(course: Row) -> Row:
    """A course as staff read it: lesion, course number, schedule, BED, liver, status."""
    liver = course["liver_involved"]
    in_progress = course["dose_status"] == EVALUABLE and not course["completed"]
    return {
        "course_key": course["course_key"],
        "lesion": course["lesion"],
        "course_number": course["course_number"],
        "start_on": course["start_on"],
        "end_on": course["end_on"],
        "records": course["records"],
        "fractions": course["fractions"],
        "schedule": schedule_text(course["fraction_doses"]),
        "bed_gy": course["bed_gy"],
        "eqd2_gy": course["eqd2_gy"],
        "liver": "yes" if liver is True else ("no" if liver is False else "not recognised"),
        "status": "in progress" if in_progress else course["dose_status"],
        "bed_below_minimum": course["bed_below_minimum"],
    }


def fraction_rows(exposure: list[Row], courses: list[Row]) -> list[Row]:
    """The radiotherapy EX records under their course: what the site sent, date by date."""
    keys = {c["course_pk"]: c["course_key"] for c in courses}
    rows = [
        {**{k: e.get(k) for k in FRACTION_COLUMNS}, "course_key": keys.get(e["course_pk"])}
        for e in exposure
        if e["category"] == "radiotherapy"
    ]
    return sorted(rows, key=lambda r: (_late(r["start_on"]), _late(r["course_key"])))


def _late(value: Any) -> tuple[bool, Any]:
    """Sort key: unknown last (as pandas sorts NaT and NaN)."""
    return (value is None, value if value is not None else 0)


def _earliest(*days: date | None) -> date | None:
    known = [d for d in days if d is not None]
    return min(known) if known else None
