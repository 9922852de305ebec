"""SDTM ISO 8601 dates, including partial ones, parsed column-wise.

SDTM allows reduced precision (`2025-03`, `2025`) and times (`2025-03-04T10:30`).
aewatch keeps the precision beside the date, stores the *earliest* day of a partial
period (2025-03 → 2025-03-01) and knows its last day (``period_end``): a partial onset
whose period contains the first RT day is taken as on that day, so it is
treatment-emergent (safety_domain §5; aewatch.safety.onsets).
Precision is one of: day, month, year. Times are kept only as text (LBDTC).
"""

from __future__ import annotations

import pandas as pd

_ISO = (
    r"^(?P<year>\d{4})"
    r"(?:-(?P<month>\d{2})"
    r"(?:-(?P<day>\d{2})"
    r"(?:T(?P<time>\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)(?:Z|[+-]\d{2}:?\d{2})?)?"
    r")?)?$"
)


def parse_iso_dates(values: pd.Series) -> pd.DataFrame:
    """Parse a text column: returns ``date`` (datetime64, imputed), ``precision``, ``invalid``.

    ``invalid`` is True where a value is present but not an ISO 8601 date, or names a
    day that does not exist (2025-02-30). Empty values are missing, not invalid.
    """
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    parts = text.str.extract(_ISO)
    matched = parts["year"].notna()
    month = parts["month"].fillna("01")
    day = parts["day"].fillna("01")
    candidate = parts["year"] + "-" + month + "-" + day
    parsed = pd.to_datetime(candidate.where(matched), format="%Y-%m-%d", errors="coerce")
    precision = pd.Series(pd.NA, index=values.index, dtype="string")
    precision = precision.mask(matched, "year")
    precision = precision.mask(parts["month"].notna(), "month")
    precision = precision.mask(parts["day"].notna(), "day")
    invalid = present & (~matched | parsed.isna())
    return pd.DataFrame(
        {
            "date": parsed.where(~invalid),
            "precision": precision.where(~invalid),
            "invalid": invalid,
        },
        index=values.index,
    )


def period_end(first: pd.Series, precision: pd.Series) -> pd.Series:
    """The last day a partial date can mean (2025-03 → 2025-03-31, 2025 → 2025-12-31)."""
    end = first.copy()
    month = precision.eq("month").fillna(False).to_numpy(dtype=bool)
    year = precision.eq("year").fillna(False).to_numpy(dtype=bool)
    if month.any():
        end[month] = first[month] + pd.offsets.MonthEnd(0)
    if year.any():
        end[year] = first[year] + pd.offsets.YearEnd(0)
    return end
