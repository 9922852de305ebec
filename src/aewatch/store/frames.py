"""DataFrame ↔ database values: plain Python rows for the driver, and content hashes.

Row-at-a-time ORM work would cap ingest at a few thousand rows a second; the writers
in this package turn a whole frame into driver-ready rows at once with these helpers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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
    "dose",
    "seq",
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


def content_hash(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
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
    """``_canonical_of`` once per distinct value (an export repeats its terms, dates and
    units). Value by value where distinct values can print apart: 1, 1.0 and True are one
    key in a column of Python objects, 0.0 and -0.0 in a float column."""
    if column.dtype.kind == "f" or (
        column.dtype == object
        and pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty")
    ):
        return _canonical_of(column, name)
    codes, distinct = pd.factorize(column, use_na_sentinel=True)
    if len(distinct) * 2 > len(column):
        return _canonical_of(column, name)
    values = pd.Series([*distinct.tolist(), None], dtype=object)
    texts = _canonical_of(values, name).to_numpy(dtype=object)
    return pd.Series(texts[codes], index=column.index, dtype=object)  # -1: the None


def _canonical_of(column: pd.Series, name: str) -> pd.Series:
    if name.endswith("_on"):
        dates = pd.to_datetime(column, errors="coerce", format="ISO8601")  # each value alone
        return dates.dt.strftime("%Y-%m-%d").fillna("").astype("object")
    if name in NUMERIC:
        with np.errstate(over="ignore", invalid="ignore"):  # 1e308 rounds to inf: still stable
            numbers = pd.to_numeric(column, errors="coerce").astype("float64").round(9)
        numbers = numbers + 0.0  # -0.0 is 0.0 (read as an integer, "-0" loses its sign)
        return numbers.astype("object").where(numbers.notna(), "").astype(str)
    if name in BOOLEAN:
        return column.fillna(False).astype(bool).map({True: "1", False: "0"}).astype("object")
    return column.astype("object").where(column.notna(), "").astype(str)


def records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """DataFrame rows as plain Python values (no numpy scalars, NaT or NA) for the driver."""
    lists = columns_of(frame, columns)
    return (
        [dict(zip(lists, values, strict=True)) for values in zip(*lists.values(), strict=True)]
        if len(frame)
        else []
    )


def columns_of(frame: pd.DataFrame, columns: list[str]) -> dict[str, list[Any]]:
    """``records`` by column: name → plain Python values, for ``store.bulk``."""
    return {
        name: _python_values(frame[name]) if name in frame.columns else [None] * len(frame)
        for name in columns
    }


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
    if not missing.any():
        return values
    out = np.fromiter(values, dtype=object, count=len(values))  # tuples stay whole
    out[missing] = None
    return out.tolist()
