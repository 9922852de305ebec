"""The safety board's content, read-only: open alerts and their clocks, the stopping
rules with their boundary charts, current counts and the latest DSMB report.

Each number comes from the implementation the command line uses, so the board and the
CLI agree for the same database: counts from ``reports.counting`` (`aewatch counts`),
rule states from ``commands.status.current_status`` (`aewatch status`), boundaries and
charts from ``reports.oversight`` and ``reports.charts`` (the DSMB report). Subject IDs
only; every text is autoescaped by the templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aewatch.models import Alert, Report, RuleStatusRecord

COUNT_BY = ("term", "soc", "grade", "site", "subject")


@dataclass(frozen=True)
class Deadline:
    label: str
    due_at: datetime


@dataclass(frozen=True)
class OpenAlert:
    """An alert still waiting for someone to acknowledge it."""

    id: int
    kind: str
    subject_id: str | None
    subject_line: str
    created_at: datetime
    status: str
    escalation_level: int
    waiting_hours: float
    next_step_at: datetime
    deadlines: tuple[Deadline, ...]


@dataclass(frozen=True)
class RuleView:
    """One stopping rule as `aewatch status` states it, with its boundary chart."""

    status: dict[str, Any]
    description: str
    chart_src: str


@dataclass(frozen=True)
class LatestReport:
    id: int
    period: str
    data_cut: datetime
    generated_at: datetime
    summary: str
    has_html: bool
    has_pdf: bool


def open_alerts(
    session: Session, trial_pk: int | None, settings: Any, now: datetime
) -> list[OpenAlert]:
    """Unacknowledged alerts that need acknowledging, most urgent first, with when the
    next reminder and escalation step falls due (the escalation module's schedule)."""
    if trial_pk is None:
        return []
    rows = session.scalars(
        select(Alert)
        .where(
            Alert.trial_pk == trial_pk,
            Alert.requires_ack.is_(True),
            Alert.acknowledged_at.is_(None),
        )
        .order_by(Alert.priority, Alert.created_at, Alert.id)
    ).all()
    return [
        OpenAlert(
            id=row.id,
            kind=row.kind,
            subject_id=row.subject_id,
            subject_line=row.subject_line,
            created_at=row.created_at,
            status=row.status,
            escalation_level=row.escalation_level,
            waiting_hours=(now - row.created_at).total_seconds() / 3600,
            next_step_at=next_escalation_step(row.created_at, settings.alerts, now),
            deadlines=_deadlines(row),
        )
        for row in rows
    ]


def next_escalation_step(created_at: datetime, alerts: Any, now: datetime) -> datetime:
    """When the next reminder (and escalation level) is queued if nobody acknowledges:
    ``ack_escalate_after_hours`` after queueing, then every ``reminder_every_hours``."""
    first = created_at + timedelta(hours=alerts.ack_escalate_after_hours)
    every = alerts.reminder_every_hours
    if now < first or every <= 0:
        return first
    steps = int((now - first).total_seconds() // (every * 3600)) + 1
    return first + timedelta(hours=every * steps)


def _deadlines(row: Alert) -> tuple[Deadline, ...]:
    context = (row.payload or {}).get("context", {})
    found = []
    for deadline in context.get("clock", {}).get("deadlines", []):
        try:
            found.append(
                Deadline(str(deadline["label"]), datetime.fromisoformat(str(deadline["due_at"])))
            )
        except (KeyError, ValueError):
            continue
    return tuple(sorted(found, key=lambda d: d.due_at))


@dataclass(frozen=True)
class ReadOnlyTrial:
    """The runtime as `aewatch status` sees it, except that looking up the trial never
    creates its row: a GET on the board writes nothing, even on an empty database."""

    settings: Any
    sessions: Any
    clock: Any

    def trial_pk(self, session: Session) -> int:
        from aewatch.reports.counting import trial_pk_for

        found = trial_pk_for(session, self.settings.trial.id)
        return -1 if found is None else found  # no trial yet: nothing to evaluate


def rule_views(runtime: Any) -> list[RuleView]:
    """Each stopping rule now, exactly as `aewatch status` evaluates it."""
    from aewatch.commands.status import current_status
    from aewatch.db import frame_of
    from aewatch.reports.counting import trial_pk_for
    from aewatch.reports.oversight import boundary_rows, rule_trajectory

    settings = runtime.settings
    statuses = current_status(ReadOnlyTrial(settings, runtime.sessions, runtime.clock))
    with runtime.sessions() as session:
        trial_pk = trial_pk_for(session, settings.trial.id)
        history = frame_of(
            session,
            select(
                RuleStatusRecord.id,
                RuleStatusRecord.rule_name,
                RuleStatusRecord.evaluated_at,
                RuleStatusRecord.evaluable_n,
                RuleStatusRecord.toxic_n,
                RuleStatusRecord.stop_at,
                RuleStatusRecord.state,
            )
            .where(RuleStatusRecord.trial_pk == (trial_pk or -1))
            .order_by(RuleStatusRecord.id),
            ["id", "rule_name", "evaluated_at", "evaluable_n", "toxic_n", "stop_at", "state"],
        )
    boundaries = boundary_rows(settings, history)
    descriptions = {rule.name: rule.description for rule in settings.stopping_rules}
    views = []
    for status in statuses:
        name = status["rule"]
        trajectory = rule_trajectory(history, name)
        points = tuple(
            zip(
                trajectory["evaluable_n"].astype(int),
                trajectory["toxic_n"].astype(int),
                strict=True,
            )
        )
        now_point = (int(status["evaluable_n"]), int(status["toxic_n"]))
        if not points or points[-1] != now_point:
            points = (*points, now_point)  # the chart ends where the table stands
        boundary = boundaries.get(name)
        steps = (
            ()
            if boundary is None
            else tuple(
                (int(n), None if _missing(b) else int(b))
                for n, b in zip(boundary["n"], boundary["stop_at"], strict=True)
            )
        )
        chart = _chart(name, steps, points, settings.trial.planned_enrolment)
        views.append(
            RuleView(status=status, description=descriptions.get(name, ""), chart_src=chart)
        )
    return views


def _missing(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


@lru_cache(maxsize=64)
def _chart(
    name: str,
    steps: tuple[tuple[int, int | None], ...],
    points: tuple[tuple[int, int], ...],
    planned: int,
) -> str:
    """The DSMB report's boundary chart, as a data: URI (the page loads nothing else).
    Cached by its inputs: matplotlib takes tens of milliseconds per chart."""
    import pandas as pd

    from aewatch.reports.charts import stopping_boundary_chart
    from aewatch.reports.render import svg_data_uri

    boundary = pd.DataFrame(steps, columns=["n", "stop_at"]).astype({"stop_at": "Int64"})
    trajectory = pd.DataFrame(points, columns=["evaluable_n", "toxic_n"])
    return svg_data_uri(stopping_boundary_chart(name, boundary, trajectory, planned))


def counts(session: Session, settings: Any, by: str) -> dict[str, Any]:
    """The document `aewatch counts --by BY --format json` prints, from the same code."""
    from aewatch.reports.counting import count_adverse_events, trial_pk_for

    result = count_adverse_events(
        session,
        trial_pk_for(session, settings.trial.id),
        by=by,
        safety_population=settings.trial.safety_population,
    )
    return result.document()


def latest_report(session: Session, trial_pk: int | None) -> LatestReport | None:
    """The most recent month's DSMB report (as generated; a rebuild replaces it)."""
    if trial_pk is None:
        return None
    row = session.scalars(
        select(Report)
        .where(Report.trial_pk == trial_pk, Report.kind == "dsmb")
        .order_by(Report.period.desc(), Report.generated_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return LatestReport(
        id=row.id,
        period=row.period,
        data_cut=row.data_cut,
        generated_at=row.generated_at,
        summary=str((row.summary or {}).get("text", "")),
        has_html=bool(row.html_path) and Path(row.html_path).is_file(),
        has_pdf=bool(row.pdf_path) and Path(str(row.pdf_path)).is_file(),
    )


def report_file(session: Session, trial_pk: int | None, report_id: int, kind: str) -> Path | None:
    """A stored report's file, only ever a path recorded by the report builder."""
    row = session.get(Report, report_id)
    if row is None or trial_pk is None or row.trial_pk != trial_pk:
        return None
    path = row.html_path if kind == "html" else row.pdf_path
    return Path(path) if path and Path(path).is_file() else None
