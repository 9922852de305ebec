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
from aewatch.reports import (
    acute_late,
    conduct,
    currency,
    disposition,
    edish,
    labs,
    liver,
    oversight,
    stopping,
    tables,
)
from aewatch.reports.snapshot import Snapshot
from aewatch.safety.evaluation import RuleStatus, crossing_text, status_row


@dataclass(frozen=True)
class RuleSection:
    """One stopping rule at the cut: the rule, its status and its definition lines."""

    rule: Any
    status: RuleStatus
    definition: list[tuple[str, str]]


@dataclass(frozen=True)
class ReportTables:
    """Named tables (DataFrames) and headline facts (JSON-able) for one data cut."""

    facts: dict[str, Any]
    frames: dict[str, pd.DataFrame]
    boundaries: dict[str, pd.DataFrame] = field(default_factory=dict)
    rules: dict[str, RuleSection] = field(default_factory=dict)

    def digest(self) -> str:
        payload = {
            "facts": self.facts,
            "frames": {name: _canonical(frame) for name, frame in sorted(self.frames.items())},
            "boundaries": {n: _canonical(f) for n, f in sorted(self.boundaries.items())},
        }
        text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


def compute_sections(
    snap: Snapshot,
    settings: Any,
    period_start: datetime,
    generated_at: datetime,
) -> ReportTables:
    """Every table of both parts at ``snap.cut`` (``generated_at``: the end of a cut
    without a clinical day). Nothing is counted to the generation time, so the same data
    at the same cut give the same tables whenever they are computed."""
    cut = snap.cut
    cut_end = cut.clinical_end or generated_at
    population = tables.safety_population(
        snap.subjects, snap.rt_courses, settings.trial.safety_population
    )
    n = len(population)
    events = tables.countable_events(snap.ae, population)
    graded_labs = labs.graded_labs(snap.labs, population)
    scores = liver.liver_scores(liver.liver_function_days(graded_labs, snap.ae))
    albi = liver.change_from_baseline(scores, "albi", "albi_grade")
    child_pugh = liver.change_from_baseline(scores, "cp_score", "cp_class")
    cut_day = pd.Timestamp(cut_end.date())
    last_data = conduct.last_known_dates(snap.rt_courses, snap.ae, snap.labs)
    follow = conduct.follow_up(population, cut_day, last_data)
    exposure = conduct.exposure_by_lesion(
        snap.rt_courses,
        settings.radiotherapy.min_bed_gy,
        cut_day,
        settings.radiotherapy.course_gap_days,
    )
    period_alerts = oversight.alerts_in_period(snap.alerts, period_start, cut_end)
    related = {to: events[tables.related_mask(events, to)] for to in ("rt", "systemic", "any")}
    statuses = stopping.evaluate_rules(
        settings.stopping_rules, snap.rule_patients, snap.rule_events, cut_end
    )
    fatal = set(events.loc[(events["grade"] == 5) | events["death"].astype(bool), "subject_id"])
    status = disposition.patient_status(population, snap.dispositions, fatal)
    panel = edish.liver_panel(graded_labs)
    peaks = edish.peaks(panel, population)
    clock_hours = settings.clocks.sponsor_notification_hours
    timeliness = currency.sae_timeliness(snap.ae_history, population, clock_hours)
    deviations = currency.deviations(
        exposure,
        snap.quarantine,
        timeliness,
        settings.radiotherapy.min_bed_gy,
        clock_hours,
    )
    received = currency.received_records(
        snap.ae_history, snap.subjects, snap.labs, snap.exposure, snap.dispositions
    )
    deaths = tables.deaths(population, events)
    sae_listing = tables.sae_listing(events)
    syndromes = labs.syndrome_cases(snap.ae, population)
    frames: dict[str, pd.DataFrame] = {
        "ae_overview": tables.ae_overview(events, n),
        "ae_by_patient": tables.grade_table(events, "patients"),
        "ae_by_event": tables.grade_table(events, "events"),
        "ae_rt_related": tables.grade_table(related["rt"], "patients"),
        "ae_systemic_related": tables.grade_table(related["systemic"], "patients"),
        "ae_any_related": tables.grade_table(related["any"], "patients"),
        "ae_acute_late": acute_late.acute_late_table(
            events, snap.rt_courses, settings.reports.acute_days
        ),
        "ae_rt_acute_late": acute_late.acute_late_table(
            related["rt"], snap.rt_courses, settings.reports.acute_days
        ),
        "worst_grade_by_soc": tables.count_by(events, "soc"),
        "sae_listing": sae_listing,
        "sae_by_term": _sae_by_term(sae_listing),
        "sae_timeliness": timeliness,
        "sae_timeliness_summary": currency.timeliness_summary(timeliness, clock_hours),
        "deaths": deaths,
        "deaths_summary": _deaths_summary(deaths),
        "treatment_changes": _treatment_change_listing(events),
        "accrual": conduct.accrual_by_site_month(snap.subjects),
        "exposure": exposure,
        "exposure_by_schedule": conduct.exposure_by_schedule(exposure),
        "oligoprogression": conduct.category_counts(population, "oligoprogression", "category"),
        "systemic_therapy": conduct.systemic_therapy(
            population, snap.exposure, exposure_rules(settings).vocabulary
        ),
        "follow_up": follow,
        "disposition": disposition.status_counts(status, n),
        "disposition_events": disposition.event_counts(snap.dispositions, population),
        "death_sources": disposition.death_sources(status),
        "disposition_listing": disposition.listing(status, snap.dispositions, population),
        "liver_shifts": labs.shift_table(graded_labs, labs.LIVER_TESTS),
        "blood_shifts": labs.shift_table(graded_labs, labs.BLOOD_TESTS),
        "albi_change": albi,
        "albi_shift": liver.shift(albi, "albi_grade", (1, 2, 3)),
        "child_pugh_change": child_pugh,
        "child_pugh_shift": liver.shift(child_pugh, "cp_class", ("A", "B", "C")),
        "syndromes": syndromes,
        "syndrome_counts": _syndrome_counts(syndromes),
        "edish": peaks,
        "edish_quadrants": edish.quadrant_counts(peaks),
        # Only the panels the closed part draws: all values would be every liver lab.
        "liver_panel": panel[panel["subject_id"].isin(edish.patients_of_interest(peaks))],
        "rule_status": stopping.status_table(statuses),
        "deviations": deviations,
        "deviation_counts": currency.deviation_counts(deviations),
        "data_currency": currency.data_currency(
            snap.subjects, received, snap.quarantine, snap.alerts, cut_end
        ),
        "alerts": period_alerts,
        "alerts_by_kind": oversight.alerts_by_kind(period_alerts),
        "quarantine": oversight.quarantine_summary(snap.quarantine),
        "silent_sites": oversight.silent_sites(
            snap.sites, cut_end, settings.alerts.site_silence_days
        ),
    }
    rules: dict[str, RuleSection] = {}
    for rule in settings.stopping_rules:
        state = statuses[rule.name]
        frames[f"rule_trajectory:{rule.name}"] = stopping.trajectory(state)
        frames[f"rule_events:{rule.name}"] = stopping.counted_events(
            state, snap.rule_events, population
        )
        frames[f"rule_pending:{rule.name}"] = stopping.pending_patients(state, population)
        frames[f"rule_oc:{rule.name}"] = stopping.operating_characteristics(rule)
        rules[rule.name] = RuleSection(rule, state, stopping.definition(rule))
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
        "deaths": len(deaths),
        "sae_patients": int(events.loc[events["serious"].astype(bool), "subject_id"].nunique()),
        "rule_states": {name: s.state for name, s in sorted(statuses.items())},
        "rule_headlines": {
            name: crossing_text(status_row(s)) for name, s in sorted(statuses.items())
        },
        "open_quarantine": int((snap.quarantine["state"] == "open").sum()),
        "silent_sites": len(frames["silent_sites"]),
        "syndromes": len(syndromes),
        "child_pugh_rise_2": liver.child_pugh_rises(child_pugh),
        "child_pugh_rise_2_after_liver_rt": liver.child_pugh_rises_after_liver_rt(
            scores, snap.rt_courses, settings.grading.rild_window_days
        ),
        "potential_hys_law_quadrant": int((peaks["quadrant"] == edish.QUADRANTS[0]).sum()),
        "deviations": len(deviations),
        "sae_awareness_not_supplied": int(
            (timeliness["awareness"] == currency.AWARENESS[False]).sum()
        ),
        "unacknowledged_alerts": int(
            (period_alerts["requires_ack"] & period_alerts["acknowledged_at"].isna()).sum()
        ),
    }
    return ReportTables(
        facts=facts,
        frames=frames,
        boundaries=oversight.boundary_rows(settings, snap.rule_status),
        rules=rules,
    )


def compute_facts(snap: Snapshot, settings: Any, generated_at: datetime) -> ReportTables:
    """The headline facts alone (no tables): what "since last month" compares."""
    cut_end = snap.cut.clinical_end or generated_at
    population = tables.safety_population(
        snap.subjects, snap.rt_courses, settings.trial.safety_population
    )
    events = tables.countable_events(snap.ae, population)
    statuses = stopping.evaluate_rules(
        settings.stopping_rules, snap.rule_patients, snap.rule_events, cut_end
    )
    overview = tables.ae_overview(events, len(population))
    facts: dict[str, Any] = {
        **conduct.accrual_summary(snap.subjects, population, settings.trial.planned_enrolment),
        "overview": {r["category"]: int(r["patients"]) for r in overview.to_dict("records")},
        "deaths": len(tables.deaths(population, events)),
        "sae_patients": int(events.loc[events["serious"].astype(bool), "subject_id"].nunique()),
        "rule_states": {name: s.state for name, s in sorted(statuses.items())},
        "syndromes": len(labs.syndrome_cases(snap.ae, population)),
    }
    return ReportTables(facts=facts, frames={})


def _sae_by_term(sae_listing: pd.DataFrame) -> pd.DataFrame:
    """Open part: SAEs by CTCAE term (patients, events, worst grade)."""
    if sae_listing.empty:
        return pd.DataFrame(columns=["ctcae_term", "patients", "events", "worst_grade"])
    grouped = sae_listing.groupby("ctcae_term")
    table = pd.DataFrame(
        {
            "patients": grouped["subject_id"].nunique(),
            "events": grouped.size(),
            "worst_grade": grouped["grade"].max(),
        }
    ).reset_index()
    return table.sort_values(["patients", "ctcae_term"], ascending=[False, True]).reset_index(
        drop=True
    )


def _deaths_summary(deaths: pd.DataFrame) -> pd.DataFrame:
    """Open part: deaths by cause, and how many within 30 and 90 days of the end of RT."""
    if deaths.empty:
        return pd.DataFrame(columns=["cause", "deaths", "within_30_days", "within_90_days"])
    grouped = deaths.groupby("cause")
    table = pd.DataFrame(
        {
            "deaths": grouped.size(),
            "within_30_days": grouped["within_30_days_of_rt"].sum().astype(int),
            "within_90_days": grouped["within_90_days_of_rt"].sum().astype(int),
        }
    ).reset_index()
    return table.sort_values(["deaths", "cause"], ascending=[False, True]).reset_index(drop=True)


def _syndrome_counts(syndromes: pd.DataFrame) -> pd.DataFrame:
    """Open part: patients per derived liver syndrome."""
    if syndromes.empty:
        return pd.DataFrame(columns=["ctcae_term", "patients"])
    return (
        syndromes.groupby("ctcae_term")["subject_id"]
        .nunique()
        .rename("patients")
        .reset_index()
        .sort_values("ctcae_term")
        .reset_index(drop=True)
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
