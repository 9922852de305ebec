"""Which LB rows ``grade-labs`` must not grade, and the rejects file that lists them.

A result that is not a number, and an implausible result or reference range
(``plausibility``), is neither graded nor used as a baseline; the rejects file gives the
data manager its file, row, subject, test, field, value and reason. Text is judged once
per distinct value (an export repeats its results and ranges), never row by row.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from aewatch.ctcae.sdtm_columns import factor_codes, numeric_column

REJECT_COLUMNS = ["file", "row", "USUBJID", "LBTESTCD", "field", "value", "reason"]
SPELLED_NAN = ("nan", "+nan", "-nan")  # written out: not finite, checked by plausibility


def rejected_rows(lb: pd.DataFrame) -> pd.DataFrame:
    """Rows that must not be graded, one row per problem: ``index``, ``field``, ``value``,
    ``reason``. A result that is not a number, or an implausible result or range."""
    from aewatch.ctcae.plausibility import PROBLEM_COLUMNS, implausible_results

    empty = pd.Series(None, index=lb.index, dtype=object)
    codes, distinct = factor_codes(lb.get("LBSTRESN", empty))
    texts = pd.Series(distinct[:-1], dtype=object)  # the last code is "missing"
    numbers = np.append(
        pd.to_numeric(texts, errors="coerce").to_numpy(dtype="float64", na_value=np.nan), np.nan
    )
    written = np.append(texts.astype(str).str.strip().to_numpy(dtype=object), "")
    spelled_nan = np.asarray([w.lower() in SPELLED_NAN for w in written], dtype=bool)
    not_number = ((written != "") & np.isnan(numbers) & ~spelled_nan)[codes]
    parts = []
    if not_number.any():
        reasons = np.asarray([f"result LBSTRESN '{w}' is not a number" for w in written])
        parts.append(
            pd.DataFrame(
                {
                    "index": lb.index[not_number],
                    "field": "LBSTRESN",
                    "value": written[codes[not_number]],
                    "reason": reasons[codes[not_number]],
                }
            )
        )
    parts.append(
        implausible_results(
            lb.get("LBTESTCD", empty),
            numbers[codes],
            lb.get("LBSTRESU", empty),
            numeric_column(lb, "LBSTNRLO"),
            numeric_column(lb, "LBSTNRHI"),
            value_texts=pd.Series(written[codes], index=lb.index, dtype=object, copy=False),
        )
    )
    found = [p for p in parts if not p.empty]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=PROBLEM_COLUMNS)


def joined_reasons(problems: pd.DataFrame) -> pd.Series:
    """The reasons of each row with problems joined with "; ", in the order found, by
    the row's label (in order of first problem): one Arrow join, not one per row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    codes, labels = pd.factorize(problems["index"])
    order = np.argsort(codes, kind="stable")
    offsets = np.append(0, np.cumsum(np.bincount(codes, minlength=len(labels))))
    reasons = pa.array(problems["reason"].to_numpy(dtype=object)[order], type=pa.large_string())
    lists = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()), reasons)
    joined = pc.binary_join(lists, pa.scalar("; ", pa.large_string()))
    joined = joined.to_numpy(zero_copy_only=False)
    return pd.Series(joined, index=labels, dtype=object)


def rejects_table(
    lb: pd.DataFrame,
    problems: pd.DataFrame,
    files: list[str],
    origin: tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]],
    unsplit: list[tuple[str, int, str]],
) -> pd.DataFrame:
    """The rejects file's rows, by file and row: the rows that did not split into the
    header's fields (``unsplit``: file, row, reason), then every problem of ``problems``
    (labels of ``lb``, a RangeIndex) with the file (``files[origin[0]]``) and row
    (``origin[1]``) it came from."""
    where = problems["index"].to_numpy(dtype=np.intp)
    file_of, row_of = origin
    found = pd.DataFrame(
        {
            "file": np.asarray(files, dtype=object)[file_of[where]],
            "row": row_of[where],
            "USUBJID": _cells(lb, "USUBJID", where),
            "LBTESTCD": _cells(lb, "LBTESTCD", where),
            "field": problems["field"].to_numpy(dtype=object),
            "value": problems["value"].to_numpy(dtype=object),
            "reason": problems["reason"].to_numpy(dtype=object),
        }
    )
    if unsplit:
        names, rows, reasons = zip(*unsplit, strict=True)
        split = pd.DataFrame({"file": names, "row": rows, "reason": reasons})
        found = pd.concat([split, found], ignore_index=True) if len(found) else split
    table = found.reindex(columns=REJECT_COLUMNS)
    return table.sort_values(["file", "row"], kind="stable").reset_index(drop=True)


def _cells(lb: pd.DataFrame, column: str, where: npt.NDArray[np.intp]) -> npt.NDArray[np.object_]:
    if column not in lb:
        return np.full(len(where), None, dtype=object)
    return lb[column].iloc[where].to_numpy(dtype=object)
