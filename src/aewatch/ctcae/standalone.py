"""Grade an SDTM LB file end to end: read, baseline, grade, write, summarise.

For a data manager with an export and no database: ``grade_lab_file("lb.xpt",
"dm.xpt", out_path="lb_graded.csv")``. The output holds every input row unchanged plus
TOXTERML, TOXGRL, TOXTERMH, TOXGRH (0-4, empty when not gradable) and TOXNOTE. The
baseline is the last value on or before DM.RFXSTDTC; without DM (or for a subject
without RFXSTDTC) it is the LBBLFL = 'Y' record.

One malformed row never stops the run: a CSV row that cannot be split into the header's
fields, a result that is not a number, and an implausible result or reference range
(``plausibility``) are not graded (nor used as a baseline) and go to a rejects file with
their file, row and reason. Only input that cannot be read at all raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from aewatch.ctcae.grade_summary import GradingSummary, grade_distribution, summarise
from aewatch.ctcae.lab_rejects import REJECT_COLUMNS, joined_reasons, rejected_rows, rejects_table
from aewatch.ctcae.labs import LabGradeCodes, derive_baseline, grade_lab_codes
from aewatch.ctcae.rules import NOT_GRADABLE
from aewatch.ctcae.sdtm_columns import categorical_text, numeric_column

__all__ = [
    "OUTPUT_COLUMNS",
    "REJECT_COLUMNS",
    "GradingSummary",
    "grade_distribution",
    "grade_lab_file",
    "grade_lab_frame",
    "read_sdtm",
    "rejected_rows",
    "summarise",
    "write_output",
]

OUTPUT_COLUMNS = ["TOXTERML", "TOXGRL", "TOXTERMH", "TOXGRH", "TOXNOTE"]
# What grading reads of an LB row; the other columns are only written back.
GRADING_COLUMNS = [
    "USUBJID",
    "LBTESTCD",
    "LBSTRESN",
    "LBSTRESU",
    "LBSTNRLO",
    "LBSTNRHI",
    "LBDTC",
    "LBBLFL",
    "VISITNUM",
    "LBSEQ",
    "BASE",
    "BASEU",
    "BNRIND",
]


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

        try:
            frame, _meta = pyreadstat.read_xport(str(p))
        except Exception as exc:  # pyreadstat raises its own types: the file is unreadable
            raise ValueError(f"{p.name}: SAS transport file cannot be read ({exc})") from exc
    elif suffix == ".csv":
        from aewatch.ctcae.csv_io import read_text_csv

        try:
            frame = read_text_csv(p)
        except ValueError:  # Arrow's parse errors are ValueErrors: rows that do not split
            try:
                frame = _read_ragged_csv(p)
            except UnicodeDecodeError as exc:
                raise ValueError(f"{p.name}: not UTF-8 text; re-export it as UTF-8") from exc
    else:
        raise ValueError(f"{p.name}: expected a .xpt or .csv SDTM file")
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    if suffix == ".xpt":
        for column in frame.columns:
            if pd.api.types.is_string_dtype(frame[column]) or frame[column].dtype == object:
                text = frame[column].astype(object)
                frame[column] = text.where(text.ne("") & text.notna(), None)
    return frame


def _read_ragged_csv(path: Path) -> pd.DataFrame:
    """A CSV with rows that do not split into the header's fields: the good rows, and the
    others in ``attrs["rejects"]`` as (row, reason)."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header = [h.strip() for h in rows[0]] if rows else []
    good, numbers, rejects = [], [], []
    for number, row in enumerate(rows[1:], start=1):
        if len(row) == len(header):
            good.append([cell if cell != "" else None for cell in row])
            numbers.append(number)
        elif any(cell.strip() for cell in row):
            rejects.append(
                (
                    number,
                    f"row has {len(row)} fields but the header has {len(header)}: check for an "
                    "unquoted delimiter or a missing value",
                )
            )
    frame = pd.DataFrame(good, columns=header, dtype=object)
    frame.index = pd.Index([n - 1 for n in numbers])
    frame.attrs["rejects"] = rejects
    return frame


def _reference_start(dm: pd.DataFrame | None) -> pd.Series | None:
    if dm is None or "RFXSTDTC" not in dm.columns:
        return None
    ref = dm[["USUBJID", "RFXSTDTC"]].dropna().drop_duplicates("USUBJID")
    return pd.Series(ref["RFXSTDTC"].to_numpy(), index=ref["USUBJID"].to_numpy())


def grade_lab_frame(
    lb: pd.DataFrame,
    dm: pd.DataFrame | None = None,
    rejects: pd.DataFrame | None = None,
    *,
    in_place: bool = False,
) -> pd.DataFrame:
    """``lb`` plus the five TOX* columns (the in-memory half of ``grade_lab_file``); rows
    in ``rejects`` (default: ``rejected_rows(lb)``) are not graded and say why.
    ``in_place`` adds the columns to ``lb`` itself instead of a copy (a million rows)."""
    tox = tox_columns(grading_view(lb), dm, rejects)
    out = lb if in_place else lb.copy()
    for column in OUTPUT_COLUMNS:  # text becomes pandas' str, as in any frame
        values = tox[column]
        out[column] = values.to_numpy() if values.dtype == object else values.array
    return out


def grading_view(lb: pd.DataFrame) -> pd.DataFrame:
    """The columns grading reads, same index, text factorized once (``categorical_text``)
    where grading reads every row; LBSEQ and VISITNUM are read only for baseline
    candidates, so they stay as they are."""
    read = {column: lb[column] for column in GRADING_COLUMNS if column in lb.columns}
    encode = [column for column in read if column not in ("LBSEQ", "VISITNUM")]
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow encodes without the GIL
        encoded = list(pool.map(categorical_text, [read[c] for c in encode]))
    read.update(zip(encode, encoded, strict=True))
    return pd.DataFrame(read, index=lb.index, copy=False)


@dataclass(frozen=True)
class ToxCodes:
    """The five TOX* columns of ``len(index)`` rows: each text column as a code per row
    into a small table of its distinct texts (None = empty), each grade column as Int64.
    Built once per distinct text: a million rows are never a million Python strings."""

    index: pd.Index
    texts: dict[str, tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]]
    grades: dict[str, pd.arrays.IntegerArray]

    def objects(self, name: str) -> npt.NDArray[np.object_]:
        """A text column as Python objects (None where empty)."""
        codes, table = self.texts[name]
        return table[codes]

    def arrow(self, name: str) -> Any:
        """A text column as an Arrow large_string array (null where empty)."""
        import pyarrow as pa

        codes, table = self.texts[name]
        return pa.array(table, type=pa.large_string()).take(pa.array(codes))

    def categorical(self, name: str) -> pd.Categorical:
        """A text column as a categorical (missing where empty), from its codes."""
        distinct, table = pd.factorize(self.texts[name][1])  # None is -1
        return pd.Categorical.from_codes(
            distinct[self.texts[name][0]], categories=pd.Index(table, dtype=object)
        )

    def frame(self, categorical_terms: bool = False) -> pd.DataFrame:
        """The five columns with text as object dtype (``tox_columns``); the terms as
        categoricals if asked (what ``summarise`` counts on)."""
        columns: dict[str, Any] = {name: self.grades.get(name) for name in OUTPUT_COLUMNS}
        for name in self.texts:
            terms = categorical_terms and name != "TOXNOTE"
            columns[name] = self.categorical(name) if terms else self.objects(name)
        return pd.DataFrame(
            {
                name: pd.Series(
                    values,
                    index=self.index,
                    dtype=object if isinstance(values, np.ndarray) else values.dtype,
                    copy=False,
                )
                for name, values in columns.items()
            },
            copy=False,
        )


def tox_columns(
    view: pd.DataFrame, dm: pd.DataFrame | None = None, rejects: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The five TOX* columns for the rows of ``view`` (index-aligned); rows in ``rejects``
    (default: ``rejected_rows(view)``) are not graded and their note says why."""
    # Text stays object: inferring pandas' str costs more than the grading.
    return tox_codes(view, dm, rejects).frame()


def tox_codes(
    view: pd.DataFrame, dm: pd.DataFrame | None = None, rejects: pd.DataFrame | None = None
) -> ToxCodes:
    """``tox_columns`` as codes (``ToxCodes``)."""
    rejects = rejected_rows(view) if rejects is None else rejects
    bad = view.index.isin(rejects["index"])
    # grade_labs aligns its text columns by position
    usable = view if isinstance(view.index, pd.RangeIndex) else view.reset_index(drop=True)
    if len(usable):
        # parsed once here, not once by the baselines and again by the grading
        numbers = {
            c: numeric_column(usable, c)
            for c in ("LBSTRESN", "LBSTNRLO", "LBSTNRHI")
            if c in usable.columns
        }
        if bad.any() and "LBSTRESN" in numbers:
            # a rejected row is graded with every other (its grades are dropped below) but
            # without a result, so that it is never anyone's baseline
            numbers["LBSTRESN"] = np.where(bad, np.nan, numbers["LBSTRESN"])
        usable = usable.assign(**numbers)
        graded = grade_lab_codes(usable, derive_baseline(usable, _reference_start(dm)))
    else:
        none, nothing = np.zeros(0, dtype=np.intp), np.array([None], dtype=object)
        ungraded = np.zeros(0, dtype=np.int8)
        graded = LabGradeCodes(none, nothing, ungraded, none, nothing, ungraded, none, nothing)
    texts = {
        "TOXTERML": _blank_codes(graded.term_low, graded.terms_low, bad),
        "TOXTERMH": _blank_codes(graded.term_high, graded.terms_high, bad),
        "TOXNOTE": _blank_codes(graded.note, graded.notes, bad),
    }
    if bad.any():
        why = joined_reasons(rejects).reindex(view.index[bad]).to_numpy(dtype=object)
        codes, table = texts["TOXNOTE"]
        codes[bad] = len(table) + np.arange(len(why))
        texts["TOXNOTE"] = (codes, np.concatenate([table, "not graded: " + why]))
    grades = {
        "TOXGRL": _blank_grades(graded.grade_low, bad),
        "TOXGRH": _blank_grades(graded.grade_high, bad),
    }
    return ToxCodes(view.index, texts, grades)


def _blank_codes(
    codes: npt.NDArray[np.intp], table: npt.NDArray[np.object_], bad: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]:
    """The codes with an empty text at the ``bad`` rows."""
    return np.where(bad, len(table), codes), np.append(table, None)


def _blank_grades(
    values: npt.NDArray[np.int8], bad: npt.NDArray[np.bool_]
) -> pd.arrays.IntegerArray:
    """The grades as Int64, missing where not gradable and at the ``bad`` rows."""
    missing = bad | (values == NOT_GRADABLE)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)


def _text(array: Any) -> Any:
    """An Arrow text array as pandas' str array, without a Python string per cell."""
    import pyarrow as pa

    return pa.chunked_array([array]).to_pandas().array


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
    rejects_path: str | Path | None = None,
) -> GradingSummary:
    """Grade an SDTM LB export (.xpt/.csv; a list of files is stacked) and write it out;
    rows not graded for bad data are listed in ``rejects_path`` (default: next to the
    output, ``<out>.rejects.csv``; written only when there are any)."""
    paths = [lb_path] if isinstance(lb_path, str | Path) else list(lb_path)
    parts, files, file_of, row_of, unsplit = [], [], [], [], []
    for number, path in enumerate(paths):
        part = read_sdtm(path)
        name = Path(path).name
        unsplit += [(name, row, reason) for row, reason in part.attrs.get("rejects", [])]
        files.append(name)
        file_of.append(np.full(len(part), number, dtype=np.intp))
        row_of.append(part.index.to_numpy(dtype=np.int64) + 1)
        parts.append(part.reset_index(drop=True))
    lb = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    lb.attrs = {}
    dm = read_sdtm(dm_path) if dm_path is not None else None
    view = grading_view(lb)
    problems = rejected_rows(view)
    tox = tox_codes(view, dm, problems)
    for column in OUTPUT_COLUMNS:  # text as Arrow-backed str, like the columns read
        lb[column] = _text(tox.arrow(column)) if column in tox.texts else tox.grades[column]
    out = Path(out_path)
    origin = (np.concatenate(file_of), np.concatenate(row_of))
    # The rejects and the summary are worked out while the output is written (mostly by
    # Arrow, without the GIL); the rejects file is written once the output is.
    with ThreadPoolExecutor(max_workers=1) as pool:
        written = pool.submit(write_output, lb, out)
        rejects = rejects_table(lb, problems, files, origin, unsplit)
        terms = tox.frame(categorical_terms=True).assign(LBTESTCD=view["LBTESTCD"])
        summary = summarise(terms, out)
        written.result()
    target = Path(rejects_path) if rejects_path else out.with_name(f"{out.stem}.rejects.csv")
    if len(rejects):
        from aewatch.ctcae.csv_io import write_csv

        write_csv(rejects, target)  # the bytes of rejects.to_csv(target, index=False)
    rejected = problems["index"].nunique() + len(unsplit)
    return replace(summary, rejected=rejected, rejects_path=target if len(rejects) else None)
