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

from aewatch.models import Alert, Report

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
    """Each stopping rule now, exactly as `aewatch status` evaluates it, drawn as the DSMB
    report draws it: as it happened, the crossing latched where it crossed."""
    from aewatch.commands.status import evaluate_statuses, status_rows
    from aewatch.reports.oversight import boundary_rows
    from aewatch.reports.stopping import trajectory

    settings = runtime.settings
    evaluated = evaluate_statuses(ReadOnlyTrial(settings, runtime.sessions, runtime.clock))
    boundaries = boundary_rows(settings, _no_history())
    descriptions = {rule.name: rule.description for rule in settings.stopping_rules}
    views = []
    for (state, _), status in zip(evaluated, status_rows(evaluated), strict=True):
        name = status["rule"]
        steps = tuple(
            (
                int(row["n"]),
                bool(row["toxic"]),
                int(row["toxic_n"]),
                None if _missing(row["stop_at"]) else int(row["stop_at"]),
                bool(row["crossed_here"]),
            )
            for row in trajectory(state).to_dict("records")
        )
        boundary = boundaries.get(name)
        bounds = (
            ()
            if boundary is None
            else tuple(
                (int(n), None if _missing(b) else int(b))
                for n, b in zip(boundary["n"], boundary["stop_at"], strict=True)
            )
        )
        chart = _chart(name, bounds, steps, settings.trial.planned_enrolment)
        views.append(
            RuleView(status=status, description=descriptions.get(name, ""), chart_src=chart)
        )
    return views


def _no_history() -> Any:
    """``boundary_rows`` takes the stored evaluations; the configured boundaries need none."""
    import pandas as pd

    return pd.DataFrame(columns=["rule_name", "stop_at", "evaluable_n"])


def _missing(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


@lru_cache(maxsize=64)
def _chart(
    name: str,
    bounds: tuple[tuple[int, int | None], ...],
    steps: tuple[tuple[int, bool, int, int | None, bool], ...],
    planned: int,
) -> str:
    """The DSMB report's boundary chart, as a data: URI (the page loads nothing else).
    Cached by its inputs: matplotlib takes tens of milliseconds per chart."""
    import pandas as pd

    from aewatch.reports.charts import stopping_boundary_chart
    from aewatch.reports.render import svg_data_uri

    boundary = pd.DataFrame(bounds, columns=["n", "stop_at"]).astype({"stop_at": "Int64"})
    trajectory = pd.DataFrame(
        steps, columns=["n", "toxic", "toxic_n", "stop_at", "crossed_here"]
    ).astype({"stop_at": "Int64", "toxic": bool, "crossed_here": bool})
    return svg_data_uri(stopping_boundary_chart(name, boundary, trajectory, planned))


def counts(session: Session, settings: Any, by: str, now: datetime) -> dict[str, Any]:
    """The document `aewatch counts --by BY --format json` prints at its default data cut
    (today, everything recorded), from the counting it is tested against."""
    from aewatch.reports.counting import count_adverse_events, trial_pk_for
    from aewatch.reports.datacut import DataCut

    result = count_adverse_events(
        session,
        trial_pk_for(session, settings.trial.id),
        by=by,
        cut=DataCut.at(None, None, now),
        safety_population=settings.trial.safety_population,
    )
    return result.document()


# The board shows the open part only: the closed part (patient listings) is the DSMB's.
BOARD_REPORT_KIND = "dsmb-open"


def latest_report(session: Session, trial_pk: int | None) -> LatestReport | None:
    """The most recent month's DSMB report, open part (as generated; a rebuild replaces
    it)."""
    if trial_pk is None:
        return None
    row = session.scalars(
        select(Report)
        .where(Report.trial_pk == trial_pk, Report.kind == BOARD_REPORT_KIND)
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
    """A stored open-part report's file, only ever a path recorded by the report builder."""
    row = session.get(Report, report_id)
    if row is None or trial_pk is None or row.trial_pk != trial_pk:
        return None
    if row.kind != BOARD_REPORT_KIND:
        return None
    path = row.html_path if kind == "html" else row.pdf_path
    return Path(path) if path and Path(path).is_file() else None
