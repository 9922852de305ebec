"""Quarantine rows: rejected records, data queries, and rows held for an unknown subject.

Held rows keep their whole prepared record (and the time their file arrived), so they
can be stored exactly as they would have been once the subject's DM record arrives.

Rejections and queries know their record (``record_key``: AESPID, lab test + time, RT
course, "DM"). A later export that stores the record again is the site's answer: what it
no longer raises is resolved (``supersede``), and what it raises again stays the one open
entry instead of a copy per cumulative re-export.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aewatch.models import QuarantineEntry, SourceFile

if TYPE_CHECKING:
    from aewatch.ingest.validate import Fault

DATE_COLUMNS = {
    "DM": ("enrolled_on", "reference_start", "reference_end", "died_on", "withdrawn_on"),
    "AE": ("onset_on", "end_on", "aware_on"),
    "LB": ("collected_on",),
    "EX": ("start_on", "end_on"),
    "DS": ("start_on",),
}


RESOLVABLE = ("rejected", "query")


def quarantine_rows(
    session: Session,
    faults: Sequence[Fault],
    *,
    trial_pk: int,
    source: SourceFile | None,
    file_name: str,
    domain: str,
    now: datetime,
) -> None:
    """Bulk-insert quarantine entries (rejected rows and data queries); one that repeats
    an open entry about the same record is not inserted again."""
    if not faults:
        return
    already = {
        _same(e.subject_id, e.record_key, e.field, e.reason, e.kind)
        for e in _open_about(session, trial_pk, domain, {(f.subject, f.key) for f in faults})
    }
    fresh = [
        f
        for f in faults
        if f.key is None or _same(f.subject, f.key, f.field, f.reason, f.kind) not in already
    ]
    if not fresh:
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
                "record_key": (f.key or "")[:200] or None,
                "field": (f.field or "")[:64] or None,
                "value": None if f.value is None else str(f.value)[:500],
                "reason": f.reason,
                "kind": f.kind,
                "state": "open",
                "record": None,
                "created_at": now,
                "resolved_at": None,
            }
            for f in fresh
        ],
    )


def supersede(
    session: Session,
    trial_pk: int,
    domain: str,
    subjects: Iterable[str],
    records: Callable[[], set[tuple[str, str]]],
    raised_now: Sequence[Fault],
    now: datetime,
) -> int:
    """Resolve the open rejections and queries about ``records()`` (subject, record key)
    of ``subjects`` that this export no longer raises: the site corrected them. Returns
    how many. ``records`` is called only if these subjects have open entries at all: for
    a large clean export the set of its keys is most of the work."""
    candidates = _open_of_subjects(session, trial_pk, domain, subjects)
    if not candidates:
        return 0
    keys = records()
    still = {_same(f.subject, f.key, f.field, f.reason, f.kind) for f in raised_now if f.key}
    stale = [
        e.id
        for e in candidates
        if (e.subject_id, e.record_key) in keys
        and _same(e.subject_id, e.record_key, e.field, e.reason, e.kind) not in still
    ]
    return resolve_entries(session, stale, now)


def resolve_entries(session: Session, ids: Sequence[int], now: datetime) -> int:
    """Mark entries resolved (a corrected export answered them)."""
    table = QuarantineEntry.__table__
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        session.execute(
            update(table)
            .where(table.c.id.in_(chunk), table.c.state == "open")
            .values(state="resolved", resolved_at=now)
        )
    return len(ids)


def open_entries_with_prefix(
    session: Session, trial_pk: int, subject_ids: Sequence[str], prefix: str
) -> list[Any]:
    """Open entries of these subjects whose record key starts with ``prefix``."""
    table = QuarantineEntry.__table__
    found = []
    for start in range(0, len(subject_ids), 500):
        chunk = list(subject_ids[start : start + 500])
        found += session.execute(
            select(table.c.id, table.c.subject_id, table.c.record_key, table.c.reason).where(
                table.c.trial_pk == trial_pk,
                table.c.state == "open",
                table.c.subject_id.in_(chunk),
                table.c.record_key.like(f"{prefix}%"),
            )
        ).all()
    return found


def _open_about(
    session: Session, trial_pk: int, domain: str, records: set[tuple[str | None, str | None]]
) -> list[Any]:
    subjects = {s for s, k in records if s and k}
    found = _open_of_subjects(session, trial_pk, domain, subjects)
    return [r for r in found if (r.subject_id, r.record_key) in records]


def _open_of_subjects(
    session: Session, trial_pk: int, domain: str, subjects: Iterable[str]
) -> list[Any]:
    """Open, resolvable entries of this domain about records of these subjects."""
    ordered = sorted({s for s in subjects if s})
    table = QuarantineEntry.__table__
    found: list[Any] = []
    for start in range(0, len(ordered), 500):
        found += session.execute(
            select(
                table.c.id,
                table.c.subject_id,
                table.c.record_key,
                table.c.field,
                table.c.reason,
                table.c.kind,
            ).where(
                table.c.trial_pk == trial_pk,
                table.c.domain == (domain or "")[:8],
                table.c.state == "open",
                table.c.kind.in_(RESOLVABLE),
                table.c.subject_id.in_(ordered[start : start + 500]),
                table.c.record_key.is_not(None),
            )
        ).all()
    return found


def _same(
    subject: str | None, key: str | None, field: str | None, reason: str, kind: str
) -> tuple[str, str, str, str, str]:
    return ((subject or "")[:64], (key or "")[:200], (field or "")[:64], reason, kind)


def hold_rows(
    session: Session,
    frame: pd.DataFrame,
    domain: str,
    trial_pk: int,
    source: SourceFile,
    file_name: str,
    now: datetime,
) -> None:
    """Rows for a subject not yet in DM wait here, whole, until the subject arrives.

    The receipt time travels with the row: an SAE's reporting clock starts when the site's
    file arrived, not when its DM record finally did."""
    held = _json_records(frame.assign(received_at=now.isoformat()))
    session.execute(
        QuarantineEntry.__table__.insert(),
        [
            {
                "trial_pk": trial_pk,
                "source_file_pk": source.id,
                "file_name": file_name,
                "row_number": int(record["ROW"]),
                "domain": domain[:8],
                "subject_id": record["USUBJID"][:64],
                "field": "USUBJID",
                "value": record["USUBJID"],
                "reason": f"subject '{record['USUBJID']}' is not in DM yet: held until the "
                "subject's DM record arrives (send DM, or correct USUBJID)",
                "kind": "pending",
                "state": "open",
                "record": record,
                "created_at": now,
                "resolved_at": None,
            }
            for record in held
        ],
    )


@dataclass(frozen=True)
class HeldRows:
    """Rows of one domain that were waiting for their subjects, oldest first."""

    domain: str
    frame: pd.DataFrame
    source_file_pk: int | None


def waiting_rows(
    session: Session, trial_pk: int, subject_ids: list[str]
) -> tuple[list[HeldRows], int | None]:
    """The held rows of these subjects by domain (EX, AE, LB, DS), the latest export of an
    identity winning when it was held twice (two exports before DM), and the last
    entry's id (for ``mark_applied``)."""
    table = QuarantineEntry.__table__
    entries = session.execute(
        select(table.c.id, table.c.domain, table.c.record, table.c.source_file_pk)
        .where(_waiting(trial_pk, subject_ids))
        .order_by(table.c.id)
    ).all()
    if not entries:
        return [], None
    keys = {"AE": "ae_key", "LB": "lab_key", "EX": "record_key", "DS": "event_key"}
    out = []
    for domain in ("EX", "AE", "LB", "DS"):
        group = [e for e in entries if e.domain == domain]
        if not group:
            continue
        frame = _frame_from_records([e.record or {} for e in group], domain)
        frame = frame.drop_duplicates(subset=["USUBJID", keys[domain]], keep="last")
        out.append(HeldRows(domain, frame.reset_index(drop=True), group[-1].source_file_pk))
    return out, entries[-1].id


def mark_applied(
    session: Session, trial_pk: int, subject_ids: list[str], up_to_id: int, now: datetime
) -> None:
    """Close the held rows of these subjects read by ``waiting_rows``: they are stored now."""
    table = QuarantineEntry.__table__
    session.execute(
        update(table)
        .where(_waiting(trial_pk, subject_ids) & (table.c.id <= up_to_id))
        .values(state="applied", resolved_at=now)
    )


def _waiting(trial_pk: int, subject_ids: list[str]) -> Any:
    table = QuarantineEntry.__table__
    return (
        (table.c.trial_pk == trial_pk)
        & (table.c.kind == "pending")
        & (table.c.state == "open")
        & table.c.subject_id.in_(subject_ids)
    )


def _json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))


def _frame_from_records(rows: list[dict[str, Any]], domain: str) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows)
    for column in DATE_COLUMNS.get(domain, ()):
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], errors="coerce", utc=True)
            frame[column] = frame[column].dt.tz_localize(None)
    if "received_at" in frame.columns:
        frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True, errors="coerce")
    for column in ("aeseq", "reported_grade", "site_grade", "fractions", "seq"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame
