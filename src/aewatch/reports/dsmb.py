"""The DSMB monthly safety report: one stated data cut → open and closed parts (HTML, PDF,
CSV) + a DB row per part.

Data cut (aewatch.reports.datacut): clinical cut = the month's last day, every data type
by its clinical date; knowledge = everything recorded when the report is generated (or
``as_of``, to replay an earlier report). The report's first lines state both.

Parts (DAMOCLES; safety_domain §4.1): the **open** part holds aggregates only — no
patient-level listing and no subject identifier — and may go to the sponsor and the
investigators; the **closed** part holds the listings by patient (SAEs, deaths, liver
tables and panels, counted events and pending patients of each rule) for the DSMB
only. Both are computed from one set of tables, so they share one sha256. No free text;
study days rather than dates in listings, except the day a pending patient becomes
evaluable, which the DSMB needs (§7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aewatch import __version__ as aewatch_version
from aewatch.clock import Clock
from aewatch.models import Report
from aewatch.reports import charts, edish, tables
from aewatch.reports.datacut import DataCut
from aewatch.reports.months import PARTS, kind_of, parse_month, previous_month
from aewatch.reports.render import render_html, svg_data_uri, write_pdf
from aewatch.reports.sections import ReportTables, compute_facts, compute_sections
from aewatch.reports.snapshot import Snapshot, load_snapshot
from aewatch.reports.views import build_views, rule_views, summary_paragraph
from aewatch.trials import ensure_trial

# Tables with calendar dates per patient stay inside aewatch (safety_domain §7).
CSV_PRIVATE = frozenset({"follow_up", "alerts"})
# The tables of the open part: aggregates, no subject identifier (the CSVs of the open
# part are these only).
OPEN_FRAMES = frozenset(
    {
        "ae_overview",
        "ae_by_patient",
        "ae_by_event",
        "ae_rt_related",
        "ae_systemic_related",
        "ae_any_related",
        "ae_acute_late",
        "ae_rt_acute_late",
        "worst_grade_by_soc",
        "sae_by_term",
        "sae_timeliness_summary",
        "deaths_summary",
        "accrual",
        "exposure_by_schedule",
        "oligoprogression",
        "systemic_therapy",
        "disposition",
        "disposition_events",
        "death_sources",
        "liver_shifts",
        "blood_shifts",
        "albi_shift",
        "child_pugh_shift",
        "syndrome_counts",
        "edish_quadrants",
        "rule_status",
        "deviation_counts",
        "data_currency",
        "alerts_by_kind",
        "quarantine",
        "silent_sites",
    }
)
OPEN_FRAME_PREFIXES = ("rule_trajectory:", "rule_oc:")


class ReportCancelled(Exception):
    """The worker is shutting down: the report is left for the next run."""


def _check(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise ReportCancelled("report building cancelled: the worker is stopping")


@dataclass(frozen=True)
class PartFiles:
    html_path: Path
    pdf_path: Path | None


@dataclass(frozen=True)
class ReportResult:
    parts: dict[str, PartFiles]
    summary_text: str
    tables_sha256: str
    cut: DataCut = field(default_factory=DataCut)
    generated_at: datetime | None = None


def is_open_frame(name: str) -> bool:
    return name in OPEN_FRAMES or name.startswith(OPEN_FRAME_PREFIXES)


def build_dsmb_report(
    sessions: sessionmaker[Session],
    settings: Any,
    month: str,
    clock: Clock,
    out_dir: Path,
    pdf: bool,
    *,
    parts: tuple[str, ...] = PARTS,
    as_of: datetime | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ReportResult:
    """Build, write and record the report for ``month``; rebuilding replaces the files.

    ``as_of``: the knowledge time (default: now, the generation time the report states).
    ``cancelled``: asked between the slow steps (a shutting-down worker); when it says
    yes, ``ReportCancelled`` is raised before anything is recorded, so the next run
    builds the report whole.
    """
    unknown = set(parts) - set(PARTS)
    if unknown or not parts:
        raise ValueError(f"parts must be among {PARTS}, got {parts!r}")
    start, month_end = parse_month(month)
    now = clock.now()
    known_at = as_of or now
    cut = DataCut(clinical_day=month_end.date(), known_at=known_at)
    previous_month_end = parse_month(previous_month(month))[1]
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, now)
        snap = load_snapshot(session, trial.id, cut)
        previous_known = _generated_at(session, trial.id, previous_month(month)) or known_at
        previous_cut = DataCut(
            clinical_day=previous_month_end.date(), known_at=min(previous_known, known_at)
        )
        previous_snap = load_snapshot(session, trial.id, previous_cut, facts_only=True)
    _check(cancelled)
    tabs = compute_sections(snap, settings, start, known_at)
    previous: ReportTables | None = compute_facts(
        previous_snap, settings, previous_cut.known_at or known_at
    )
    if previous is not None and previous.facts["registered"] == 0:
        previous = None
    summary = summary_paragraph(tabs, previous, cut, settings.trial.id, now)
    digest = tabs.digest()
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, PartFiles] = {}
    shared = _shared_charts(tabs, settings)
    for part in parts:
        _check(cancelled)
        html = render_html(
            "dsmb.html",
            _context(snap, tabs, settings, month, cut, summary, digest, now, part, shared),
        )
        stem = f"dsmb-{settings.trial.id}-{month}-{part}"
        html_path = out_dir / f"{stem}.html"
        html_path.write_text(html, encoding="utf-8")
        write_csv_tables(tabs, out_dir / f"{stem}-tables", part)
        _check(cancelled)
        pdf_path = write_pdf(html, out_dir / f"{stem}.pdf", out_dir) if pdf else None
        files[part] = PartFiles(html_path, pdf_path)
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, now)
        for part, written in files.items():
            _record(
                session,
                trial.id,
                kind_of(part),
                month,
                cut,
                now,
                written,
                digest,
                settings.config_hash,
                summary,
                tabs,
            )
    return ReportResult(files, summary, digest, cut, now)


def write_csv_tables(tabs: ReportTables, folder: Path, part: str = "closed") -> None:
    """Every table of the part in full, for the DSMB statistician (the HTML/PDF cut long
    listings); the open part's folder holds its aggregate tables only."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in sorted(tabs.frames.items()):
        if name in CSV_PRIVATE or (part == "open" and not is_open_frame(name)):
            continue
        safe = name.replace(":", "-")
        frame.to_csv(folder / f"{safe}.csv", index=False)


def report_exists(session: Session, trial_pk: int, month: str, part: str = "closed") -> bool:
    found = session.scalars(
        select(Report.id).where(
            Report.trial_pk == trial_pk, Report.kind == kind_of(part), Report.period == month
        )
    ).first()
    return found is not None


def _generated_at(session: Session, trial_pk: int, month: str) -> datetime | None:
    """When the report of ``month`` was generated: its knowledge time, for "since last
    month" to compare with what the DSMB read then."""
    found = session.scalars(
        select(Report.summary).where(
            Report.trial_pk == trial_pk,
            Report.kind.in_([kind_of(p) for p in PARTS]),
            Report.period == month,
        )
    ).first()
    known = (found or {}).get("known_at")
    return datetime.fromisoformat(known) if known else None


def _record(
    session: Session,
    trial_pk: int,
    kind: str,
    month: str,
    cut: DataCut,
    now: datetime,
    files: PartFiles,
    digest: str,
    config_hash: str,
    summary: str,
    tabs: ReportTables,
) -> None:
    """Insert or update the one row per trial, part and month."""
    row = session.scalars(
        select(Report).where(
            Report.trial_pk == trial_pk, Report.kind == kind, Report.period == month
        )
    ).first()
    if row is None:
        row = Report(trial_pk=trial_pk, kind=kind, period=month)
        session.add(row)
    assert cut.clinical_end is not None
    row.data_cut = cut.clinical_end
    row.generated_at = now
    row.html_path = str(files.html_path)
    row.pdf_path = str(files.pdf_path) if files.pdf_path else None
    row.tables_sha256 = digest
    row.config_hash = config_hash
    row.summary = {
        "text": summary,
        "known_at": (cut.known_at or now).isoformat(),
        "facts": _jsonable(tabs.facts),
    }


def _context(
    snap: Snapshot,
    tabs: ReportTables,
    settings: Any,
    month: str,
    cut: DataCut,
    summary: str,
    digest: str,
    now: datetime,
    part: str,
    shared: dict[str, Any],
) -> dict[str, Any]:
    population = tables.safety_population(
        snap.subjects, snap.rt_courses, settings.trial.safety_population
    )
    events = tables.countable_events(snap.ae, population)
    peaks = tabs.frames["edish"]
    chosen = edish.patients_of_interest(peaks)
    chart_set: dict[str, Any] = {
        **shared,
        "edish": svg_data_uri(charts.edish_chart(peaks, label_subjects=part == "closed")),
    }
    if part == "closed":
        chart_set["swimmer"] = svg_data_uri(
            charts.swimmer_chart(tabs.frames["follow_up"], snap.rt_courses, events)
        )
        chart_set["liver_panel"] = (
            svg_data_uri(charts.liver_panel_chart(tabs.frames["liver_panel"], chosen))
            if chosen
            else None
        )
    known = cut.known_at or now
    return {
        "part": part,
        "trial_id": settings.trial.id,
        "trial_title": settings.trial.title,
        "month": month,
        "clinical_cut": cut.clinical_day,
        "known_at": known,
        "replayed": known < now - timedelta(minutes=1),
        "cut_text": cut.describe(now),
        "generated_at": now,
        "summary": summary,
        "facts": tabs.facts,
        "views": build_views(tabs, settings.reports.acute_days),
        "rules": rule_views(tabs),
        "charts": chart_set,
        "liver_panel_subjects": chosen,
        "methods": {
            "ctcae_version": settings.trial.ctcae_version,
            "dictionary_version": _dictionary_version(snap),
            "config_hash": settings.config_hash,
            "tables_sha256": digest,
            "safety_population": settings.trial.safety_population,
            "min_bed_gy": settings.radiotherapy.min_bed_gy,
            "course_gap_days": settings.radiotherapy.course_gap_days,
            "alpha_beta_gy": settings.radiotherapy.alpha_beta_gy,
            "aewatch_version": aewatch_version,
            "swimmer_max": charts.SWIMMER_MAX_PATIENTS,
            "silence_days": settings.alerts.site_silence_days,
            "acute_days": settings.reports.acute_days,
            "clock_hours": settings.clocks.sponsor_notification_hours,
            "panel_max": edish.PANEL_MAX_PATIENTS,
        },
    }


def _shared_charts(tabs: ReportTables, settings: Any) -> dict[str, Any]:
    """The charts both parts show alike (aggregates), drawn once."""
    planned = settings.trial.planned_enrolment
    n = int(tabs.facts["safety_population"])
    rule_charts = []
    for name in sorted(tabs.rules):
        boundary = tabs.boundaries[name]
        trajectory = tabs.frames[f"rule_trajectory:{name}"]
        rule_charts.append(
            {
                "name": name,
                "src": svg_data_uri(
                    charts.stopping_boundary_chart(name, boundary, trajectory, planned)
                ),
            }
        )
    return {
        "accrual": svg_data_uri(charts.accrual_chart(tabs.frames["accrual"], planned)),
        "soc": svg_data_uri(charts.worst_grade_by_soc_chart(tabs.frames["worst_grade_by_soc"], n)),
        "rules": rule_charts,
    }


def _dictionary_version(snap: Snapshot) -> str:
    versions = (
        sorted({str(v) for v in snap.ae["dictionary_version"].dropna().unique()})
        if "dictionary_version" in snap.ae
        else []
    )
    return ", ".join(versions) if versions else "not recorded (terms as reported)"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value
