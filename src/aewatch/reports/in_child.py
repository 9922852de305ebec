"""The daemon's monthly DSMB report, built in a child process.

Building the report loads matplotlib, WeasyPrint and their fonts (about 50 MB) that a
daemon would then hold for the rest of its life; a child process returns all of it to
the system when the report is done, so the daemon stays small and flat between reports.
The child gets the settings and the moment of the parent's clock (so a replayed clock
builds the report a live one would); it opens its own connection and does exactly what
the in-process build does (``maybe_run_monthly_report``: build, record, queue the
emails), so "exactly once" still rests on the same two keys.
"""

from __future__ import annotations

import logging
import multiprocessing
from datetime import datetime
from threading import Event
from typing import Any

log = logging.getLogger("aewatch.worker")


def build_report_in_child(settings: Any, now: datetime, stopping: Event) -> str | None:
    """Run the due report's build in a fresh interpreter; returns the month built (or
    queued), None if the worker was stopped meanwhile (the next run builds it whole).
    An error in the child is raised here, with its message."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, maxtasksperchild=1) as pool:
        pending = pool.apply_async(_build, (settings, now))
        while not pending.ready():
            if stopping.is_set():
                pool.terminate()
                log.info("monthly report left for the next run (worker stopping)")
                return None
            pending.wait(0.5)
        month: str | None = pending.get()
        return month


def _build(settings: Any, now: datetime) -> str | None:
    from aewatch.clock import ManualClock
    from aewatch.db import make_engine, session_factory
    from aewatch.reports.schedule import maybe_run_monthly_report

    engine = make_engine(settings.database_url)
    try:
        return maybe_run_monthly_report(session_factory(engine), settings, ManualClock(now))
    finally:
        engine.dispose()
