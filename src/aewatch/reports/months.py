"""The DSMB report's months and parts: light enough for the daemon to ask at every
cycle whether a report is due without importing the report's charting libraries."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

REPORT_KIND = "dsmb"
PARTS = ("open", "closed")


def kind_of(part: str) -> str:
    """The ``reports`` row kind of one part: dsmb-open, dsmb-closed."""
    return f"{REPORT_KIND}-{part}"


def parse_month(month: str) -> tuple[datetime, datetime]:
    """'2026-02' → (2026-02-01 00:00 UTC, 2026-02-28 23:59:59.999999 UTC)."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from exc
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + timedelta(days=days) - timedelta(microseconds=1)


def previous_month(month: str) -> str:
    start, _ = parse_month(month)
    return (start - timedelta(days=1)).strftime("%Y-%m")
