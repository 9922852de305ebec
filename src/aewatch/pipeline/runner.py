"""One file in, one transaction out: claim, read and prepare the file, run the stages
in one transaction, then file it in done/ or failed/.

A crash anywhere leaves either nothing or everything of a file committed: the file is
moved out of processing/ only after the commit, and a file re-claimed after a crash is
recognised by its sha256 and filed as a duplicate.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from aewatch import audit
from aewatch.clock import Clock
from aewatch.config import Settings
from aewatch.ingest.inbox import Inbox, sha256_of
from aewatch.ingest.readers import UnreadableFile, file_format
from aewatch.pipeline.alerts import course_deviation_alerts, queue_ingest_failure
from aewatch.pipeline.context import FileContext, FileOutcome, PreparedTable
from aewatch.pipeline.exposure import courses_due, review_completed_courses
from aewatch.pipeline.read import read_file
from aewatch.pipeline.transaction import prepare, run_stages
from aewatch.store.locks import lock_subjects
from aewatch.store.sources import ingested_file, source_row
from aewatch.store.subjects import subject_ids
from aewatch.trials import ensure_trial

log = logging.getLogger("aewatch.ingest")


@dataclass
class Pipeline:
    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock
    worker_id: str = "aewatch"

    @property
    def inbox(self) -> Inbox:
        return Inbox(
            Path(self.settings.worker.inbox), self.worker_id, self.settings.worker.settle_seconds
        )

    # -- the poll cycle's ingest step -------------------------------------------------
    def ingest_next(self) -> FileOutcome | None:
        """Claim and ingest one file (orphans from a crash first); None if the inbox is empty."""
        inbox = self.inbox
        for path in inbox.orphans():
            return self.ingest_claimed(path)
        for path in inbox.waiting():
            claimed = inbox.claim(path)  # None: another worker got it first (not an error)
            if claimed is None:
                continue
            try:
                return self.ingest_claimed(claimed)
            except FileNotFoundError:
                if claimed.exists():
                    raise
                # Moved out of processing/ by a person before it was read: nothing of it
                # was committed, and it is not ours to find. Go on with the next file.
                log.warning("file=%s vanished from processing/ before it was read", path.name)
        return None

    def ingest_paths(self, paths: list[Path]) -> list[FileOutcome]:
        """`aewatch ingest`: the worker's exact path for files named on the command line.

        The files are copied into the inbox's processing folder first, so the originals
        are never moved and the same filing rules apply.
        """
        outcomes = []
        inbox = self.inbox
        inbox.ensure()
        for path in paths:
            claimed = inbox.processing / path.name
            shutil.copyfile(path, claimed)
            outcomes.append(self.ingest_claimed(claimed, display=str(path)))
        return outcomes

    def ingest_claimed(self, path: Path, display: str | None = None) -> FileOutcome:
        display = display or path.name
        now = self.clock.now()
        digest = sha256_of(path)
        with self.sessions() as session:
            seen = ingested_file(session, digest)
        if seen is not None:
            self._file(path, digest, now)
            outcome = FileOutcome(display, "duplicate", reason=f"already received as {seen.name}")
            log.info("file=%s status=duplicate sha256=%s", display, digest[:12])
            return outcome
        try:
            tables = read_file(path, self.settings)
        except UnreadableFile as exc:
            return self._fail(path, display, digest, str(exc), now)
        except Exception as exc:  # a reader defect: the file is unreadable, the worker goes on
            log.exception("file=%s cannot be read", display)
            return self._fail(path, display, digest, f"cannot be read: {exc!r}", now)
        try:
            prepared = prepare(tables, self.settings, now)
            outcome = self._ingest_with_retry(path, display, digest, prepared, now)
        except OperationalError:
            raise  # the database is unavailable: leave the file claimed, retry next cycle
        except _AlreadyIngested:
            self._file(path, digest, now)
            return FileOutcome(display, "duplicate", reason="ingested by another worker")
        except Exception as exc:  # a defect must not stop the worker or lose the file
            log.exception("file=%s internal error", display)
            return self._fail(path, display, digest, f"internal error: {exc!r}", now)
        self._file(path, digest, now)
        log.info(
            "file=%s status=done rows=%d accepted=%d versions=%d quarantined=%d pending=%d",
            display,
            outcome.rows,
            outcome.accepted,
            outcome.versions,
            outcome.quarantined,
            outcome.pending,
        )
        return outcome

    def review_courses(self) -> int:
        """Between files: judge radiotherapy courses whose last fraction has just become
        older than the course gap (complete), and queue their deviation alerts in the same
        transaction. Returns the number of courses that changed."""
        now = self.clock.now()
        with self.sessions() as session, session.begin():
            trial = ensure_trial(session, self.settings, now)
            due = courses_due(session, self.settings, trial.id, now)
            if not due:
                return 0
            # The same locks a file about these subjects takes: a review never rebuilds
            # courses under an ingest of the same subject (and is found due again after it).
            lock_subjects(session, trial.id, subject_ids(session, due).values())
            touched = review_completed_courses(
                session, self.settings, trial.id, now, self.worker_id
            )
            requests = course_deviation_alerts(session, self.settings, touched.courses)
            if requests:
                from aewatch.alerts.outbox import enqueue

                enqueue(
                    session,
                    trial.id,
                    requests,
                    now,
                    config_hash=self.settings.config_hash,
                    actor=self.worker_id,
                )
        return len(touched.courses)

    # -- internals ---------------------------------------------------------------------
    def _file(self, path: Path, digest: str, now: datetime, reason: str | None = None) -> None:
        """Move a processed file out of processing/. Its data are already committed, so a
        filing error is logged, never raised: the file would otherwise be re-claimed
        forever (a later re-claim is recognised by its sha256 and filed again)."""
        try:
            if reason is None:
                self.inbox.file_done(path, digest, now)
            else:
                self.inbox.file_failed(path, digest, now, reason)
        except OSError:
            log.exception("file=%s could not be moved out of processing/", path.name)

    def _ingest_with_retry(
        self,
        path: Path,
        display: str,
        digest: str,
        tables: list[PreparedTable],
        now: datetime,
    ) -> FileOutcome:
        """On PostgreSQL two workers may race on the same AE or rule row; the loser's
        transaction rolls back whole and is simply run again on the winner's data."""
        for attempt in range(1, 4):
            try:
                return self._transaction(path, display, digest, tables, now)
            except IntegrityError:
                with self.sessions() as session:
                    if ingested_file(session, digest) is not None:
                        raise _AlreadyIngested() from None
                if attempt == 3:
                    raise
                log.info("file=%s concurrent update, retrying (attempt %d)", display, attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fail(
        self, path: Path, display: str, digest: str, reason: str, now: datetime
    ) -> FileOutcome:
        with self.sessions() as session, session.begin():
            trial = ensure_trial(session, self.settings, now)
            source = source_row(session, digest, trial.id, path, now)
            source.file_format = path.suffix.lower().lstrip(".")[:16]
            source.status, source.reason, source.processed_at = "failed", reason, now
            session.flush()
            audit.record(
                session,
                at=now,
                actor=self.worker_id,
                action="file failed",
                entity="source_file",
                entity_id=source.id,
                detail={"file": path.name, "reason": reason},
                config_hash=self.settings.config_hash,
            )
            alerts = queue_ingest_failure(session, self.settings, trial.id, path.name, reason, now)
        self._file(path, digest, now, reason)
        log.warning("file=%s status=failed reason=%s", display, reason)
        return FileOutcome(display, "failed", reason=reason, alerts=alerts)

    def _transaction(
        self,
        path: Path,
        display: str,
        digest: str,
        tables: list[PreparedTable],
        now: datetime,
    ) -> FileOutcome:
        settings = self.settings
        with self.sessions() as session, session.begin():
            trial = ensure_trial(session, settings, now)
            lock_subjects(session, trial.id, _subjects_of(tables))
            if ingested_file(session, digest) is not None:
                # Another worker ingested the same bytes while this one was preparing
                # them outside the lock: storing them again would repeat its queries.
                raise _AlreadyIngested()
            source = source_row(session, digest, trial.id, path, now)
            source.file_format = file_format(path)
            source.status, source.reason = "done", None
            source.domains = ",".join(sorted({t.domain[:8] for t in tables}))[:64]
            session.flush()
            ctx = FileContext(session, settings, now, self.worker_id, trial.id, source, path.name)
            touched = run_stages(ctx, tables)
            outcome = FileOutcome(
                display,
                "done",
                rows=sum(t.rows for t in tables),
                accepted=touched.accepted,
                versions=touched.versions,
                quarantined=touched.quarantined,
                pending=touched.pending,
                queries=touched.queries,
                alerts=touched.alerts_queued,
                domains=[t.domain for t in tables],
            )
            source.rows, source.accepted = outcome.rows, outcome.accepted
            source.versions, source.quarantined = outcome.versions, outcome.quarantined
            source.pending, source.processed_at = outcome.pending, now
            audit.record(
                session,
                at=now,
                actor=self.worker_id,
                action="file ingested",
                entity="source_file",
                entity_id=source.id,
                detail={k: v for k, v in outcome.as_dict().items() if k != "path"}
                | {"file": path.name, "sha256": digest},
                config_hash=settings.config_hash,
            )
        return outcome


def _subjects_of(tables: list[PreparedTable]) -> set[str]:
    """Every subject a file's rows name: the ones its stages may read and write."""
    subjects: set[str] = set()
    for table in tables:
        if "USUBJID" in table.frame.columns:
            subjects.update(str(s) for s in table.frame["USUBJID"].dropna().unique())
    return subjects


class _AlreadyIngested(Exception):
    """Another worker committed the same file (same sha256) first."""
