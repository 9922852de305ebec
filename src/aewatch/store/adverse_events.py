"""Adverse events and their versions (DESIGN invariant 1).

An unchanged re-export is a no-op, a changed one is a new version, and history is
never overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from aewatch.db import frame_of
from aewatch.ingest.dates import awareness_utc, period_end
from aewatch.models import AdverseEvent, AeVersion, Subject
from aewatch.store.bulk import allocate_ids, insert_columns
from aewatch.store.frames import columns_of, content_hash
from aewatch.store.result import StoreResult

# AESEQ is left out: sites renumber it, and that is not a change of the AE. ``implausible``
# is left out too: an implausible date is stored as unknown, which the hash already sees.
AE_CONTENT = (
    "verbatim_term",
    "decoded_term",
    "body_system",
    "reported_grade",
    "severity",
    "serious",
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "medically_important",
    "rt_relation",
    "systemic_relation",
    "outcome",
    "action_taken",
    "grade",
    "onset_on",
    "onset_precision",
    "end_on",
    "end_precision",
)


def store_adverse_events(
    session: Session,
    trial_pk: int,
    frame: pd.DataFrame,
    subjects: dict[str, int],
    file_pk: int | None,
    now: datetime,
    aware_default: datetime,
    *,
    origin: str = "site",
    site_timezone: Callable[[str], str] | None = None,
) -> StoreResult:
    """Insert new AEs and new versions of changed AEs; unchanged re-exports are no-ops.

    ``origin`` marks AEs aewatch derived itself (lab, syndrome): not site-reported.
    ``site_timezone`` names the IANA zone of a site's local times (AEAWDTC without an
    offset); UTC where not given."""
    result = StoreResult(accepted=len(frame))
    if frame.empty:
        return result
    frame = frame.assign(subject_pk=frame["USUBJID"].map(subjects).astype("int64"))
    frame["content_hash"] = _content_hashes(frame)
    pks = [int(x) for x in frame["subject_pk"].unique()]
    current = frame_of(
        session,
        select(
            AdverseEvent.id,
            AdverseEvent.subject_pk,
            AdverseEvent.ae_key,
            AdverseEvent.current_version,
            AeVersion.content_hash,
            AeVersion.aware_at_supplied,
        )
        .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
        .where(AdverseEvent.subject_pk.in_(pks)),
        ["ae_pk", "subject_pk", "ae_key", "current_version", "old_hash", "old_aware_supplied"],
    )
    merged = frame.merge(current, on=["subject_pk", "ae_key"], how="left")
    is_new = merged["ae_pk"].isna()
    changed = ~is_new & (merged["old_hash"] != merged["content_hash"])
    # A re-export that now gives the awareness date the stored version lacked is a new
    # version too: the clock, the SAE listing and the closed query must agree.
    if "aware_on" in merged:
        supplied_now = merged["aware_on"].notna()
        lacked = merged["old_aware_supplied"].astype("object").eq(False)
        changed |= ~is_new & supplied_now & lacked
    if is_new.any():
        fresh = merged.loc[is_new]
        ids = allocate_ids(session, AdverseEvent.__table__, len(fresh))
        insert_columns(
            session,
            AdverseEvent.__table__,
            {
                "id": ids,
                "trial_pk": [trial_pk] * len(fresh),
                "subject_pk": [int(s) for s in fresh["subject_pk"]],
                "ae_key": fresh["ae_key"].tolist(),
                "origin": [origin] * len(fresh),
                "current_version": [1] * len(fresh),
                "created_at": [now] * len(fresh),
            },
        )
        merged.loc[is_new, "ae_pk"] = ids
        merged.loc[is_new, "current_version"] = 0
    if changed.any():
        old = merged.loc[changed]
        session.execute(
            update(AeVersion.__table__)
            .where(AeVersion.__table__.c.ae_pk == bindparam("b_ae"))
            .where(AeVersion.__table__.c.is_current.is_(True))
            .values(is_current=False),
            [{"b_ae": int(a)} for a in old["ae_pk"]],
        )
        session.execute(
            update(AdverseEvent.__table__)
            .where(AdverseEvent.__table__.c.id == bindparam("b_ae"))
            .values(current_version=bindparam("b_version")),
            [
                {"b_ae": int(a), "b_version": int(v) + 1}
                for a, v in zip(old["ae_pk"], old["current_version"], strict=True)
            ],
        )
    write = merged.loc[is_new | changed]
    if not write.empty:
        write = write.assign(
            onset_until=_onset_until(write),
            aware_utc=_aware_utc(session, write, site_timezone),
        )
        values = columns_of(
            write,
            [
                "ae_pk",
                "current_version",
                "content_hash",
                "ROW",
                *AE_CONTENT,
                "onset_until",
                "aware_utc",
                "ctcae_term",
                "ctcae_soc",
                "meddra_code",
                "coding",
                "dictionary_version",
                "evidence",
                "implausible",
                "received_at",
            ],
        )
        count = len(write)
        aware = values.pop("aware_utc")
        received = values.pop("received_at")  # held rows: when their file arrived
        versions = [int(v) + 1 for v in values.pop("current_version")]
        source_rows = values.pop("ROW")
        ids = allocate_ids(session, AeVersion.__table__, count)
        insert_columns(
            session,
            AeVersion.__table__,
            {
                **values,
                "id": ids,
                "ae_pk": [int(a) for a in values["ae_pk"]],
                "version": versions,
                "source_row": source_rows,
                "is_current": [True] * count,
                "source_file_pk": [file_pk] * count,
                "recorded_at": [now] * count,
                "aware_at": [
                    _aware(a, r or aware_default) for a, r in zip(aware, received, strict=True)
                ],
                "aware_at_supplied": [a is not None for a in aware],
            },
        )
        result.new_ae_versions = ids
    result.versions = int((is_new | changed).sum())
    result.touched_subjects.update(pks)
    return result


def _content_hashes(frame: pd.DataFrame) -> pd.Series:
    """``AE_CONTENT``'s fingerprint; a log-form AE's also covers its records (a record
    added or regraded at the same worst grade is a change). One-record AEs hash as before,
    so upgrading changes no stored AE."""
    hashes = content_hash(frame, AE_CONTENT)
    if "evidence" not in frame:
        return hashes
    logged = frame["evidence"].map(lambda e: isinstance(e, dict) and "records" in e)
    if logged.any():
        rows = frame.loc[logged]
        steps = rows["evidence"].map(_records_text)
        hashes[logged] = content_hash(rows.assign(log_records=steps), (*AE_CONTENT, "log_records"))
    return hashes


def _records_text(evidence: dict[str, Any]) -> str:
    """The log-form records as content: not where they sat in the file, nor AEAWDTC
    (neither is part of an AE's content)."""
    kept = [
        {k: v for k, v in r.items() if k not in ("row", "aware_on")} for r in evidence["records"]
    ]
    return json.dumps(kept, sort_keys=True)


def _onset_until(frame: pd.DataFrame) -> pd.Series:
    """The last possible day of a partial onset (None for a full or unknown date)."""
    if "onset_precision" not in frame:
        return pd.Series(None, index=frame.index, dtype=object)
    precision = frame["onset_precision"].astype("string")
    first = pd.to_datetime(frame["onset_on"], errors="coerce")
    partial = precision.isin(["month", "year"]).fillna(False) & first.notna()
    last = period_end(first, precision)
    return last.dt.date.where(partial, None).astype(object)


def _aware_utc(
    session: Session, frame: pd.DataFrame, site_timezone: Callable[[str], str] | None
) -> pd.Series:
    """The site's awareness (AEAWDTC) as a UTC instant: its own offset if written, else the
    local time of the subject's site (``aewatch.ingest.dates.awareness_utc``)."""
    if "aware_on" not in frame or frame["aware_on"].isna().all():
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    offset = frame.get("aware_offset", pd.Series(pd.NA, index=frame.index))
    zones = pd.Series("UTC", index=frame.index, dtype="object")
    if site_timezone is not None:
        pks = [int(x) for x in frame["subject_pk"].unique()]
        rows = session.execute(select(Subject.id, Subject.site).where(Subject.id.in_(pks)))
        zone_of = {int(pk): site_timezone(site or "") for pk, site in rows}
        zones = frame["subject_pk"].astype("int64").map(zone_of)
    return awareness_utc(frame["aware_on"], offset, zones)


def _aware(aware: datetime | None, default: datetime) -> datetime:
    """The site's awareness, if exported (AEAWDTC), else when aewatch received the file
    (``aware_at_supplied`` records which, so reports can say the date was not supplied).
    Never after receipt: a site cannot learn of an event after sending it."""
    if aware is None:
        return default
    return min(aware, default)
