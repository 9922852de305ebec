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
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from aewatch.ctcae.labs import derive_baseline, grade_labs

OUTPUT_COLUMNS = ["TOXTERML", "TOXGRL", "TOXTERMH", "TOXGRH", "TOXNOTE"]
REJECT_COLUMNS = ["file", "row", "USUBJID", "LBTESTCD", "field", "value", "reason"]


@dataclass(frozen=True)
class GradingSummary:
    """What a grading run did, for the CLI table and for logs."""

    rows: int
    graded: int  # rows with a grade in at least one direction
    not_gradable: tuple[tuple[str, int], ...]  # (reason, rows), most frequent first
    distribution: pd.DataFrame = field(compare=False, repr=False)
    out_path: Path | None = None
    rejected: int = 0  # rows not graded because their data are malformed or implausible
    rejects_path: Path | None = None

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


def rejected_rows(lb: pd.DataFrame) -> pd.DataFrame:
    """Rows that must not be graded, one row per problem: ``index``, ``field``, ``value``,
    ``reason``. A result that is not a number, or an implausible result or range."""
    from aewatch.ctcae.plausibility import PROBLEM_COLUMNS, implausible_results

    text = lb["LBSTRESN"] if "LBSTRESN" in lb else pd.Series(None, index=lb.index, dtype=object)
    values = pd.to_numeric(text, errors="coerce")
    written = text.astype(object).where(text.notna(), "").astype(str).str.strip()
    not_number = (
        (written != "") & values.isna() & ~written.str.lower().isin(["nan", "+nan", "-nan"])
    )
    parts = []
    if not_number.any():
        parts.append(
            pd.DataFrame(
                {
                    "index": lb.index[not_number.to_numpy()],
                    "field": "LBSTRESN",
                    "value": written[not_number].to_numpy(),
                    "reason": [
                        f"result LBSTRESN '{w}' is not a number" for w in written[not_number]
                    ],
                }
            )
        )
    empty = pd.Series(None, index=lb.index, dtype=object)
    parts.append(
        implausible_results(
            lb.get("LBTESTCD", empty),
            values.to_numpy(dtype="float64", na_value=float("nan")),
            lb.get("LBSTRESU", empty),
            _numbers(lb, "LBSTNRLO"),
            _numbers(lb, "LBSTNRHI"),
            value_texts=written,
        )
    )
    found = [p for p in parts if not p.empty]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=PROBLEM_COLUMNS)


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


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
    rejects = rejected_rows(lb) if rejects is None else rejects
    bad = lb.index.isin(rejects["index"])
    if bad.any() or not isinstance(lb.index, pd.RangeIndex):
        usable = lb.loc[~bad]
        labels = usable.index
        usable = usable.reset_index(drop=True)  # grade_labs aligns its text columns by position
        baseline = derive_baseline(usable, _reference_start(dm))
        grades = grade_labs(usable, baseline)
        grades.index = labels
        grades = grades.reindex(lb.index)
        if bad.any():
            why = rejects.groupby("index", sort=False)["reason"].agg("; ".join)
            grades.loc[bad, "tox_note"] = "not graded: " + why.reindex(lb.index[bad]).to_numpy()
    else:  # every row usable: grade the frame as it is (no copy of a million rows)
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
    rejects_path: str | Path | None = None,
) -> GradingSummary:
    """Grade an SDTM LB export (.xpt/.csv; a list of files is stacked) and write it out;
    rows not graded for bad data are listed in ``rejects_path`` (default: next to the
    output, ``<out>.rejects.csv``; written only when there are any)."""
    paths = [lb_path] if isinstance(lb_path, str | Path) else list(lb_path)
    parts, origin, unsplit = [], [], []
    for path in paths:
        part = read_sdtm(path)
        name = Path(path).name
        unsplit += [(name, row, reason) for row, reason in part.attrs.get("rejects", [])]
        origin += [(name, int(i) + 1) for i in part.index]
        parts.append(part.reset_index(drop=True))
    lb = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    lb.attrs = {}
    dm = read_sdtm(dm_path) if dm_path is not None else None
    problems = rejected_rows(lb)
    graded = grade_lab_frame(lb, dm, problems, in_place=True)
    out = Path(out_path)
    write_output(graded, out)
    rejects = _rejects_table(lb, problems, origin, unsplit)
    target = Path(rejects_path) if rejects_path else out.with_name(f"{out.stem}.rejects.csv")
    if len(rejects):
        rejects.to_csv(target, index=False)
    summary = summarise(graded, out)
    rejected = len(set(problems["index"])) + len(unsplit)
    return replace(summary, rejected=rejected, rejects_path=target if len(rejects) else None)


def _rejects_table(
    lb: pd.DataFrame,
    problems: pd.DataFrame,
    origin: list[tuple[str, int]],
    unsplit: list[tuple[str, int, str]],
) -> pd.DataFrame:
    rows = [
        {
            "file": name,
            "row": row,
            "USUBJID": None,
            "LBTESTCD": None,
            "field": None,
            "value": None,
            "reason": reason,
        }
        for name, row, reason in unsplit
    ]
    for problem in problems.itertuples(index=False):
        name, row = origin[int(problem.index)]
        rows.append(
            {
                "file": name,
                "row": row,
                "USUBJID": lb.at[problem.index, "USUBJID"] if "USUBJID" in lb else None,
                "LBTESTCD": lb.at[problem.index, "LBTESTCD"] if "LBTESTCD" in lb else None,
                "field": problem.field,
                "value": problem.value,
                "reason": problem.reason,
            }
        )
    table = pd.DataFrame(rows, columns=REJECT_COLUMNS)
    return table.sort_values(["file", "row"], kind="stable").reset_index(drop=True)
