"""Every table of the DSMB report, computed once from a snapshot, and its digest.

The digest (sha256 of the tables in a canonical text form) is what "the same month
and the same data give the same report" means: it excludes generation time and
file paths, so a regenerated report can be checked against the one the DSMB read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from aewatch.exposure.rules import exposure_rules
from aewatch.reports import conduct, labs, liver, oversight, tables
from aewatch.reports.snapshot import Snapshot


@dataclass(frozen=True)
class ReportTables:
    """Named tables (DataFrames) and headline facts (JSON-able) for one data cut."""

    facts: dict[str, Any]
    frames: dict[str, pd.DataFrame]
    boundaries: dict[str, pd.DataFrame] = field(default_factory=dict)

    def digest(self) -> str:
        payload = {
            "facts": self.facts,
            "frames": {name: _canonical(frame) for name, frame in sorted(self.frames.items())},
            "boundaries": {n: _canonical(f) for n, f in sorted(self.boundaries.items())},
        }
        text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


def compute_sections(
    snap: Snapshot, settings: Any, period_start: datetime, cut: datetime
) -> ReportTables:
    population = tables.safety_population(
        snap.subjects, snap.rt_courses, settings.trial.safety_population
    )
    n = len(population)
    events = tables.countable_events(snap.ae, population)
    graded_labs = labs.graded_labs(snap.labs, population)
    scores = liver.liver_scores(liver.liver_function_days(graded_labs, snap.ae))
    albi = liver.change_from_baseline(scores, "albi", "albi_grade")
    child_pugh = liver.change_from_baseline(scores, "cp_score", "cp_class")
    cut_day = pd.Timestamp(cut.date())
    last_data = conduct.last_known_dates(snap.rt_courses, snap.ae, snap.labs)
    follow = conduct.follow_up(population, cut_day, last_data)
    exposure = conduct.exposure_by_lesion(
        snap.rt_courses,
        settings.radiotherapy.min_bed_gy,
        cut_day,
        settings.radiotherapy.course_gap_days,
    )
    period_alerts = oversight.alerts_in_period(snap.alerts, period_start, cut)
    related = {to: events[tables.related_mask(events, to)] for to in ("rt", "systemic", "any")}
    frames: dict[str, pd.DataFrame] = {
        "ae_overview": tables.ae_overview(events, n),
        "ae_by_patient": tables.grade_table(events, "patients"),
        "ae_by_event": tables.grade_table(events, "events"),
        "ae_rt_related": tables.grade_table(related["rt"], "patients"),
        "ae_systemic_related": tables.grade_table(related["systemic"], "patients"),
        "ae_any_related": tables.grade_table(related["any"], "patients"),
        "worst_grade_by_soc": tables.count_by(events, "soc"),
        "sae_listing": tables.sae_listing(events),
        "deaths": tables.deaths(population, events),
        "treatment_changes": _treatment_change_listing(events),
        "accrual": conduct.accrual_by_site_month(snap.subjects),
        "exposure": exposure,
        "exposure_by_schedule": conduct.exposure_by_schedule(exposure),
        "oligoprogression": conduct.category_counts(population, "oligoprogression", "category"),
        "systemic_therapy": conduct.systemic_therapy(
            population, snap.exposure, exposure_rules(settings).vocabulary
        ),
        "follow_up": follow,
        "disposition": conduct.disposition(follow),
        "liver_shifts": labs.shift_table(graded_labs, labs.LIVER_TESTS),
        "blood_shifts": labs.shift_table(graded_labs, labs.BLOOD_TESTS),
        "albi_change": albi,
        "albi_shift": liver.shift(albi, "albi_grade", (1, 2, 3)),
        "child_pugh_change": child_pugh,
        "child_pugh_shift": liver.shift(child_pugh, "cp_class", ("A", "B", "C")),
        "syndromes": labs.syndrome_cases(snap.ae, population),
        "rule_status": oversight.latest_rule_status(snap.rule_status),
        "alerts": period_alerts,
        "alerts_by_kind": oversight.alerts_by_kind(period_alerts),
        "quarantine": oversight.quarantine_summary(snap.quarantine),
        "silent_sites": oversight.silent_sites(snap.sites, cut, settings.alerts.site_silence_days),
    }
    follow_days = follow["follow_up_days"].dropna()
    facts: dict[str, Any] = {
        **conduct.accrual_summary(snap.subjects, population, settings.trial.planned_enrolment),
        "exposure": conduct.exposure_summary(exposure),
        "median_follow_up_days": float(follow_days.median()) if len(follow_days) else None,
        "ae_completeness": oversight.ae_completeness(snap.ae),
        "overview": {
            row["category"]: int(row["patients"])
            for row in frames["ae_overview"].to_dict("records")
        },
        "deaths": len(frames["deaths"]),
        "sae_patients": int(events.loc[events["serious"].astype(bool), "subject_id"].nunique()),
        "rule_states": {
            r["rule_name"]: r["state"] for r in frames["rule_status"].to_dict("records")
        },
        "open_quarantine": int((snap.quarantine["state"] == "open").sum()),
        "silent_sites": len(frames["silent_sites"]),
        "syndromes": len(frames["syndromes"]),
        "child_pugh_rise_2": liver.child_pugh_rises(child_pugh),
        "child_pugh_rise_2_after_liver_rt": liver.child_pugh_rises_after_liver_rt(
            scores, snap.rt_courses, settings.grading.rild_window_days
        ),
        "unacknowledged_alerts": int(
            (period_alerts["requires_ack"] & period_alerts["acknowledged_at"].isna()).sum()
        ),
    }
    return ReportTables(
        facts=facts,
        frames=frames,
        boundaries=oversight.boundary_rows(settings, snap.rule_status),
    )


def _treatment_change_listing(events: pd.DataFrame) -> pd.DataFrame:
    changed = tables.treatment_changes(events)
    columns = [
        "subject_id",
        "ctcae_term",
        "grade",
        "action_taken",
        "rt_relation",
        "systemic_relation",
    ]
    return changed.sort_values(["subject_id", "ctcae_term"])[columns].reset_index(drop=True)


def _canonical(frame: pd.DataFrame) -> list[list[str]]:
    """Cell text, independent of dtype quirks between SQLite and PostgreSQL reads."""
    cells = frame.astype(object).where(frame.notna(), None)
    rows = [[str(c) for c in frame.columns]]
    rows += [[_cell(v) for v in row] for row in cells.itertuples(index=False, name=None)]
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    if hasattr(value, "item"):
        return str(value.item())
    return str(value)
