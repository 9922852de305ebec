"""The polling loop: ingest → (grading, rules, outbox inside each file's transaction)
→ acknowledgement checks → monthly report → send. Thin on purpose: each step is
one call that says whether it did something.

SIGTERM and SIGINT only set a flag; the loop checks it between steps, so the
file being ingested is committed (or rolled back) whole and the process exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aewatch.clock import Clock
from aewatch.config import Settings
from aewatch.memory import LARGE_CYCLE_ROWS, give_back, use_trimmable_arrow_pool
from aewatch.models import Heartbeat
from aewatch.pipeline import FileOutcome, Pipeline

log = logging.getLogger("aewatch.worker")
T = TypeVar("T")


@dataclass
class CycleResult:
    files: list[FileOutcome] = field(default_factory=list)
    alerts_sent: int = 0
    alerts_failed: int = 0
    reminders: int = 0
    silence_alerts: int = 0
    courses_reviewed: int = 0
    report: str | None = None
    # Files were left waiting (the cycle stopped ingesting to send): poll again at once.
    backlog: bool = False


def default_worker_id() -> str:
    """Stable across restarts, so a restarted worker finds the files it had claimed
    (processing/<worker-id>/). Several workers on one host need distinct worker_id."""
    return socket.gethostname()


class Worker:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        worker_id: str | None = None,
        transport: Any = None,
        max_files_per_cycle: int = 1000,
    ) -> None:
        from aewatch.safety.rules import check_boundaries

        # Built once per design and filed, so a restart reads them back; a bad design
        # fails here, before any data is read.
        check_boundaries(settings.stopping_rules, cache=settings.boundary_cache, write=True)
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.worker_id = worker_id or settings.worker.worker_id or default_worker_id()
        self.transport = transport
        self.max_files_per_cycle = max_files_per_cycle
        self.stopping = threading.Event()
        self.pipeline = Pipeline(settings, sessions, clock, self.worker_id)
        self.started_at = clock.now()

    # -- one cycle -------------------------------------------------------------------
    def cycle(self) -> CycleResult:
        result = CycleResult()
        # With a backlog, stop ingesting every send_every_seconds to send what is queued:
        # an SAE alert must not wait behind a thousand files.
        budget_end = self.clock.now() + timedelta(seconds=self.settings.worker.send_every_seconds)
        while not self.stopping.is_set():
            if result.files and (
                len(result.files) >= self.max_files_per_cycle or self.clock.now() >= budget_end
            ):
                result.backlog = True
                break
            try:
                outcome = self.pipeline.ingest_next()
            except Exception:  # e.g. the database went away: send what is queued, retry later
                log.exception("worker=%s ingest failed; retrying next cycle", self.worker_id)
                break
            if outcome is None:
                break
            result.files.append(outcome)
        if self.stopping.is_set():
            return result
        # One failing step (say, PDF rendering) must never keep alerts from being sent.
        result.courses_reviewed = self._guarded("course review", self.pipeline.review_courses, 0)
        result.silence_alerts = self._guarded("site silence", self._check_site_silence, 0)
        result.reminders = self._guarded("acknowledgements", self._check_acknowledgements, 0)
        result.report = self._guarded("monthly report", self._monthly_report, None)
        sent, failed = self._send()
        result.alerts_sent, result.alerts_failed = sent, failed
        self._heartbeat(result)
        if sum(outcome.rows for outcome in result.files) >= LARGE_CYCLE_ROWS:
            give_back(self.sessions.kw.get("bind"))
        return result

    def run(self, *, once: bool = False) -> None:
        """Poll until stopped (SIGTERM/SIGINT), or one full cycle with ``once``."""
        self._install_signal_handlers()
        use_trimmable_arrow_pool()
        self.pipeline.inbox.ensure()
        log.info(
            "worker=%s started inbox=%s db=%s",
            self.worker_id,
            self.settings.worker.inbox,
            self.settings.database_url.split("@")[-1],
        )
        while not self.stopping.is_set():
            backlog = False
            try:
                backlog = self.cycle().backlog
            except Exception:  # the daemon must outlive a bad cycle (e.g. database restart)
                log.exception(
                    "worker=%s cycle failed; retrying after the poll interval", self.worker_id
                )
            if once:
                break
            if not backlog:
                self.stopping.wait(self.settings.worker.poll_seconds)
        log.info("worker=%s stopped", self.worker_id)

    def stop(self, *_: Any) -> None:
        self.stopping.set()

    def _guarded(self, step: str, action: Callable[[], T], fallback: T) -> T:
        try:
            return action()
        except Exception:
            log.exception("worker=%s step=%s failed; the cycle goes on", self.worker_id, step)
            return fallback

    # -- steps -----------------------------------------------------------------------
    def _check_site_silence(self) -> int:
        from aewatch.alerts.silence import queue_site_silence

        return queue_site_silence(self.sessions, self.settings, self.clock.now(), self.worker_id)

    def _check_acknowledgements(self) -> int:
        from aewatch.alerts.sender import check_acknowledgements

        return check_acknowledgements(self.sessions, self.settings, self.clock)

    def _monthly_report(self) -> str | None:
        """Last month's DSMB report, once due: built in a child process so the daemon
        never holds the charting and PDF libraries (aewatch.reports.in_child)."""
        from aewatch.reports.schedule import report_due

        now = self.clock.now()
        if report_due(self.sessions, self.settings, now) is None:
            return None
        from aewatch.reports.in_child import build_report_in_child

        return build_report_in_child(self.settings, now, self.stopping)

    def _send(self) -> tuple[int, int]:
        from aewatch.alerts.sender import drain

        result = drain(
            self.sessions,
            self.settings,
            self.clock,
            worker_id=self.worker_id,
            transport=self.transport,
        )
        return int(getattr(result, "sent", 0)), int(getattr(result, "failed", 0))

    def _heartbeat(self, result: CycleResult) -> None:
        now = self.clock.now()
        detail = {
            "files": len(result.files),
            "sent": result.alerts_sent,
            "failed": result.alerts_failed,
            "pid": os.getpid(),
        }
        with self.sessions() as session, session.begin():
            beat = session.scalars(
                select(Heartbeat).where(Heartbeat.worker_id == self.worker_id)
            ).first()
            if beat is None:
                session.add(
                    Heartbeat(
                        worker_id=self.worker_id,
                        beat_at=now,
                        started_at=self.started_at,
                        detail=detail,
                    )
                )
            else:
                beat.beat_at, beat.detail = now, detail

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
