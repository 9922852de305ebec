"""Laboratory results and the CTCAE grades derived from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from aewatch.db import frame_of
from aewatch.models import LabResult
from aewatch.store.bulk import allocate_ids, insert_columns, update_columns
from aewatch.store.frames import columns_of, content_hash, records
from aewatch.store.result import StoreResult

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
    "implausible",
)
TOX_COLUMNS = ("tox_term_low", "tox_grade_low", "tox_term_high", "tox_grade_high", "tox_note")
# A new row as the grade stage reads stored ones (``subject_data.load_subject_data``).
READ_AS = {
    "id": "lab_pk",
    "subject_pk": "subject_pk",
    "test_code": "LBTESTCD",
    "value": "LBSTRESN",
    "unit": "LBSTRESU",
    "lower_limit": "LBSTNRLO",
    "upper_limit": "LBSTNRHI",
    "collected_dtc": "LBDTC",
    "baseline_flag": "baseline_flag",
    "implausible": "implausible",
}


@dataclass
class NewLabs:
    """A file's new results, their keys drawn but not yet written: the grade stage writes
    them with their grades (``store_lab_grades``), one INSERT instead of an INSERT and
    then an UPDATE of every row. ``columns`` is ``insert_columns``' form, ids included."""

    columns: dict[str, list[Any]]
    written: bool = False

    def frame(self) -> pd.DataFrame:
        """The rows as the grade stage reads stored results: SDTM names, no stored grades."""
        frame = pd.DataFrame({name: self.columns[c] for c, name in READ_AS.items()})
        for column in ("LBSTRESN", "LBSTNRLO", "LBSTNRHI"):  # FLOAT columns read back
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
        frame["baseline_flag"] = frame["baseline_flag"].astype(bool)
        for column in TOX_COLUMNS:
            frame[f"old_{column}"] = None
        return frame


def store_labs(
    session: Session, frame: pd.DataFrame, subjects: dict[str, int], file_pk: int, now: datetime
) -> StoreResult:
    """Insert new results; update a result whose re-export changed (identity: test + time)."""
    result = StoreResult(accepted=len(frame))
    if frame.empty:
        return result
    frame = frame.assign(subject_pk=frame["USUBJID"].map(subjects).astype("int64"))
    frame["content_hash"] = content_hash(frame, LAB_CONTENT)
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
        existing["old_hash"] = content_hash(existing, LAB_CONTENT)
        existing = existing[["lab_pk", "subject_pk", "lab_key", "old_hash"]]
    else:
        existing = pd.DataFrame(columns=["lab_pk", "subject_pk", "lab_key", "old_hash"])
    merged = frame.merge(existing, on=["subject_pk", "lab_key"], how="left")
    is_new = merged["lab_pk"].isna()
    changed = ~is_new & (merged["old_hash"] != merged["content_hash"])
    columns = ["subject_pk", "lab_key", *LAB_CONTENT]
    if is_new.any():
        fresh = merged.loc[is_new]
        values = columns_of(fresh, columns)
        new = NewLabs(
            {
                "id": allocate_ids(session, LabResult.__table__, len(fresh)),
                **values,
                "source_row": columns_of(fresh, ["ROW"])["ROW"],
                "source_file_pk": [file_pk] * len(fresh),
                "created_at": [now] * len(fresh),
                "updated_at": [now] * len(fresh),
            }
        )
        result.new_labs.append(new)
    if changed.any():
        rows = records(merged.loc[changed], ["lab_pk", *LAB_CONTENT])
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


def store_lab_grades(
    session: Session,
    graded: pd.DataFrame,
    dictionary_version: str,
    new_labs: Sequence[NewLabs] = (),
) -> int:
    """Write grades that changed (a new baseline can regrade old rows), and write
    ``new_labs`` (every one of them) with their grades.

    ``graded`` holds ``lab_pk``, the new TOX_COLUMNS and the stored ones as ``old_<col>``.
    """
    changed = np.zeros(len(graded), dtype=bool)
    for column in TOX_COLUMNS:
        new = graded[column].astype(object).where(graded[column].notna(), None)
        old = graded[f"old_{column}"].astype(object).where(graded[f"old_{column}"].notna(), None)
        changed |= (new.astype(str) != old.astype(str)).to_numpy()
    rows = graded.loc[changed]
    pending = [n for n in new_labs if not n.written]
    fresh = np.zeros(len(rows), dtype=bool)
    if pending:
        fresh = rows["lab_pk"].isin([i for n in pending for i in n.columns["id"]]).to_numpy()
        _insert_new_labs(session, pending, rows.loc[fresh], dictionary_version)
    rows = rows.loc[~fresh]
    if rows.empty:
        return int(changed.sum())
    update_columns(
        session,
        LabResult.__table__,
        [int(pk) for pk in rows["lab_pk"]],
        {
            **{c: _plain_values(rows[c]) for c in TOX_COLUMNS},
            "dictionary_version": [dictionary_version] * len(rows),
        },
    )
    return int(changed.sum())


def _insert_new_labs(
    session: Session, pending: list[NewLabs], graded: pd.DataFrame, dictionary_version: str
) -> None:
    """One INSERT of the new results, each with its grades where it has any (and then the
    dictionary version that gave them), as an INSERT followed by ``update_columns``
    would leave them."""
    columns = (
        dict(pending[0].columns)
        if len(pending) == 1
        else {name: [v for n in pending for v in n.columns[name]] for name in pending[0].columns}
    )
    ids = pd.Index(columns["id"])
    position = ids.get_indexer(graded["lab_pk"].astype("int64"))
    if (position < 0).any():
        raise ValueError("grades for lab rows that are not new were given as new")
    for column in (*TOX_COLUMNS, "dictionary_version"):
        written = np.full(len(ids), None, dtype=object)
        written[position] = (
            dictionary_version
            if column == "dictionary_version"
            else np.fromiter(_plain_values(graded[column]), dtype=object, count=len(graded))
        )
        columns[column] = written.tolist()
    insert_columns(session, LabResult.__table__, columns)
    for new in pending:
        new.written = True


def _plain_values(column: pd.Series) -> list[Any]:
    """The column as the driver takes it: None for every kind of missing, Python ints."""
    values = column.astype(object)
    plain = values.where(values.notna(), None).tolist()
    if any(issubclass(kind, np.integer) for kind in set(map(type, plain))):
        plain = [int(v) if isinstance(v, np.integer) else v for v in plain]
    return plain
