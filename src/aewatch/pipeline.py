"""One file in, one transaction: store → grade → rules → outbox (DESIGN "The flow").

A crash anywhere leaves either nothing or everything of a file committed: the
file is moved out of processing/ only after the commit, and a file re-claimed
after a crash is recognised by its sha256 and filed as a duplicate.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from aewatch import audit
from aewatch.clock import Clock
from aewatch.config import Settings
from aewatch.ingest.inbox import Inbox, sha256_of
from aewatch.ingest.mapping import DomainTable, source_for, to_domain_tables
from aewatch.ingest.readers import UnreadableFile, file_format, read_tables
from aewatch.ingest.validate import Checked, Fault, check_table
from aewatch.models import QuarantineEntry, SourceFile
from aewatch.trials import ensure_trial

log = logging.getLogger("aewatch.ingest")

DOMAIN_ORDER = {"DM": 0, "EX": 1, "AE": 2, "LB": 3}


@dataclass
class FileOutcome:
    """What happened to one file: the figures a data manager reconciles against."""

    path: str
    status: str  # done | failed | duplicate
    rows: int = 0
    accepted: int = 0
    versions: int = 0
    quarantined: int = 0
    pending: int = 0
    queries: int = 0
    alerts: int = 0
    reason: str | None = None
    domains: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
            claimed = inbox.claim(path)
            if claimed is not None:
                return self.ingest_claimed(claimed)
        return None

    def ingest_paths(self, paths: list[Path]) -> list[FileOutcome]:
        """`aewatch ingest`: the worker's exact path for files named on the command line.

        The files are copied into the inbox's processing folder first, so the originals
        are never moved and the same filing rules apply.
        """
        import shutil

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
            seen = session.scalars(
                select(SourceFile).where(SourceFile.sha256 == digest, SourceFile.status == "done")
            ).first()
        if seen is not None:
            self._file(path, digest, now)
            outcome = FileOutcome(display, "duplicate", reason=f"already received as {seen.name}")
            log.info("file=%s status=duplicate sha256=%s", display, digest[:12])
            return outcome
        try:
            tables = _read(path, self.settings)
        except UnreadableFile as exc:
            return self._fail(path, display, digest, str(exc), now)
        except Exception as exc:  # a reader defect: the file is unreadable, the worker goes on
            log.exception("file=%s cannot be read", display)
            return self._fail(path, display, digest, f"cannot be read: {exc!r}", now)
        try:
            outcome = self._ingest_with_retry(path, display, digest, tables, now)
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
        self, path: Path, display: str, digest: str, tables: list[DomainTable], now: datetime
    ) -> FileOutcome:
        """On PostgreSQL two workers may race on the same AE or rule row; the loser's
        transaction rolls back whole and is simply run again on the winner's data."""
        for attempt in range(1, 4):
            try:
                return self._ingest_tables(path, display, digest, tables, now)
            except IntegrityError:
                with self.sessions() as session:
                    done = (SourceFile.sha256 == digest) & (SourceFile.status == "done")
                    if session.scalar(select(SourceFile.id).where(done)):
                        raise _AlreadyIngested() from None
                if attempt == 3:
                    raise
                log.info("file=%s concurrent update, retrying (attempt %d)", display, attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fail(
        self, path: Path, display: str, digest: str, reason: str, now: datetime
    ) -> FileOutcome:
        from aewatch.consequences import queue_ingest_failure

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

    def _ingest_tables(
        self, path: Path, display: str, digest: str, tables: list[DomainTable], now: datetime
    ) -> FileOutcome:
        from aewatch.consequences import Consequences
        from aewatch.ingest.apply import apply_checked

        settings = self.settings
        outcome = FileOutcome(display, "done")
        with self.sessions() as session, session.begin():
            trial = ensure_trial(session, settings, now)
            lock_trial(session, trial.id)
            source = source_row(session, digest, trial.id, path, now)
            source.file_format = file_format(path)
            source.status, source.reason = "done", None
            source.domains = ",".join(sorted({t.domain for t in tables}))
            session.flush()
            consequences = Consequences(session, settings, trial.id, now, self.worker_id)
            for table in sorted(tables, key=lambda t: DOMAIN_ORDER.get(t.domain, 9)):
                bad_rows = _problem_faults(table)
                outcome.rows += len(table.frame) + len(bad_rows)
                if table.domain not in DOMAIN_ORDER:
                    faults = [
                        Fault(
                            int(r),
                            "DOMAIN",
                            table.domain or None,
                            f"domain '{table.domain or '?'}' is not read by aewatch "
                            "(expected DM, AE, LB or EX)",
                        )
                        for r in table.frame["ROW"]
                    ]
                    checked = Checked(
                        table.domain,
                        table.frame.iloc[0:0],
                        faults + bad_rows,
                        rows=len(table.frame),
                    )
                else:
                    checked = check_table(table.domain, table.frame, settings.trial.studies)
                    checked.faults.extend(bad_rows)
                outcome.domains.append(table.domain)
                counts = apply_checked(
                    session, checked, source, trial.id, path.name, now, settings, consequences
                )
                outcome.accepted += counts.accepted
                outcome.versions += counts.versions
                outcome.pending += counts.pending
                outcome.queries += counts.queries
                outcome.quarantined += counts.quarantined
            outcome.alerts = consequences.finish()
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


def source_row(
    session: Session, digest: str, trial_pk: int, path: Path, now: datetime
) -> SourceFile:
    """The file's row: new, or the row of an earlier failed attempt with the same bytes
    (a file that failed, e.g. on a since-fixed mapping, can be sent again and is taken)."""
    source = session.scalars(select(SourceFile).where(SourceFile.sha256 == digest)).first()
    if source is None:
        source = SourceFile(sha256=digest, received_at=now, status="processing")
        session.add(source)
    source.trial_pk, source.name = trial_pk, path.name[:300]
    source.size_bytes = path.stat().st_size
    return source


def lock_trial(session: Session, trial_pk: int) -> None:
    """Serialise ingest transactions of one trial across workers (PostgreSQL).

    AE versions and rule status are read-modify-write; two workers interleaving them
    would race on the same rows. A transaction-scoped advisory lock per trial makes
    them queue instead (reading and parsing still run in parallel; trials do not block
    each other). SQLite needs nothing: BEGIN IMMEDIATE already serialises writers.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0xAE00 + trial_pk})


class _AlreadyIngested(Exception):
    """Another worker committed the same file (same sha256) first."""


def _read(path: Path, settings: Settings) -> list[DomainTable]:
    tables = read_tables(path)
    source = source_for(path.name, settings.sources)
    return to_domain_tables(tables, path.name, source)


def _problem_faults(table: DomainTable) -> list[Fault]:
    return [Fault(row, None, None, reason) for row, reason in table.problems]


def quarantine_rows(
    session: Session,
    faults: list[Fault],
    *,
    trial_pk: int,
    source: SourceFile | None,
    file_name: str,
    domain: str,
    now: datetime,
) -> None:
    """Bulk-insert quarantine entries (rejected rows and data queries)."""
    if not faults:
        return
    session.execute(
        QuarantineEntry.__table__.insert(),
        [
            {
                "trial_pk": trial_pk,
                "source_file_pk": source.id if source else None,
                "file_name": file_name[:300],
                "row_number": f.row,
                "domain": (domain or "")[:8] or None,
                "subject_id": (f.subject or "")[:64] or None,
                "field": (f.field or "")[:64] or None,
                "value": None if f.value is None else str(f.value)[:500],
                "reason": f.reason,
                "kind": f.kind,
                "state": "open",
                "record": None,
                "created_at": now,
                "resolved_at": None,
            }
            for f in faults
        ],
    )
