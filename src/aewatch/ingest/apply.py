"""Apply one validated domain table: quarantine its faults, hold rows of unknown
subjects, store the rest, and tell the consequences (grading, rules, alerts)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aewatch.config import Settings
from aewatch.ingest import store
from aewatch.ingest.validate import Checked
from aewatch.models import QuarantineEntry, SourceFile

if TYPE_CHECKING:
    from aewatch.consequences import Consequences

DATE_COLUMNS = {
    "DM": ("enrolled_on", "reference_start", "reference_end", "died_on", "withdrawn_on"),
    "AE": ("onset_on", "end_on", "aware_on"),
    "LB": ("collected_on",),
    "EX": ("start_on", "end_on"),
}


@dataclass
class Counts:
    accepted: int = 0
    versions: int = 0
    pending: int = 0
    queries: int = 0
    quarantined: int = 0


def apply_checked(
    session: Session,
    checked: Checked,
    source: SourceFile,
    trial_pk: int,
    file_name: str,
    now: datetime,
    settings: Settings,
    consequences: Consequences,
) -> Counts:
    from aewatch.pipeline import quarantine_rows

    counts = Counts()
    frame = checked.frame
    if checked.domain == "AE" and not frame.empty:
        from aewatch.grading import code_adverse_events
        from aewatch.ingest.validate import collapse_log_form

        frame, queries = code_adverse_events(collapse_log_form(frame), settings)
        checked.faults.extend(queries)
    rejected_rows = {f.row for f in checked.faults if f.kind == "rejected"}
    counts.quarantined = len(rejected_rows)
    counts.queries = sum(1 for f in checked.faults if f.kind == "query")
    quarantine_rows(
        session,
        checked.faults,
        trial_pk=trial_pk,
        source=source,
        file_name=file_name,
        domain=checked.domain,
        now=now,
    )
    if frame.empty:
        return counts
    if checked.domain == "DM":
        result = store.store_subjects(
            session, trial_pk, frame, source.id, now, carried=checked.columns
        )
        store.touch_sites(session, trial_pk, result.sites, now)
        counts.accepted = result.accepted
        consequences.subjects_changed(result.touched_subjects)
        if result.new_subjects:
            replayed = apply_pending(
                session, trial_pk, result.new_subjects, now, settings, consequences
            )
            counts.versions += replayed.versions
        return counts
    known = store.subject_index(session, trial_pk)
    is_known = frame["USUBJID"].isin(known)
    held = frame.loc[~is_known]
    if not held.empty:
        hold(session, held, checked.domain, trial_pk, source, file_name, now)
        if checked.domain == "AE":
            # An SAE must not wait for DM: the safety officer hears of it now, and the
            # same dedup key keeps the alert single when the row is applied later.
            consequences.held_adverse_events(held)
    ready = frame.loc[is_known].reset_index(drop=True)
    result = store_domain(
        session, checked.domain, ready, known, trial_pk, source.id, now, settings, consequences
    )
    # Counted in the file's rows (log-form records merged into one AE still count each).
    rows_known = checked.frame["USUBJID"].isin(known)
    counts.accepted, counts.pending = int(rows_known.sum()), int((~rows_known).sum())
    counts.versions = result.versions
    return counts


def store_domain(
    session: Session,
    domain: str,
    frame: pd.DataFrame,
    known: dict[str, int],
    trial_pk: int,
    file_pk: int | None,
    now: datetime,
    settings: Settings,
    consequences: Consequences,
) -> store.StoreResult:
    if frame.empty:
        return store.StoreResult()
    if domain == "AE":
        result = store.store_adverse_events(session, trial_pk, frame, known, file_pk, now, now)
        consequences.ae_versions_added(result.new_ae_versions)
    elif domain == "LB":
        result = store.store_labs(session, frame, known, file_pk, now)
        consequences.labs_changed(result.lab_subjects)
    elif domain == "EX":
        from aewatch.grading import course_doses

        result = store.store_courses(session, course_doses(frame, settings), known, file_pk, now)
        consequences.courses_changed(result.course_ids)
    else:  # pragma: no cover - DM is handled by the caller
        raise ValueError(domain)
    consequences.subjects_changed(result.touched_subjects)
    return result


def hold(
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
    records = _json_records(frame.assign(received_at=now.isoformat()))
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
            for record in records
        ],
    )


def apply_pending(
    session: Session,
    trial_pk: int,
    subject_ids: list[str],
    now: datetime,
    settings: Settings,
    consequences: Consequences,
) -> store.StoreResult:
    """Subjects just arrived: store the rows that were waiting for them, oldest first."""
    table = QuarantineEntry.__table__
    waiting = (
        (table.c.trial_pk == trial_pk)
        & (table.c.kind == "pending")
        & (table.c.state == "open")
        & table.c.subject_id.in_(subject_ids)
    )
    entries = session.execute(
        select(table.c.id, table.c.domain, table.c.record, table.c.source_file_pk)
        .where(waiting)
        .order_by(table.c.id)
    ).all()
    total = store.StoreResult()
    if not entries:
        return total
    known = store.subject_index(session, trial_pk)
    keys = {"AE": "ae_key", "LB": "lab_key", "EX": "course_key"}
    for domain in ("EX", "AE", "LB"):
        group = [e for e in entries if e.domain == domain]
        if not group:
            continue
        frame = _frame_from_records([e.record or {} for e in group], domain)
        # Same identity held twice (two exports before DM): the latest export wins.
        frame = frame.drop_duplicates(subset=["USUBJID", keys[domain]], keep="last")
        result = store_domain(
            session,
            domain,
            frame.reset_index(drop=True),
            known,
            trial_pk,
            group[-1].source_file_pk,
            now,
            settings,
            consequences,
        )
        total.versions += result.versions
        total.accepted += result.accepted
    last_id = entries[-1].id
    session.execute(
        update(table)
        .where(waiting & (table.c.id <= last_id))
        .values(state="applied", resolved_at=now)
    )
    return total


def _json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))


def _frame_from_records(records: list[dict[str, Any]], domain: str) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records)
    for column in DATE_COLUMNS.get(domain, ()):
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], errors="coerce", utc=True)
            frame[column] = frame[column].dt.tz_localize(None)
    if "received_at" in frame.columns:
        frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True, errors="coerce")
    for column in ("aeseq", "reported_grade", "site_grade", "fractions"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame
