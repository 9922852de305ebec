"""SDTM ISO 8601 dates, including partial ones, parsed column-wise.

SDTM allows reduced precision (`2025-03`, `2025`) and times (`2025-03-04T10:30`).
aewatch keeps the precision beside the date and imputes the *earliest* day of a
partial period (2025-03 → 2025-03-01), so a partial onset that could fall on or
after radiotherapy start is counted as treatment-emergent (safety_domain §5).
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
