"""Monthly DSMB report: built on or after the configured day, emailed exactly once.

"Exactly once" rests on two keys, not on timing: the ``reports`` row (one per trial,
kind and month) says the report exists, and the alert's dedup key
``dsmb-report:<trial>:<YYYY-MM>`` is unique in the outbox. A crash between building
and queueing is healed on the next poll: the row exists, the email does not, so only
the email is queued.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aewatch.clock import Clock
from aewatch.models import Alert, Report
from aewatch.reports.dsmb import (
    REPORT_KIND,
    ReportResult,
    build_dsmb_report,
    previous_month,
)
from aewatch.trials import ensure_trial


def due_month(now_month: str, day: int, dsmb_day: int) -> str | None:
    """The month to report on at this moment: the previous one, once the day has come."""
    return previous_month(now_month) if day >= dsmb_day else None


def maybe_run_monthly_report(
    sessions: sessionmaker[Session], settings: Any, clock: Clock
) -> str | None:
    """Build and queue last month's report if due and not done; returns the month or None."""
    now = clock.now()
    month = due_month(now.strftime("%Y-%m"), now.day, settings.reports.dsmb_day_of_month)
    if month is None:
        return None
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, now)
        existing = _report_row(session, trial.id, month)
        queued = _email_queued(session, trial.id, settings.trial.id, month)
    if existing is not None and queued:
        return None
    if existing is None:
        result = build_dsmb_report(
            sessions, settings, month, clock, Path(settings.reports.out_dir), settings.reports.pdf
        )
    else:
        result = ReportResult(
            html_path=Path(existing.html_path or ""),
            pdf_path=Path(existing.pdf_path) if existing.pdf_path else None,
            summary_text=(existing.summary or {}).get("text", ""),
            tables_sha256=existing.tables_sha256 or "",
        )
    queue_report_email(sessions, settings, month, result, clock)
    return month


def dedup_key(trial_id: str, month: str) -> str:
    return f"dsmb-report:{trial_id}:{month}"


def queue_report_email(
    sessions: sessionmaker[Session],
    settings: Any,
    month: str,
    result: ReportResult,
    clock: Clock,
) -> bool:
    """Queue the report email to the DSMB list; False if already queued or no outbox yet."""
    try:
        from aewatch.alerts.outbox import enqueue
        from aewatch.alerts.rules import dsmb_report_alert
    except ImportError:
        return False  # aewatch.alerts not installed yet: the reports row still records it
    attachments = [str(result.pdf_path)] if result.pdf_path else []
    request = dsmb_report_alert(
        month,
        attachments,
        {
            "Summary": result.summary_text,
            "Report": result.html_path.name,
            "Tables sha256": result.tables_sha256,
        },
        settings,
    )
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, clock.now())
        if _email_queued(session, trial.id, settings.trial.id, month):
            return False
        enqueue(session, trial.id, [request], clock.now(), config_hash=settings.config_hash)
    return True


def _report_row(session: Session, trial_pk: int, month: str) -> Report | None:
    return session.scalars(
        select(Report).where(
            Report.trial_pk == trial_pk, Report.kind == REPORT_KIND, Report.period == month
        )
    ).first()


def _email_queued(session: Session, trial_pk: int, trial_id: str, month: str) -> bool:
    """True when queued, or when there is no outbox to queue into (nothing more to do)."""
    try:
        import aewatch.alerts.outbox  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return True
    found = session.scalars(
        select(Alert.id).where(
            Alert.trial_pk == trial_pk, Alert.dedup_key == dedup_key(trial_id, month)
        )
    ).first()
    return found is not None
