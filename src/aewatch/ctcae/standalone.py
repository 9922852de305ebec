"""Grade an SDTM LB file end to end: read, baseline, grade, write, summarise.

For a data manager with an export and no database: ``grade_lab_file("lb.xpt",
"dm.xpt", out_path="lb_graded.csv")``. The output holds every input row unchanged plus
TOXTERML, TOXGRL, TOXTERMH, TOXGRH (0-4, empty when not gradable) and TOXNOTE. The
baseline is the last value on or before DM.RFXSTDTC; without DM (or for a subject
without RFXSTDTC) it is the LBBLFL = 'Y' record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from aewatch.ctcae.labs import derive_baseline, grade_labs

OUTPUT_COLUMNS = ["TOXTERML", "TOXGRL", "TOXTERMH", "TOXGRH", "TOXNOTE"]


@dataclass(frozen=True)
class GradingSummary:
    """What a grading run did, for the CLI table and for logs."""

    rows: int
    graded: int  # rows with a grade in at least one direction
    not_gradable: tuple[tuple[str, int], ...]  # (reason, rows), most frequent first
    distribution: pd.DataFrame = field(compare=False, repr=False)
    out_path: Path | None = None

    @property
    def not_gradable_rows(self) -> int:
        return self.rows - self.graded


def read_sdtm(path: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """An SDTM domain from .xpt or .csv; several paths (e.g. lbch.xpt + lbhe.xpt) stack.

    CSV cells are read as text, exactly as written (so the output repeats them), with
    "NA" kept as text (sodium's LBTESTCD) and a UTF-8 BOM tolerated; empty cells and SAS
    blank strings become missing. Grading converts numbers itself.
    """
    if not isinstance(path, str | Path):
        return pd.concat([read_sdtm(p) for p in path], ignore_index=True)
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".xpt":
        import pyreadstat

        frame, _meta = pyreadstat.read_xport(str(p))
    elif suffix == ".csv":
        from aewatch.ctcae.csv_io import read_text_csv

        frame = read_text_csv(p)
    else:
        raise ValueError(f"{p.name}: expected a .xpt or .csv SDTM file")
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    if suffix == ".xpt":
        for column in frame.columns:
            if pd.api.types.is_string_dtype(frame[column]) or frame[column].dtype == object:
                text = frame[column].astype(object)
                frame[column] = text.where(text.ne("") & text.notna(), None)
    return frame


def _reference_start(dm: pd.DataFrame | None) -> pd.Series | None:
    if dm is None or "RFXSTDTC" not in dm.columns:
        return None
    ref = dm[["USUBJID", "RFXSTDTC"]].dropna().drop_duplicates("USUBJID")
    return pd.Series(ref["RFXSTDTC"].to_numpy(), index=ref["USUBJID"].to_numpy())


def grade_lab_frame(
    lb: pd.DataFrame, dm: pd.DataFrame | None = None, *, in_place: bool = False
) -> pd.DataFrame:
    """``lb`` plus the five TOX* columns (the in-memory half of ``grade_lab_file``);
    ``in_place`` adds them to ``lb`` itself instead of a copy (a million rows)."""
    baseline = derive_baseline(lb, _reference_start(dm))
    grades = grade_labs(lb, baseline)
    out = lb if in_place else lb.copy()
    out["TOXTERML"] = grades["tox_term_low"].astype(object).to_numpy()
    out["TOXGRL"] = grades["tox_grade_low"].array
    out["TOXTERMH"] = grades["tox_term_high"].astype(object).to_numpy()
    out["TOXGRH"] = grades["tox_grade_high"].array
    out["TOXNOTE"] = grades["tox_note"].astype(object).to_numpy()
    return out


def summarise(graded: pd.DataFrame, out_path: Path | None = None) -> GradingSummary:
    """Counts and the per-parameter grade distribution of a graded LB frame."""
    low = pd.array(graded["TOXGRL"], dtype="Int64")
    high = pd.array(graded["TOXGRH"], dtype="Int64")
    any_grade = ~(pd.isna(low) & pd.isna(high))
    reasons = graded.loc[~np.asarray(any_grade), "TOXNOTE"].fillna("no reason recorded")
    counts = reasons.value_counts()
    not_gradable = tuple((str(k), int(v)) for k, v in counts.items())
    return GradingSummary(
        rows=len(graded),
        graded=int(np.asarray(any_grade).sum()),
        not_gradable=not_gradable,
        distribution=grade_distribution(graded),
        out_path=out_path,
    )


def grade_distribution(graded: pd.DataFrame) -> pd.DataFrame:
    """Rows per LBTESTCD × CTCAE term × grade (0-4 and "NA"), one row per test and term."""
    parts = []
    for term_col, grade_col in (("TOXTERML", "TOXGRL"), ("TOXTERMH", "TOXGRH")):
        part = graded.loc[graded[term_col].notna(), ["LBTESTCD", term_col, grade_col]]
        grade = pd.array(part[grade_col], dtype="Int64").astype("string").fillna("NA")
        parts.append(
            pd.DataFrame(
                {
                    "LBTESTCD": part["LBTESTCD"].to_numpy(),
                    "term": part[term_col].to_numpy(),
                    "grade": np.asarray(grade, dtype=object),
                }
            )
        )
    long = pd.concat(parts, ignore_index=True)
    if long.empty:
        return pd.DataFrame(columns=["LBTESTCD", "term", "0", "1", "2", "3", "4", "NA", "total"])
    table = pd.crosstab([long["LBTESTCD"], long["term"]], long["grade"])
    for column in ("0", "1", "2", "3", "4", "NA"):
        if column not in table.columns:
            table[column] = 0
    table = table[["0", "1", "2", "3", "4", "NA"]]
    table["total"] = table.sum(axis=1)
    table.columns.name = None
    return table.reset_index()


def write_output(frame: pd.DataFrame, out_path: Path) -> None:
    """Write by extension: .csv (grades as plain digits), .xlsx, or .xpt (SAS V5)."""
    suffix = out_path.suffix.lower()
    if suffix == ".csv":
        from aewatch.ctcae.csv_io import write_csv

        write_csv(frame, out_path)  # the bytes of frame.to_csv(out_path, index=False)
    elif suffix == ".xlsx":
        frame.to_excel(out_path, index=False)
    elif suffix == ".xpt":
        import pyreadstat

        xpt = frame.copy()
        for column in ("TOXGRL", "TOXGRH"):
            xpt[column] = pd.array(xpt[column], dtype="Int64").astype("Float64").astype(float)
        xpt["TOXNOTE"] = xpt["TOXNOTE"].astype(object).where(xpt["TOXNOTE"].notna(), "")
        xpt["TOXNOTE"] = xpt["TOXNOTE"].astype(str).str.slice(0, 200)  # SAS V5 limit
        for column in xpt.columns:
            if xpt[column].dtype == object or pd.api.types.is_string_dtype(xpt[column]):
                xpt[column] = xpt[column].astype(object).where(xpt[column].notna(), "")
        pyreadstat.write_xport(xpt, str(out_path), file_format_version=5, table_name="LB")
    else:
        raise ValueError(f"{out_path.name}: output must be .csv, .xlsx or .xpt")


def grade_lab_file(
    lb_path: str | Path | Sequence[str | Path],
    dm_path: str | Path | None = None,
    *,
    out_path: str | Path,
) -> GradingSummary:
    """Grade an SDTM LB export (.xpt/.csv; a list of files is stacked) and write it out."""
    lb = read_sdtm(lb_path)
    dm = read_sdtm(dm_path) if dm_path is not None else None
    graded = grade_lab_frame(lb, dm, in_place=True)
    out = Path(out_path)
    write_output(graded, out)
    return summarise(graded, out)
