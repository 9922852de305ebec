"""Turn report tables into what the DSMB reads: labelled, formatted tables and the summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from aewatch.reports.datacut import DataCut
from aewatch.reports.render import TableView, format_cell, frame_view
from aewatch.reports.sections import ReportTables

SHIFT_HEADERS: dict[str, str | None] = {
    "worst_NA": "no post-baseline",
    **{f"worst_{g}": f"→ {g}" for g in (1, 2, 3, "A", "B", "C")},
}
GRADE_HEADERS = ["G1", "G2", "G3", "G4", "G5", "G≥3", "Any"]
GRADE_COLUMNS = ["g1", "g2", "g3", "g4", "g5", "g3plus", "any"]


def grade_view(
    key: str, title: str, frame: pd.DataFrame, population_n: int, unit: str, note: str
) -> TableView:
    """SOC rows in bold, terms indented; by patient as "n (%)", by event as counts."""
    rows, classes = [], []
    for record in frame.to_dict("records"):
        label = record["term"] if record["level"] == "term" else record["soc"]
        cells = [label]
        for column in GRADE_COLUMNS:
            n = int(record[column])
            cells.append(n_percent(n, population_n) if unit == "patients" else str(n))
        rows.append(cells)
        classes.append(record["level"])
    numeric = [False] + [True] * len(GRADE_HEADERS)
    return TableView(
        key, title, ["SOC / CTCAE term", *GRADE_HEADERS], rows, note, classes, numeric=numeric
    )


def n_percent(n: int, population_n: int) -> str:
    if n == 0:
        return "0"
    if population_n <= 0:
        return str(n)
    return f"{n} ({n * 100.0 / population_n:.1f}%)"


def overview_view(frame: pd.DataFrame, population_n: int) -> TableView:
    rows = [
        [r["category"], n_percent(int(r["patients"]), population_n), str(int(r["events"]))]
        for r in frame.to_dict("records")
    ]
    return TableView(
        "ae_overview",
        "AE overview (treatment-emergent)",
        ["", "Patients n (% of safety population)", "Events"],
        rows,
        f"Safety population N = {population_n}.",
        numeric=[False, True, True],
    )


def acute_late_view(
    key: str, title: str, frame: pd.DataFrame, population_n: int, acute_days: int
) -> TableView:
    """SOC rows in bold, terms indented; patients n (%) by timing from RT."""
    columns = ["acute", "acute_g3plus", "late", "late_g3plus", "unknown"]
    rows, classes = [], []
    for record in frame.to_dict("records"):
        label = record["term"] if record["level"] == "term" else record["soc"]
        rows.append([label, *[n_percent(int(record[c]), population_n) for c in columns]])
        classes.append(record["level"])
    headers = [
        "SOC / CTCAE term",
        f"Acute (≤ {acute_days} d) any",
        "Acute G≥3",
        f"Late (> {acute_days} d) any",
        "Late G≥3",
        "Onset unknown",
    ]
    note = (
        f"By patient. Acute: onset at most {acute_days} days after the start of the latest "
        "RT course before it; late: later. A patient can be in both."
    )
    return TableView(key, title, headers, rows, note, classes, numeric=[False] + [True] * 5)


def rule_views(tabs: ReportTables) -> dict[str, dict[str, Any]]:
    """Per rule: its appendix (open: definition, boundary, OC; closed: events, pending)."""
    out: dict[str, dict[str, Any]] = {}
    for name, section in sorted(tabs.rules.items()):
        f = tabs.frames
        out[name] = {
            "name": name,
            "state": section.status.state,
            "headline": tabs.facts["rule_headlines"][name],
            "definition": section.definition,
            "boundary": boundary_view(name, tabs.boundaries.get(name, pd.DataFrame())),
            "oc": frame_view(
                f"rule-oc-{name}",
                f"Operating characteristics: {name}",
                f[f"rule_oc:{name}"],
                {
                    "p": "True toxicity rate",
                    "p_stop": "P(declared too toxic)",
                    "p_early": "P(stopped before N)",
                    "expected_n": "Expected evaluable n",
                },
                note="Exact binomial recursion on the integer boundary (never simulated). "
                "Each rule has its own false-alarm rate; with several rules the chance that "
                "one fires is larger.",
            ),
            "events": frame_view(
                f"rule-events-{name}",
                f"Counted events: {name}",
                f[f"rule_events:{name}"],
                {
                    "n": "Evaluable n",
                    "subject_id": "Subject",
                    "ctcae_term": "Term",
                    "grade": "Grade",
                    "onset_day": "Onset study day",
                },
                note="Each toxic patient once, with the first qualifying event in the window "
                "(evaluable on its onset day); n is the patient's place in the rule's order.",
                empty_text="No toxic patient.",
            ),
            "pending": frame_view(
                f"rule-pending-{name}",
                f"Pending patients: {name}",
                f[f"rule_pending:{name}"],
                {
                    "subject_id": "Subject",
                    "evaluable_on": "Evaluable on (if no toxicity)",
                    "evaluable_day": "Study day",
                    "days_from_cut": "Days after the cut",
                    "waiting_for": "Waiting for",
                },
                note="At risk, outcome not yet known: each becomes evaluable on this date if "
                "followed through the window without toxicity (earlier if toxic). A date "
                "already past: the window has ended but no contact after it is recorded "
                "(a lab, an AE, last contact): the follow-up data are awaited.",
                empty_text="No pending patient.",
            ),
        }
    return out


def build_views(tabs: ReportTables, acute_days: int = 90) -> dict[str, TableView]:
    """Every table the template shows, by key (the template picks those of its part)."""
    n = int(tabs.facts["safety_population"])
    f = tabs.frames
    by_patient = "By patient: each patient once per row, at the worst grade in that row."
    views = {
        "ae_overview": overview_view(f["ae_overview"], n),
        "ae_by_patient": grade_view(
            "ae_by_patient",
            "All-cause AEs by SOC and term, by patient",
            f["ae_by_patient"],
            n,
            "patients",
            by_patient,
        ),
        "ae_by_event": grade_view(
            "ae_by_event",
            "All-cause AEs by SOC and term, by event",
            f["ae_by_event"],
            n,
            "events",
            "By event: every AE once, at its current grade.",
        ),
        "ae_rt_related": grade_view(
            "ae_rt_related",
            "RT-related AEs (possible, probable, definite), by patient",
            f["ae_rt_related"],
            n,
            "patients",
            "Worst grade among RT-related records (not the worst grade overall).",
        ),
        "ae_systemic_related": grade_view(
            "ae_systemic_related",
            "Systemic-therapy-related AEs, by patient",
            f["ae_systemic_related"],
            n,
            "patients",
            "Worst grade among systemic-therapy-related records.",
        ),
        "ae_any_related": grade_view(
            "ae_any_related",
            "AEs related to either treatment, by patient",
            f["ae_any_related"],
            n,
            "patients",
            "Worst grade among records related to either.",
        ),
        "ae_acute_late": acute_late_view(
            "ae_acute_late",
            "All-cause AEs: acute vs late, by patient",
            f["ae_acute_late"],
            n,
            acute_days,
        ),
        "ae_rt_acute_late": acute_late_view(
            "ae_rt_acute_late",
            "RT-related AEs: acute vs late, by patient",
            f["ae_rt_acute_late"],
            n,
            acute_days,
        ),
        "sae_listing": frame_view(
            "sae_listing",
            "Serious adverse events",
            f["sae_listing"],
            {
                "subject_id": "Subject",
                "site": None,
                "ctcae_term": "CTCAE term",
                "grade": "Grade",
                "onset_day": "Onset day",
                "criteria": "Criteria",
                "rt_relation": "RT relation",
                "systemic_relation": "Systemic relation",
                "outcome": "Outcome",
                "awareness": "Awareness date",
                "hours_aware_to_recorded": "Hours to record",
            },
            note="Onset day: study day. Hours to record: from the site's awareness to the "
            'latest version recorded. Awareness date "not supplied": the site gave no '
            "AEAWDTC, so aewatch's receipt time stands in and the delay is unknown (left "
            "blank, not 0 h).",
        ),
        "sae_by_term": frame_view(
            "sae_by_term",
            "Serious adverse events by term",
            f["sae_by_term"],
            {
                "ctcae_term": "CTCAE term",
                "patients": "Patients",
                "events": "Events",
                "worst_grade": "Worst grade",
            },
            empty_text="No SAE.",
        ),
        "sae_timeliness_summary": frame_view(
            "sae_timeliness_summary",
            "SAE reporting timeliness",
            f["sae_timeliness_summary"],
            {"measure": "", "value": "n / hours"},
            note="From awareness to the first serious version aewatch recorded. Without a "
            "site awareness date the delay is unknown and is not counted as on time.",
        ),
        "sae_timeliness": frame_view(
            "sae_timeliness",
            "SAE timeliness, per SAE",
            f["sae_timeliness"],
            {
                "subject_id": "Subject",
                "site": "Site",
                "ctcae_term": "CTCAE term",
                "grade": "Grade",
                "onset_day": "Onset study day",
                "awareness": "Awareness date",
                "hours_aware_to_recorded": "Hours aware→recorded",
                "within_clock": "Within clock",
            },
            empty_text="No SAE.",
        ),
        "deaths_summary": frame_view(
            "deaths_summary",
            "Deaths by cause",
            f["deaths_summary"],
            {
                "cause": "Cause (fatal AE)",
                "deaths": "Deaths",
                "within_30_days": "≤ 30 d after RT",
                "within_90_days": "≤ 90 d after RT",
            },
            empty_text="No death.",
        ),
        "death_sources": frame_view(
            "death_sources",
            "Deaths by the domain that recorded them",
            f["death_sources"],
            {"recorded_in": "Recorded in", "deaths": "Deaths"},
            note="A death recorded in one domain only (DM, DS or as a fatal AE) is a "
            "reconciliation query for the site.",
        ),
        "deaths": frame_view(
            "deaths",
            "Deaths",
            f["deaths"],
            {
                "subject_id": "Subject",
                "study_day": "Study day",
                "cause": "Cause (fatal AE)",
                "days_after_rt_end": "Days after RT end",
                "within_30_days_of_rt": "≤ 30 d",
                "within_90_days_of_rt": "≤ 90 d",
                "rt_relation": "RT relation",
                "systemic_relation": "Systemic relation",
                "recorded_in": "Recorded in",
            },
        ),
        "treatment_changes": frame_view(
            "treatment_changes",
            "AEs leading to a systemic-therapy change",
            f["treatment_changes"],
            {"subject_id": "Subject", "ctcae_term": "CTCAE term"},
        ),
        "accrual": frame_view("accrual", "Enrolment by month and site", f["accrual"]),
        "exposure": frame_view(
            "exposure",
            "Radiotherapy delivered, per lesion and course",
            f["exposure"],
            {
                "subject_id": "Subject",
                "course_key": None,
                "lesion_key": None,
                "lesion": "Lesion",
                "course_number": "Course",
                "schedule": "Fractions × dose",
                "fractions": "Fractions",
                "bed_gy": "BED₁₀ (Gy)",
                "eqd2_gy": "EQD2₁₀ (Gy)",
                "liver": "Liver target",
                "status": "Dose",
                "deviation": "BED < minimum",
            },
            "Course 2 or more to a lesion is a re-irradiation. Dose: evaluable, in progress "
            "(fractions may still arrive), or why the BED cannot be judged (queried).",
        ),
        "exposure_by_schedule": frame_view(
            "exposure_by_schedule",
            "Radiotherapy schedules",
            f["exposure_by_schedule"],
            {
                "schedule": "Fractions × dose",
                "bed_gy": "median BED₁₀ (Gy)",
                "deviations": "courses below minimum",
            },
            "Median BED over courses whose dose can be judged.",
        ),
        "oligoprogression": frame_view(
            "oligoprogression", "Oligoprogression category", f["oligoprogression"]
        ),
        "systemic_therapy": frame_view(
            "systemic_therapy",
            "First-line systemic therapy",
            f["systemic_therapy"],
            {
                "agent": "Drug(s)",
                "source": "Source",
                "patients": "Patients",
                "with_dose_change": "with a dose change",
                "with_interruption": "with an interruption",
            },
            "From EX dosing records where sites send them (dose changes and interruptions "
            "counted from them); from the DM field otherwise.",
        ),
        "disposition": frame_view(
            "disposition",
            "Disposition at the cut (safety population)",
            f["disposition"],
            {"status": "Status", "patients": "Patients", "percent": "%"},
            note="The first that applies: died, lost to follow-up, withdrew, on second-line "
            "therapy, progressed, completed. From DM and the DS domain (a death or withdrawal "
            "in either counts) and fatal AEs.",
        ),
        "disposition_events": frame_view(
            "disposition_events",
            "Disposition events recorded (DS)",
            f["disposition_events"],
            {"disposition": "Disposition", "term": "DSDECOD", "patients": "Patients"},
            empty_text="No DS disposition event received.",
        ),
        "disposition_listing": frame_view(
            "disposition_listing",
            "Patients not on study",
            f["disposition_listing"],
            {
                "subject_id": "Subject",
                "site": "Site",
                "status": "Status",
                "death_recorded_in": "Death recorded in",
                "ds_events": "DS events (study day)",
            },
            empty_text="Every patient is on study.",
        ),
        "syndromes": frame_view(
            "syndromes",
            "Derived liver syndromes (RILD, potential Hy's law)",
            f["syndromes"],
            {
                "subject_id": "Subject",
                "ctcae_term": "Syndrome",
                "onset_day": "Onset study day",
                "evidence_summary": "Evidence",
            },
            note="Derived by aewatch from labs and RT dates; listed here, not in the AE "
            "tables (they would double-count the underlying lab AEs). Potential Hy's "
            "law needs clinical judgement in HCC.",
            empty_text="No derived RILD or Hy's law case.",
        ),
        "syndrome_counts": frame_view(
            "syndrome_counts",
            "Derived liver syndromes (RILD, potential Hy's law)",
            f["syndrome_counts"],
            {"ctcae_term": "Syndrome", "patients": "Patients"},
            note="Derived by aewatch from labs and RT dates; not in the AE tables (they "
            "would double-count the lab AEs). Potential Hy's law needs clinical judgement "
            "in HCC. Listing with evidence: closed part.",
            empty_text="No derived RILD or Hy's law case.",
        ),
        "edish_quadrants": frame_view(
            "edish_quadrants",
            "eDISH quadrants (peak post-baseline values)",
            f["edish_quadrants"],
            {"quadrant": "Quadrant", "patients": "Patients"},
            note="Peak ALT or AST ≥ 3 × ULN and peak bilirubin ≥ 2 × ULN: potential Hy's law "
            "(peaks need not be on the same day). Not assessable: no post-baseline "
            "transaminase or bilirubin with a ULN.",
        ),
        "edish": frame_view(
            "edish",
            "Peak liver values per patient (× ULN)",
            f["edish"][f["edish"]["quadrant"] != "Normal range"],
            {
                "subject_id": "Subject",
                "peak_alt_x_uln": "ALT",
                "peak_ast_x_uln": "AST",
                "peak_alp_x_uln": "ALP",
                "peak_bili_x_uln": "Bilirubin",
                "peak_transaminase_x_uln": None,
                "quadrant": "Quadrant",
            },
            note="Patients outside the normal quadrant; all patients are in the CSV files.",
            empty_text="Every patient is in the normal quadrant.",
        ),
        "albi_shift": frame_view(
            "albi_shift",
            "ALBI grade: baseline × worst post-baseline",
            f["albi_shift"],
            SHIFT_HEADERS | {"baseline": "Baseline ALBI grade"},
        ),
        "albi_change": frame_view(
            "albi_change", "ALBI change from baseline, per patient", f["albi_change"]
        ),
        "child_pugh_shift": frame_view(
            "child_pugh_shift",
            "Child-Pugh class: baseline × worst post-baseline",
            f["child_pugh_shift"],
            SHIFT_HEADERS | {"baseline": "Baseline class"},
            note="Needs bilirubin, albumin and INR on the same day; ascites and "
            "encephalopathy points from active CTCAE Ascites/Encephalopathy AEs.",
        ),
        "child_pugh_change": frame_view(
            "child_pugh_change",
            "Child-Pugh score change from baseline, per patient",
            f["child_pugh_change"],
            note="A rise of ≥ 2 points is the non-classic RILD criterion.",
        ),
        "liver_shifts": shift_view("liver_shifts", "Liver lab shifts", f["liver_shifts"]),
        "blood_shifts": shift_view("blood_shifts", "Blood count shifts", f["blood_shifts"]),
        "rule_status": frame_view(
            "rule_status",
            "Stopping rules at the data cut",
            f["rule_status"],
            {
                "rule": "Rule",
                "state": "State",
                "evaluable_n": "Evaluable",
                "toxic_n": "Toxic",
                "stop_at": "Boundary now",
                "cushion": "Cushion",
                "crossed_at_n": "Crossed at n",
                "crossed_on": "Crossed on",
                "pending_n": "Pending",
            },
            note="Evaluated at the clinical cut on the data known at the knowledge time, as "
            "aewatch status --cut does. A crossed rule stays crossed at the n where it "
            "crossed (on the day that patient became evaluable); the boundary now and the "
            "cushion are then no longer the question.",
            empty_text="No stopping rule configured.",
        ),
        "deviation_counts": frame_view(
            "deviation_counts",
            "Protocol deviations",
            f["deviation_counts"],
            empty_text="No protocol deviation.",
        ),
        "deviations": frame_view(
            "deviations",
            "Protocol deviations, per record",
            f["deviations"],
            {"subject_id": "Subject", "deviation": "Deviation", "detail": "Detail"},
            empty_text="No protocol deviation.",
        ),
        "data_currency": frame_view(
            "data_currency",
            "Data currency per site",
            f["data_currency"],
            {
                "site": "Site",
                "patients": "Patients",
                "last_data_received": "Last data received",
                "open_queries": "Open queries",
                "open_rejected": "Rejected rows",
                "held_rows": "Held (subject not in DM)",
                "sae_clocks_overdue": "SAE clocks overdue",
            },
            note="Last data received: the day aewatch last stored a record of the site, any "
            "domain. SAE clocks overdue: sponsor notification due by the cut and the alert "
            "not acknowledged by the knowledge time.",
        ),
        "alerts_by_kind": frame_view(
            "alerts_by_kind", "Alerts queued this month, by kind", f["alerts_by_kind"]
        ),
        "alerts": frame_view(
            "alerts",
            "Alerts queued this month",
            f["alerts"],
            {
                "id": None,
                "created_at": None,
                "sent_at": None,
                "acknowledged_at": None,
                "subject_id": "Subject",
                "requires_ack": "Needs ack",
                "hours_to_send": "Hours to send",
                "hours_to_ack": "Hours to ack",
                "escalation_level": "Escalation",
            },
            note="Times are hours, not dates: exact dates stay inside aewatch (privacy).",
        ),
        "quarantine": frame_view(
            "quarantine", "Quarantined rows (all time, by state)", f["quarantine"]
        ),
        "silent_sites": frame_view(
            "silent_sites",
            "Silent sites",
            f["silent_sites"],
            empty_text="Every site sent data recently.",
        ),
    }
    for name, boundary in tabs.boundaries.items():
        views[f"boundary:{name}"] = boundary_view(name, boundary)
    return views


def boundary_view(name: str, boundary: pd.DataFrame) -> TableView:
    """Runs of evaluable n with the same boundary, as in published tables (n = 3–5 → 3)."""
    rows: list[list[str]] = []
    if {"n", "stop_at"} <= set(boundary.columns):
        for n, stop in zip(boundary["n"], boundary["stop_at"], strict=True):
            stop_text = format_cell(stop) or "no stop"
            if rows and rows[-1][1] == stop_text:
                rows[-1][0] = f"{rows[-1][0].split('–')[0]}–{int(n)}"
            else:
                rows.append([str(int(n)), stop_text])
    return TableView(
        f"boundary-{name}",
        f"Boundary: {name}",
        ["Evaluable patients", "Stop when toxic ≥"],
        rows,
        note="Evaluable patients not listed have no look scheduled.",
        numeric=[True, True],
    )


def shift_view(key: str, title: str, frame: pd.DataFrame) -> TableView:
    headers = {"test": "Test", "baseline_grade": "Baseline grade"}
    for grade in ("0", "1", "2", "3", "4"):
        headers[f"post_{grade}"] = f"→ {grade}"
    headers["post_NA"] = "no post-baseline"
    return frame_view(
        key,
        title,
        frame,
        headers,
        note="Patients by baseline CTCAE grade and worst post-baseline grade, "
        "in the direction that is toxic for the test.",
        empty_text="No graded results.",
    )


def summary_paragraph(
    tabs: ReportTables,
    previous: ReportTables | None,
    cut: DataCut,
    trial_id: str,
    generated_at: datetime,
) -> str:
    """The paragraph the chair reads first: where we are, what changed, what needs action."""
    f, o = tabs.facts, tabs.facts["overview"]
    n = f["safety_population"]
    parts = []
    if cut.clinical_end is not None and (cut.known_at or generated_at) < cut.clinical_end:
        parts.append("PROVISIONAL: the data are as known before the end of the period.")
    known = cut.known_at or generated_at
    parts += [
        f"{trial_id}, clinical cut {cut.clinical_day:%Y-%m-%d}, data as recorded by "
        f"{known:%Y-%m-%d %H:%M} UTC: {f['enrolled']} of {f['planned']} "
        f"planned patients enrolled, {n} started radiotherapy (safety population).",
        f"{_np(o['Any adverse event'], n)} had a treatment-emergent AE, "
        f"{_np(o['Grade ≥ 3'], n)} grade ≥ 3, "
        f"{_np(o['Related grade ≥ 3 (RT or systemic)'], n)} a related grade ≥ 3 AE, "
        f"{_np(o['Serious adverse event'], n)} an SAE; deaths: {f['deaths']}.",
    ]
    rules = tabs.frames["rule_status"]
    for rule in rules.to_dict("records"):
        parts.append(
            f"Stopping rule {rule['rule']}: {str(rule['state']).upper()} "
            f"({tabs.facts['rule_headlines'][rule['rule']]})."
        )
    if rules.empty:
        parts.append("No stopping rule is configured.")
    parts.append(changes_since(previous, tabs))
    parts.append(
        f"Data quality: {f['open_quarantine']} open quarantined row(s), "
        f"{f['silent_sites']} silent site(s), {f['unacknowledged_alerts']} alert(s) "
        "awaiting acknowledgement."
    )
    return " ".join(parts)


def changes_since(previous: ReportTables | None, current: ReportTables) -> str:
    if previous is None:
        return "First report: no previous month to compare."
    now, before = current.facts, previous.facts
    pairs: list[tuple[str, Any, Any]] = [
        ("enrolled", before["enrolled"], now["enrolled"]),
        ("safety population", before["safety_population"], now["safety_population"]),
        ("patients with grade ≥ 3", before["overview"]["Grade ≥ 3"], now["overview"]["Grade ≥ 3"]),
        ("patients with an SAE", before["sae_patients"], now["sae_patients"]),
        ("deaths", before["deaths"], now["deaths"]),
        ("derived liver syndromes", before["syndromes"], now["syndromes"]),
    ]
    changed = [f"{label} {a} → {b}" for label, a, b in pairs if a != b]
    for rule, state in now["rule_states"].items():
        old = before["rule_states"].get(rule)
        if old != state:
            changed.append(f"rule {rule} {old or 'not evaluated'} → {state}")
    if not changed:
        return "No change since last month."
    return "Since last month: " + "; ".join(changed) + "."


def _np(count: int, n: int) -> str:
    return n_percent(int(count), int(n)) if count else "no patient"
