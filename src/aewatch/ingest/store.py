"""Write validated rows into the database, in the caller's transaction, in bulk.

Row-at-a-time ORM work would cap ingest at a few thousand rows a second; here each
domain is one read of the existing keys, a pandas diff, and executemany inserts
and updates. AEs are versioned: an unchanged re-export is a no-op, a changed one is
a new version, and history is never overwritten (DESIGN invariant 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from aewatch.db import frame_of
from aewatch.models import AdverseEvent, AeVersion, LabResult, RtCourse, Site, Subject

AE_CONTENT = (  # AESEQ is left out: sites renumber it, and that is not a change of the AE
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
LAB_CONTENT = (
    "test_code",
    "test_name",
    "value",
    "unit",
    "lower_limit",
    "upper_limit",
    "collected_on",
    "collected_dtc",
    "baseline_flag",
    "site_grade",
)
EX_CONTENT = (
    "treatment",
    "lesion",
    "dose_per_fraction_gy",
    "fractions",
    "start_on",
    "end_on",
)


@dataclass
class StoreResult:
    accepted: int = 0
    versions: int = 0
    new_subjects: list[str] = field(default_factory=list)
    touched_subjects: set[int] = field(default_factory=set)
    new_ae_versions: list[int] = field(default_factory=list)  # ae_versions.id
    lab_subjects: set[int] = field(default_factory=set)
    course_ids: list[int] = field(default_factory=list)
    sites: set[str] = field(default_factory=set)


def subject_index(session: Session, trial_pk: int) -> dict[str, int]:
    rows = session.execute(
        select(Subject.subject_id, Subject.id).where(Subject.trial_pk == trial_pk)
    ).all()
    return {subject_id: pk for subject_id, pk in rows}


# Which export variables carry each subject field: a DM re-export that carries a variable
# is the truth for it (an emptied DTHDTC clears a wrong death date); one that does not
# carry it leaves the stored value alone.
SUBJECT_SOURCES: dict[str, tuple[str, ...]] = {
    "site": ("SITEID",),
    "enrolled_on": ("RFSTDTC", "RFICDTC", "RFXSTDTC"),
    "reference_start": ("RFXSTDTC", "RFSTDTC"),
    "reference_end": ("RFXENDTC",),
    "died_on": ("DTHDTC",),
    "withdrawn_on": ("WITHDTC",),
    "oligoprogression": ("OLIGOCAT",),
    "systemic_therapy": ("FLSTTRT",),
    "sex": ("SEX",),
    "arm": ("ARM",),
}


def store_subjects(
    session: Session,
    trial_pk: int,
    frame: pd.DataFrame,
    file_pk: int,
    now: datetime,
    carried: frozenset[str] = frozenset(),
) -> StoreResult:
    result = StoreResult()
    authoritative = {field for field, sources in SUBJECT_SOURCES.items() if carried & set(sources)}
    known = subject_index(session, trial_pk)
    columns = [
        "site",
        "enrolled_on",
        "reference_start",
        "reference_end",
        "died_on",
        "withdrawn_on",
        "oligoprogression",
        "systemic_therapy",
        "sex",
        "arm",
    ]
    records = _records(frame, ["USUBJID", "STUDYID", *columns])
    new_rows, updates = [], []
    for record in records:
        subject_id = record.pop("USUBJID")
        study = record.pop("STUDYID") or ""
        values = {k: record[k] for k in columns}
        values["site"] = values["site"] or ""
        if subject_id in known:
            changed = {k: v for k, v in values.items() if k in authoritative or v not in (None, "")}
            updates.append(
                {"b_id": known[subject_id], **changed, "updated_at": now, "source_file_pk": file_pk}
            )
            result.touched_subjects.add(known[subject_id])
        else:
            new_rows.append(
                {
                    "trial_pk": trial_pk,
                    "subject_id": subject_id,
                    "study_id": study,
                    "updated_at": now,
                    "source_file_pk": file_pk,
                    **values,
                }
            )
            result.new_subjects.append(subject_id)
        if values["site"]:
            result.sites.add(values["site"])
    if new_rows:
        inserted = session.execute(insert(Subject).returning(Subject.id), new_rows).scalars().all()
        result.touched_subjects.update(inserted)
    for row in updates:  # few: DM re-exports; one UPDATE per changed subject
        pk = row.pop("b_id")
        session.execute(update(Subject).where(Subject.id == pk).values(**row))
    result.accepted = len(records)
    return result


def touch_sites(session: Session, trial_pk: int, sites: set[str], now: datetime) -> None:
    """Record that data arrived from these sites (for the data-silence alert)."""
    if not sites:
        return
    existing = set(
        session.scalars(
            select(Site.site_code).where(Site.trial_pk == trial_pk, Site.site_code.in_(sites))
        )
    )
    for code in sites - existing:
        session.add(Site(trial_pk=trial_pk, site_code=code, first_data_at=now, last_data_at=now))
    if existing:
        session.execute(
            update(Site)
            .where(Site.trial_pk == trial_pk, Site.site_code.in_(existing))
            .values(last_data_at=now)
        )
    session.flush()


def store_adverse_events(
    session: Session,
    trial_pk: int,
    frame: pd.DataFrame,
    subjects: dict[str, int],
    file_pk: int,
    now: datetime,
    aware_default: datetime,
    *,
    origin: str = "site",
) -> StoreResult:
    """Insert new AEs and new versions of changed AEs; unchanged re-exports are no-ops.

    ``origin`` marks AEs aewatch derived itself (lab, syndrome): not site-reported."""
    result = StoreResult(accepted=len(frame))
    if frame.empty:
        return result
    frame = frame.assign(subject_pk=frame["USUBJID"].map(subjects).astype("int64"))
    frame["content_hash"] = _content_hash(frame, AE_CONTENT)
    pks = [int(x) for x in frame["subject_pk"].unique()]
    current = frame_of(
        session,
        select(
            AdverseEvent.id,
            AdverseEvent.subject_pk,
            AdverseEvent.ae_key,
            AdverseEvent.current_version,
            AeVersion.content_hash,
        )
        .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
        .where(AdverseEvent.subject_pk.in_(pks)),
        ["ae_pk", "subject_pk", "ae_key", "current_version", "old_hash"],
    )
    merged = frame.merge(current, on=["subject_pk", "ae_key"], how="left")
    is_new = merged["ae_pk"].isna()
    changed = ~is_new & (merged["old_hash"] != merged["content_hash"])
    if is_new.any():
        fresh = merged.loc[is_new]
        ids = (
            session.connection()
            .execute(
                AdverseEvent.__table__.insert().returning(
                    AdverseEvent.__table__.c.id, sort_by_parameter_order=True
                ),
                [
                    {
                        "trial_pk": trial_pk,
                        "subject_pk": int(s),
                        "ae_key": k,
                        "origin": origin,
                        "current_version": 1,
                        "created_at": now,
                    }
                    for s, k in zip(fresh["subject_pk"], fresh["ae_key"], strict=True)
                ],
            )
            .scalars()
            .all()
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
        rows = _records(
            write,
            [
                "ae_pk",
                "current_version",
                "content_hash",
                "ROW",
                *AE_CONTENT,
                "aware_on",
                "ctcae_term",
                "ctcae_soc",
                "meddra_code",
                "coding",
                "dictionary_version",
                "evidence",
                "received_at",
            ],
        )
        payload = []
        for row in rows:
            aware_on = row.pop("aware_on")
            received = row.pop("received_at")  # held rows: when their file arrived
            payload.append(
                {
                    **row,
                    "ae_pk": int(row["ae_pk"]),
                    "version": int(row.pop("current_version")) + 1,
                    "source_row": row.pop("ROW"),
                    "is_current": True,
                    "source_file_pk": file_pk,
                    "recorded_at": now,
                    "aware_at": _aware(aware_on, received or aware_default),
                }
            )
        result.new_ae_versions = list(
            session.connection()
            .execute(
                AeVersion.__table__.insert().returning(
                    AeVersion.__table__.c.id, sort_by_parameter_order=True
                ),
                payload,
            )
            .scalars()
            .all()
        )
    result.versions = int((is_new | changed).sum())
    result.touched_subjects.update(pks)
    return result


def store_labs(
    session: Session, frame: pd.DataFrame, subjects: dict[str, int], file_pk: int, now: datetime
) -> StoreResult:
    result = StoreResult(accepted=len(frame))
    if frame.empty:
        return result
    frame = frame.assign(subject_pk=frame["USUBJID"].map(subjects).astype("int64"))
    frame["content_hash"] = _content_hash(frame, LAB_CONTENT)
    pks = [int(x) for x in frame["subject_pk"].unique()]
    existing = frame_of(
        session,
        select(
            LabResult.id,
            LabResult.subject_pk,
            LabResult.lab_key,
            *[getattr(LabResult, c) for c in LAB_CONTENT],
        ).where(LabResult.subject_pk.in_(pks)),
        ["lab_pk", "subject_pk", "lab_key", *LAB_CONTENT],
    )
    if not existing.empty:
        existing["old_hash"] = _content_hash(existing, LAB_CONTENT)
        existing = existing[["lab_pk", "subject_pk", "lab_key", "old_hash"]]
    else:
        existing = pd.DataFrame(columns=["lab_pk", "subject_pk", "lab_key", "old_hash"])
    merged = frame.merge(existing, on=["subject_pk", "lab_key"], how="left")
    is_new = merged["lab_pk"].isna()
    changed = ~is_new & (merged["old_hash"] != merged["content_hash"])
    columns = ["subject_pk", "lab_key", *LAB_CONTENT]
    if is_new.any():
        rows = _records(merged.loc[is_new], [*columns, "ROW"])
        for row in rows:
            row["source_row"] = row.pop("ROW")
            row["source_file_pk"] = file_pk
            row["updated_at"] = now
        session.connection().execute(LabResult.__table__.insert(), rows)
    if changed.any():
        rows = _records(merged.loc[changed], ["lab_pk", *LAB_CONTENT])
        table = LabResult.__table__
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                {c: bindparam(c) for c in LAB_CONTENT}
                | {"updated_at": now, "source_file_pk": file_pk}
            ),
            [{"b_id": int(r.pop("lab_pk")), **r} for r in rows],
        )
    result.lab_subjects.update(pks)
    result.touched_subjects.update(pks)
    return result


def store_courses(
    session: Session,
    frame: pd.DataFrame,
    subjects: dict[str, int],
    file_pk: int,
    now: datetime,
) -> StoreResult:
    result = StoreResult(accepted=len(frame))
    if frame.empty:
        return result
    frame = frame.assign(subject_pk=frame["USUBJID"].map(subjects).astype("int64"))
    pks = [int(x) for x in frame["subject_pk"].unique()]
    existing = {
        (s, k): pk
        for pk, s, k in session.execute(
            select(RtCourse.id, RtCourse.subject_pk, RtCourse.course_key).where(
                RtCourse.subject_pk.in_(pks)
            )
        ).all()
    }
    columns = [
        "subject_pk",
        "course_key",
        *EX_CONTENT,
        "total_dose_gy",
        "bed_gy",
        "eqd2_gy",
        "alpha_beta_gy",
        "bed_below_minimum",
    ]
    for row in _records(frame, columns):
        key = (int(row["subject_pk"]), row["course_key"])
        row.update(source_file_pk=file_pk, updated_at=now)
        if key in existing:
            session.execute(update(RtCourse).where(RtCourse.id == existing[key]).values(**row))
            result.course_ids.append(existing[key])
        else:
            pk = session.execute(insert(RtCourse).returning(RtCourse.id), row).scalar_one()
            result.course_ids.append(pk)
    result.touched_subjects.update(pks)
    return result


def _aware(aware_on: Any, default: datetime) -> datetime:
    """The site's awareness date, if exported (AEAWDTC), else when aewatch received the file."""
    if aware_on is None:
        return default
    moment = datetime(aware_on.year, aware_on.month, aware_on.day, tzinfo=default.tzinfo)
    return min(moment, default)


NUMERIC = {
    "aeseq",
    "grade",
    "reported_grade",
    "value",
    "lower_limit",
    "upper_limit",
    "site_grade",
    "dose_per_fraction_gy",
    "fractions",
}
BOOLEAN = {
    "serious",
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "medically_important",
    "baseline_flag",
}


def _content_hash(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """A stable fingerprint of a record's content, to tell a changed re-export from a copy.

    Values are first put in one canonical text form (dates as YYYY-MM-DD, numbers rounded
    to 9 decimals, booleans as 0/1), so rows read back from either database hash alike.
    """
    empty = pd.Series([None] * len(frame), index=frame.index, dtype="object")
    canonical = pd.DataFrame(
        {c: _canonical_text(frame[c] if c in frame.columns else empty, c) for c in columns}
    )
    hashed = pd.util.hash_pandas_object(canonical, index=False).to_numpy()
    return pd.Series([f"{h:016x}" for h in hashed], index=frame.index, dtype="object")


def _canonical_text(column: pd.Series, name: str) -> pd.Series:
    if name.endswith("_on"):
        dates = pd.to_datetime(column, errors="coerce")
        return dates.dt.strftime("%Y-%m-%d").fillna("").astype("object")
    if name in NUMERIC:
        numbers = pd.to_numeric(column, errors="coerce").astype("float64").round(9)
        return numbers.astype("object").where(numbers.notna(), "").astype(str)
    if name in BOOLEAN:
        return column.fillna(False).astype(bool).map({True: "1", False: "0"}).astype("object")
    return column.astype("object").where(column.notna(), "").astype(str)


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """DataFrame rows as plain Python values (no numpy scalars, NaT or NA) for the driver."""
    names, lists = [], []
    for name in columns:
        names.append(name)
        if name not in frame.columns:
            lists.append([None] * len(frame))
            continue
        lists.append(_python_values(frame[name]))
    return (
        [dict(zip(names, values, strict=True)) for values in zip(*lists, strict=True)]
        if len(frame)
        else []
    )


def _python_values(column: pd.Series) -> list[Any]:
    missing = column.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(column) and column.dt.tz is not None:
        values: list[Any] = list(column.dt.to_pydatetime())  # instants stay instants
    elif pd.api.types.is_datetime64_any_dtype(column):
        values = list(column.dt.date)
    elif pd.api.types.is_bool_dtype(column):
        values = column.fillna(False).astype(bool).tolist()
    elif pd.api.types.is_integer_dtype(column):
        values = column.astype("float64").fillna(0).astype("int64").tolist()
    elif pd.api.types.is_float_dtype(column):
        values = column.astype("float64").tolist()
    else:
        values = column.astype("object").tolist()
    return [None if m else v for v, m in zip(values, missing, strict=True)]
