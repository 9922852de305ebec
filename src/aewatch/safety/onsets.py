"""Partial AE onsets: which day they are taken as, and how they are shown.

A partial onset (``2026-03``, ``2026``) is a period, stored as its first day
(``onset_on``) and its last day (``onset_until``). Imputed conservatively and the same
way everywhere (counts, stopping rules, alerts; ICH E9 / ADaM ASTDT imputation with the
treatment-start rule): when the period contains the patient's first RT day, the onset is
taken as that day — so the AE is treatment-emergent and inside the rule windows —
otherwise as the first day of the period. A full date is never moved.

The precision is shown with the date wherever a date is shown (``2026-03 (month)``),
never as an invented exact day.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported by the callers that pass frames (fast CLI start)
    import pandas as pd

# The same rule in SQL, over ``ae_versions v`` and a first-RT column ``f.first_rt_on``
# (the counts and `aewatch status` read through the driver, without pandas).
IMPUTED_ONSET_SQL = (
    "CASE WHEN f.first_rt_on IS NOT NULL AND v.onset_until IS NOT NULL"
    " AND f.first_rt_on >= v.onset_on AND f.first_rt_on <= v.onset_until"
    " THEN f.first_rt_on ELSE v.onset_on END"
)


def impute_onset(
    onset_on: date | None, onset_until: date | None, first_rt: date | None
) -> date | None:
    """The day a (possibly partial) onset is taken as; see the module docstring."""
    if onset_on is None or onset_until is None or first_rt is None:
        return onset_on
    return first_rt if onset_on <= first_rt <= onset_until else onset_on


def impute_onsets(onset_on: pd.Series, onset_until: pd.Series, first_rt: pd.Series) -> pd.Series:
    """``impute_onset`` column-wise (aligned datetime64 series, NaT for unknown)."""
    inside = (onset_on <= first_rt) & (first_rt <= onset_until)
    return onset_on.where(~inside.fillna(False), first_rt)


def onset_text(onset_on: Any, precision: str | None) -> str:
    """``2026-03 (month)``, ``2026 (year)`` or ``2026-03-14``; empty when unknown."""
    if not isinstance(onset_on, date) or onset_on != onset_on:
        return ""  # None, NaT or NaN: unknown
    day = onset_on.date() if isinstance(onset_on, datetime) else onset_on
    if precision == "year":
        return f"{day.year:04d} (year)"
    if precision == "month":
        return f"{day.year:04d}-{day.month:02d} (month)"
    return day.isoformat()
