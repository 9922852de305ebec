"""Monthly DSMB report: built on or after the configured day, each part emailed once.

"Exactly once" rests on two keys, not on timing: the ``reports`` row (one per trial,
part and month) says the part exists, and the alert's dedup key
``dsmb-report:<trial>:<YYYY-MM>:<part>`` is unique in the outbox. A crash between
building and queueing is healed on the next poll: the row exists, the email does not,
so only the email is queued. The open part goes to ``alerts.dsmb_open``, the closed
part to ``alerts.dsmb``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aewatch.clock import Clock
from aewatch.models import Alert, Report
from aewatch.reports.months import PARTS, kind_of, previous_month
from aewatch.trials import ensure_trial

if TYPE_CHECKING:
    from aewatch.reports.dsmb import ReportResult


def due_month(now_month: str, day: int, dsmb_day: int) -> str | None:
    """The month to report on at this moment: the previous one, once the day has come."""
    return previous_month(now_month) if day >= dsmb_day else None


def maybe_run_monthly_report(
    sessions: sessionmaker[Session],
    settings: Any,
    clock: Clock,
    cancelled: Callable[[], bool] | None = None,
) -> str | None:
    """Build and queue last month's report if due and not done; returns the month or None.

    ``cancelled``: a stopping worker abandons the build (``ReportCancelled``); nothing is
    recorded, so the next run builds it."""
    now = clock.now()
    month = report_due(sessions, settings, now)
    if month is None:
        return None
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, now)
        existing = {part: _report_row(session, trial.id, month, part) for part in PARTS}
    from aewatch.reports.dsmb import PartFiles, ReportResult, build_dsmb_report

    missing = tuple(part for part in PARTS if existing[part] is None)
    if missing:
        # Both parts come from one build, so they share one data cut and one sha256.
        result = build_dsmb_report(
            sessions,
            settings,
            month,
            clock,
            Path(settings.reports.out_dir),
            settings.reports.pdf,
            cancelled=cancelled,
        )
    else:
        rows = {part: row for part, row in existing.items() if row is not None}
        any_row = next(iter(rows.values()))
        result = ReportResult(
            parts={
                part: PartFiles(
                    Path(row.html_path or ""), Path(row.pdf_path) if row.pdf_path else None
                )
                for part, row in rows.items()
            },
            summary_text=(any_row.summary or {}).get("text", ""),
            tables_sha256=any_row.tables_sha256 or "",
        )
    queue_report_email(sessions, settings, month, result, clock)
    return month


def report_due(sessions: sessionmaker[Session], settings: Any, now: datetime) -> str | None:
    """The month whose report is due at ``now`` and not yet both built and queued: a few
    indexed reads, so the daemon can ask at every cycle without building anything."""
    month = due_month(now.strftime("%Y-%m"), now.day, settings.reports.dsmb_day_of_month)
    if month is None:
        return None
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, now)
        done = all(
            _report_row(session, trial.id, month, part) is not None
            and _email_queued(session, trial.id, settings.trial.id, month, part)
            for part in PARTS
        )
    return None if done else month


def dedup_key(trial_id: str, month: str, part: str) -> str:
    return f"dsmb-report:{trial_id}:{month}:{part}"


def queue_report_email(
    sessions: sessionmaker[Session],
    settings: Any,
    month: str,
    result: ReportResult,
    clock: Clock,
) -> list[str]:
    """Queue each built part to its list; returns the parts newly queued."""
    try:
        from aewatch.alerts.outbox import enqueue
        from aewatch.alerts.rules import dsmb_report_alert
    except ImportError:
        return []  # aewatch.alerts not installed yet: the reports rows still record it
    queued = []
    for part, files in result.parts.items():
        attachments = [str(files.pdf_path)] if files.pdf_path else []
        request = dsmb_report_alert(
            month,
            attachments,
            {
                "Summary": result.summary_text,
                "Report": files.html_path.name,
                "Tables sha256": result.tables_sha256,
            },
            settings,
            part=part,
        )
        with sessions() as session, session.begin():
            trial = ensure_trial(session, settings, clock.now())
            if _email_queued(session, trial.id, settings.trial.id, month, part):
                continue
            enqueue(session, trial.id, [request], clock.now(), config_hash=settings.config_hash)
        queued.append(part)
    return queued


def _report_row(session: Session, trial_pk: int, month: str, part: str) -> Report | None:
    return session.scalars(
        select(Report).where(
            Report.trial_pk == trial_pk, Report.kind == kind_of(part), Report.period == month
        )
    ).first()


def _email_queued(session: Session, trial_pk: int, trial_id: str, month: str, part: str) -> bool:
    """True when queued, or when there is no outbox to queue into (nothing more to do)."""
    try:
        import aewatch.alerts.outbox  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return True
    found = session.scalars(
        select(Alert.id).where(
            Alert.trial_pk == trial_pk, Alert.dedup_key == dedup_key(trial_id, month, part)
        )
    ).first()
    return found is not None
