"""Plausibility of dates: a clinical date cannot lie after the file that reports it arrived,
nor long before the trial began.

A lab dated next year, an AE onset in 2099 or a birth-year typo (1925 for 2025) would
otherwise become a patient's last contact, make them "evaluable", or place an event
outside every window. The future limit allows one day (configurable) for time zones; the
early limit is the trial's first enrolment less a configurable margin for medical history
(``[plausibility]`` in the trial config). A partial date is implausible only when all of
its period is: ``2026-03`` is fine in a file received on 2026-03-01.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from aewatch.ingest.dates import period_end

# Where no first enrolment is configured, only dates before this are too early.
FLOOR = date(1900, 1, 1)


@dataclass(frozen=True)
class DateWindow:
    """Dates outside [earliest, latest] are implausible; ``why_early`` explains the floor."""

    earliest: date
    latest: date
    why_early: str
    tolerance_days: int = 1


def date_window(
    received: datetime,
    first_enrolment: date | None,
    history_margin_days: int,
    future_tolerance_days: int,
) -> DateWindow:
    """The window for a file received at ``received`` (UTC)."""
    latest = received.date() + timedelta(days=future_tolerance_days)
    if first_enrolment is None:
        return DateWindow(FLOOR, latest, FLOOR.isoformat(), future_tolerance_days)
    earliest = first_enrolment - timedelta(days=history_margin_days)
    why = (
        f"{earliest.isoformat()} (the trial's first enrolment, {first_enrolment.isoformat()}, "
        f"less {history_margin_days} days of medical history)"
    )
    return DateWindow(earliest, latest, why, future_tolerance_days)


def implausible_dates(parsed: pd.DataFrame, window: DateWindow) -> pd.Series:
    """ "future" or "early" per row (None where plausible or missing).

    ``parsed`` is ``parse_iso_dates`` output: ``date`` (the first day of the period)
    and ``precision``.
    """
    first = parsed["date"]
    last = period_end(first, parsed["precision"])
    latest = pd.Timestamp(window.latest)
    earliest = pd.Timestamp(window.earliest)
    future = (first > latest).fillna(False)
    early = (last < earliest).fillna(False)
    out = np.full(len(parsed), None, dtype=object)
    out[future.to_numpy(dtype=bool)] = "future"
    out[early.to_numpy(dtype=bool)] = "early"
    return pd.Series(out, index=parsed.index, dtype=object)


def date_reason(label: str, variable: str, text: str, kind: str, window: DateWindow) -> str:
    """What is wrong with one date, in the site's words."""
    if kind == "future":
        days = "day" if window.tolerance_days == 1 else "days"
        return (
            f"{label} {variable} '{text}' is in the future (after the file was received, "
            f"allowing {window.tolerance_days} {days} for time zones)"
        )
    return f"{label} {variable} '{text}' is before {window.why_early}"
