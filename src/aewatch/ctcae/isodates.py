"""Parse ISO 8601 dates, possibly partial (``2014``, ``2014-01``), fast and date-only.

A partial date is an interval: ``2014-01`` is any day from 2014-01-01 to 2014-01-31.
``parse_iso_dates`` returns both ends as day numbers (days since 1970-01-01), so callers
decide which end a rule needs: a lab counts as "on or before the reference start" only
when its *last* possible day is on or before the reference's *first* possible day.
The time part (``T14:45``) is ignored: CTCAE and baseline rules compare dates.

Only the distinct strings are parsed (SDTM repeats dates a lot), with numpy on the
characters, so a million dates take a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

MISSING_DAY = np.iinfo(np.int64).min  # sentinel for "no date" in int64 day numbers

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class DayRange:
    """First and last possible day (days since 1970-01-01) of each date; MISSING_DAY if none."""

    first: IntArray
    last: IntArray

    @property
    def missing(self) -> npt.NDArray[np.bool_]:
        return self.first == MISSING_DAY

    @property
    def partial(self) -> npt.NDArray[np.bool_]:
        return (self.first != self.last) & ~self.missing


def _parse_unique(texts: npt.NDArray[np.object_]) -> tuple[IntArray, IntArray]:
    """Vectorised parse of distinct strings into first/last day numbers."""
    n = len(texts)
    first = np.full(n, MISSING_DAY, dtype=np.int64)
    last = np.full(n, MISSING_DAY, dtype=np.int64)
    if n == 0:
        return first, last
    chars = np.asarray([str(t).strip() if isinstance(t, str) else "" for t in texts], dtype="U10")
    codes = chars.view(np.uint32).reshape(n, 10).astype(np.int64)
    digit = (codes >= 48) & (codes <= 57)
    num = codes - 48
    has_year = digit[:, 0:4].all(axis=1)
    has_month = has_year & (codes[:, 4] == 45) & digit[:, 5] & digit[:, 6]
    has_day = has_month & (codes[:, 7] == 45) & digit[:, 8] & digit[:, 9]
    year = num[:, 0] * 1000 + num[:, 1] * 100 + num[:, 2] * 10 + num[:, 3]
    month = np.where(has_month, num[:, 5] * 10 + num[:, 6], 1)
    day = np.where(has_day, num[:, 8] * 10 + num[:, 9], 1)
    valid = has_year & (month >= 1) & (month <= 12)
    y = np.where(valid, year, 1970)
    m = np.where(valid, month, 1)
    month_start = (np.datetime64("1970-01", "M") + ((y - 1970) * 12 + (m - 1))).astype(
        "datetime64[D]"
    )
    next_month = (np.datetime64("1970-01", "M") + ((y - 1970) * 12 + m)).astype("datetime64[D]")
    month_start_n = month_start.astype(np.int64)
    days_in_month = next_month.astype(np.int64) - month_start_n
    valid &= (day >= 1) & (day <= days_in_month)
    year_end = (np.datetime64("1970", "Y") + (y - 1969)).astype("datetime64[D]").astype(np.int64)
    first_day = month_start_n + (day - 1)
    last_day = np.where(
        has_day, first_day, np.where(has_month, month_start_n + days_in_month - 1, year_end - 1)
    )
    first[valid] = first_day[valid]
    last[valid] = last_day[valid]
    return first, last


def parse_iso_dates(values: pd.Series | npt.ArrayLike) -> DayRange:
    """Day ranges of ISO 8601 strings, dates, datetimes or Timestamps (NaN/None → missing)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        days = series.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
        nat = series.isna().to_numpy()
        days = np.where(nat, MISSING_DAY, days)
        return DayRange(first=days, last=days.copy())
    if isinstance(series.dtype, pd.CategoricalDtype):  # already factorized
        codes = series.cat.codes.to_numpy().astype(np.intp)
        uniques = series.cat.categories.to_numpy(dtype=object)
    else:
        codes, uniques = pd.factorize(series.astype(object), use_na_sentinel=True)
    texts = np.asarray([_as_text(u) for u in np.asarray(uniques, dtype=object)], dtype=object)
    u_first, u_last = _parse_unique(texts)
    u_first = np.append(u_first, MISSING_DAY)  # code -1 (NA) → last slot
    u_last = np.append(u_last, MISSING_DAY)
    return DayRange(first=u_first[codes], last=u_last[codes])


def _as_text(value: object) -> str:
    """Dates and Timestamps as ISO text, so one parser handles every input type."""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    if isinstance(value, np.datetime64):
        return str(value.astype("datetime64[D]"))
    return value if isinstance(value, str) else ""


def day_to_date(days: npt.ArrayLike) -> pd.Series:
    """Day numbers back to ``datetime64[ns]`` (MISSING_DAY → NaT) for output columns."""
    d = np.asarray(days, dtype=np.int64)
    out = d.astype("datetime64[D]").astype("datetime64[ns]")
    out[d == MISSING_DAY] = np.datetime64("NaT")
    return pd.Series(out)
