"""SDTM ISO 8601 dates, including partial ones, parsed column-wise.

SDTM allows reduced precision (`2025-03`, `2025`) and times (`2025-03-04T10:30`).
aewatch keeps the precision beside the date, stores the *earliest* day of a partial
period (2025-03 → 2025-03-01) and knows its last day (``period_end``): a partial onset
whose period contains the first RT day is taken as on that day, so it is
treatment-emergent (safety_domain §5; aewatch.safety.onsets).
Precision is one of: day, month, year. Times are kept only as text (LBDTC), except the
awareness time (AEAWDTC), read by ``parse_iso_moments``: the 24-hour notification clock
runs from it, so its time and UTC offset are kept and placed in UTC by ``awareness_utc``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

_ISO = (
    r"^(?P<year>\d{4})"
    r"(?:-(?P<month>\d{2})"
    r"(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2})(?::(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?)?"
    r"(?P<offset>Z|[+-]\d{2}:?\d{2})?)?"
    r")?)?$"
)


def parse_iso_dates(values: pd.Series) -> pd.DataFrame:
    """Parse a text column: returns ``date`` (datetime64, imputed), ``precision``, ``invalid``.

    ``invalid`` is True where a value is present but not an ISO 8601 date, or names a
    day that does not exist (2025-02-30). Empty values are missing, not invalid.
    """
    return _once_per_distinct(_parse_iso_dates, values)


def _once_per_distinct(
    parse: Callable[[pd.Series], pd.DataFrame], values: pd.Series
) -> pd.DataFrame:
    """``parse(values)``, computed once per distinct text: an export repeats its dates
    thousands of times, and the regular expression is the costly part."""
    codes, uniques = pd.factorize(values.astype(object))
    if 2 * len(uniques) > len(values):
        return parse(values)
    distinct = pd.Series([*uniques, None], dtype=object)
    parsed = parse(distinct)
    out = parsed.iloc[np.where(codes < 0, len(uniques), codes)]
    out.index = values.index
    return out


def _parse_iso_dates(values: pd.Series) -> pd.DataFrame:
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


def parse_iso_moments(values: pd.Series) -> pd.DataFrame:
    """``parse_iso_dates`` with the time of day kept: adds ``moment`` (the date and time as
    written, naive; the start of the day where no time is given), ``offset_minutes`` (an
    explicit UTC offset, ``Z`` = 0; NA where none is written: the writer's local time) and
    ``timed``. Seconds are optional and fractions of a second dropped (earlier, never
    later). A time or offset that cannot exist (T25:00, T10:61, +15:00) is ``invalid``.
    """
    return _once_per_distinct(_parse_iso_moments, values)


def _parse_iso_moments(values: pd.Series) -> pd.DataFrame:
    parsed = _parse_iso_dates(values)
    parts = values.astype("string").str.strip().str.extract(_ISO)
    hour = pd.to_numeric(parts["hour"], errors="coerce")
    minute = pd.to_numeric(parts["minute"], errors="coerce")
    second = pd.to_numeric(parts["second"], errors="coerce")
    offset_text = parts["offset"].astype("string")
    digits = offset_text.str.replace(":", "", regex=False).str[1:]
    offset_hours = pd.to_numeric(digits.str[:2], errors="coerce")
    offset_mins = pd.to_numeric(digits.str[2:], errors="coerce")
    impossible = (
        (hour > 23) | (minute > 59) | (second > 59) | (offset_hours > 14) | (offset_mins > 59)
    ).fillna(False)
    invalid = parsed["invalid"] | (impossible & parsed["date"].notna())
    west = offset_text.str.startswith("-").fillna(False).to_numpy(dtype=bool)
    offset = (offset_hours * 60 + offset_mins) * np.where(west, -1, 1)
    offset = offset.mask(offset_text.eq("Z").fillna(False), 0)
    seconds = hour.fillna(0) * 3600 + minute.fillna(0) * 60 + second.fillna(0)
    moment = parsed["date"] + pd.to_timedelta(seconds, unit="s")
    return parsed.assign(
        invalid=invalid,
        date=parsed["date"].where(~invalid),
        precision=parsed["precision"].where(~invalid),
        moment=moment.where(~invalid),
        offset_minutes=offset.where(~invalid).astype("Int64"),
        timed=hour.notna() & ~invalid,
    )


def awareness_utc(moment: pd.Series, offset_minutes: pd.Series, zones: pd.Series) -> pd.Series:
    """Awareness moments as UTC instants (NaT where unknown).

    An explicit offset wins. Otherwise the moment is the site's local time in its IANA
    zone (``zones``); a date without a time is the start of that local day. A local time
    that a daylight-saving change repeats or skips is taken as the earliest instant it can
    mean, so the 24-hour clock (ICH E2A, from awareness) is due earlier, never later.
    """
    when = pd.to_datetime(moment, errors="coerce")
    if getattr(when.dt, "tz", None) is not None:  # already an instant
        when = when.dt.tz_convert(UTC).dt.tz_localize(None)
    offset = pd.to_numeric(offset_minutes, errors="coerce")
    out = pd.Series(pd.NaT, index=moment.index, dtype="datetime64[ns, UTC]")
    explicit = (when.notna() & offset.notna()).to_numpy(dtype=bool)
    if explicit.any():
        shifted = when[explicit] - pd.to_timedelta(offset[explicit], unit="m")
        out[explicit] = shifted.dt.tz_localize(UTC)
    local = (when.notna() & offset.isna()).to_numpy(dtype=bool)
    if local.any():
        pairs = pd.DataFrame(
            {"when": when[local], "zone": zones[local].astype("object").fillna("UTC")}
        )
        unique = pairs.drop_duplicates().reset_index(drop=True)
        unique["utc"] = [
            _earliest_instant(w, z) for w, z in zip(unique["when"], unique["zone"], strict=True)
        ]
        placed = pairs.merge(unique, on=["when", "zone"], how="left")
        out[local] = pd.to_datetime(placed["utc"], utc=True).to_numpy()
    return out


def _earliest_instant(when: pd.Timestamp, zone: str) -> datetime:
    """PEP 495: ``fold`` 0 and 1 are a wall time's two readings across a DST change."""
    naive = when.to_pydatetime()
    tz = ZoneInfo(zone)
    return min(naive.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))


def earliest_awareness_utc(
    moment: pd.Series, offset_minutes: pd.Series, zones: tuple[str, ...]
) -> pd.Series:
    """``awareness_utc`` where the site is not known yet (its subject is not in DM): the
    earliest instant the local time can mean in any of the trial's ``zones``."""
    readings = [
        awareness_utc(moment, offset_minutes, pd.Series(zone, index=moment.index, dtype="object"))
        for zone in dict.fromkeys(zones or ("UTC",))
    ]
    return pd.concat(readings, axis=1).min(axis=1).astype("datetime64[ns, UTC]")
