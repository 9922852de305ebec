"""The DSMB monthly safety report: one data cut (end of month, UTC) → HTML (+ PDF) + DB row.

Open-session content only (single-arm, open-label: pooled safety and conduct data,
no efficacy; safety_domain §4.1). Subject IDs only; no calendar dates per patient in
listings (study days instead), no free text (§7).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aewatch import __version__ as aewatch_version
from aewatch.clock import Clock
from aewatch.models import Report
from aewatch.reports import charts, tables
from aewatch.reports.oversight import rule_trajectory
from aewatch.reports.render import render_html, svg_data_uri, write_pdf
from aewatch.reports.sections import ReportTables, compute_sections
from aewatch.reports.snapshot import Snapshot, load_snapshot
from aewatch.reports.views import build_views, summary_paragraph
from aewatch.trials import ensure_trial

REPORT_KIND = "dsmb"
# Tables with calendar dates per patient stay inside aewatch (safety_domain §7).
CSV_PRIVATE = frozenset({"follow_up", "alerts"})


@dataclass(frozen=True)
class ReportResult:
    html_path: Path
    pdf_path: Path | None
    summary_text: str
    tables_sha256: str


def parse_month(month: str) -> tuple[datetime, datetime]:
    """'2026-02' → (2026-02-01 00:00 UTC, 2026-02-28 23:59:59.999999 UTC)."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from exc
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + timedelta(days=days) - timedelta(microseconds=1)


def previous_month(month: str) -> str:
    start, _ = parse_month(month)
    return (start - timedelta(days=1)).strftime("%Y-%m")


def build_dsmb_report(
    sessions: sessionmaker[Session],
    settings: Any,
    month: str,
    clock: Clock,
    out_dir: Path,
    pdf: bool,
) -> ReportResult:
    """Build, write and record the report for ``month``; rebuilding replaces the files."""
    start, cut = parse_month(month)
    _, previous_cut = parse_month(previous_month(month))
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, clock.now())
        snap = load_snapshot(session, trial.id, cut)
        previous_snap = load_snapshot(session, trial.id, previous_cut)
    tabs = compute_sections(snap, settings, start, cut)
    previous = compute_sections(previous_snap, settings, start - timedelta(days=1), previous_cut)
    if previous.facts["registered"] == 0:
        previous = None
    summary = summary_paragraph(tabs, previous, cut, settings.trial.id, clock.now())
    digest = tabs.digest()
    html = render_html(
        "dsmb.html", _context(snap, tabs, settings, month, cut, summary, digest, clock.now())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"dsmb-{settings.trial.id}-{month}"
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(html, encoding="utf-8")
    write_csv_tables(tabs, out_dir / f"{stem}-tables")
    pdf_path = write_pdf(html, out_dir / f"{stem}.pdf", out_dir) if pdf else None
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, clock.now())
        _record(
            session,
            trial.id,
            month,
            cut,
            clock.now(),
            html_path,
            pdf_path,
            digest,
            settings.config_hash,
            summary,
            tabs,
        )
    return ReportResult(html_path, pdf_path, summary, digest)


def write_csv_tables(tabs: ReportTables, folder: Path) -> None:
    """Every table in full, for the DSMB statistician (the HTML/PDF cut long listings)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in sorted(tabs.frames.items()):
        if name in CSV_PRIVATE:
            continue
        frame.to_csv(folder / f"{name}.csv", index=False)


def report_exists(session: Session, trial_pk: int, month: str) -> bool:
    found = session.scalars(
        select(Report.id).where(
            Report.trial_pk == trial_pk, Report.kind == REPORT_KIND, Report.period == month
        )
    ).first()
    return found is not None


def _record(
    session: Session,
    trial_pk: int,
    month: str,
    cut: datetime,
    now: datetime,
    html_path: Path,
    pdf_path: Path | None,
    digest: str,
    config_hash: str,
    summary: str,
    tabs: ReportTables,
) -> None:
    """Insert or update the one row per trial, kind and month."""
    row = session.scalars(
        select(Report).where(
            Report.trial_pk == trial_pk, Report.kind == REPORT_KIND, Report.period == month
        )
    ).first()
    if row is None:
        row = Report(trial_pk=trial_pk, kind=REPORT_KIND, period=month)
        session.add(row)
    row.data_cut = cut
    row.generated_at = now
    row.html_path = str(html_path)
    row.pdf_path = str(pdf_path) if pdf_path else None
    row.tables_sha256 = digest
    row.config_hash = config_hash
    row.summary = {"text": summary, "facts": _jsonable(tabs.facts)}


def _context(
    snap: Snapshot,
    tabs: ReportTables,
    settings: Any,
    month: str,
    cut: datetime,
    summary: str,
    digest: str,
    now: datetime,
) -> dict[str, Any]:
    population = tables.safety_population(
        snap.subjects, snap.rt_courses, settings.trial.safety_population
    )
    events = tables.countable_events(snap.ae, population)
    planned = settings.trial.planned_enrolment
    rule_charts = []
    for name, boundary in sorted(tabs.boundaries.items()):
        trajectory = rule_trajectory(snap.rule_status, name)
        rule_charts.append(
            {
                "name": name,
                "src": svg_data_uri(
                    charts.stopping_boundary_chart(name, boundary, trajectory, planned)
                ),
            }
        )
    n = int(tabs.facts["safety_population"])
    return {
        "trial_id": settings.trial.id,
        "trial_title": settings.trial.title,
        "month": month,
        "cut": cut,
        "generated_at": now,
        "summary": summary,
        "facts": tabs.facts,
        "views": build_views(tabs),
        "charts": {
            "accrual": svg_data_uri(charts.accrual_chart(tabs.frames["accrual"], planned)),
            "soc": svg_data_uri(
                charts.worst_grade_by_soc_chart(tabs.frames["worst_grade_by_soc"], n)
            ),
            "swimmer": svg_data_uri(
                charts.swimmer_chart(tabs.frames["follow_up"], snap.rt_courses, events)
            ),
            "rules": rule_charts,
        },
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
        },
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
