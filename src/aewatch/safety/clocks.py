"""Expedited reporting clocks (ICH E2A, E6 4.11.1; safety_domain §2.4).

Day 0 is awareness. New seriousness information starts a new clock at its own
awareness time, which is why the clock is computed per AE version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aewatch.config import ClockSettings
from aewatch.safety.sae import SusarAssessment


@dataclass(frozen=True)
class Deadline:
    key: str  # stable: used in reminder dedup keys
    label: str
    due_at: datetime


@dataclass(frozen=True)
class ReportingClock:
    aware_at: datetime
    deadlines: tuple[Deadline, ...]

    @property
    def first_due(self) -> datetime:
        return min(d.due_at for d in self.deadlines)


def expedited_clock(
    aware_at: datetime, susar: SusarAssessment, clocks: ClockSettings
) -> ReportingClock:
    """Sponsor notification for every SAE; SUSAR clocks when one may be a SUSAR."""
    hours = clocks.sponsor_notification_hours
    deadlines = [
        Deadline(
            "sponsor-notification",
            f"sponsor {hours:g}-hour notification",
            aware_at + timedelta(hours=hours),
        )
    ]
    if susar.possible and susar.fatal_or_life_threatening:
        deadlines.append(
            Deadline(
                "susar-7d",
                f"SUSAR {clocks.susar_fatal_days}-day report (fatal or life-threatening)",
                aware_at + timedelta(days=clocks.susar_fatal_days),
            )
        )
        deadlines.append(
            Deadline(
                "susar-followup",
                f"SUSAR follow-up report (day {clocks.susar_fatal_followup_days})",
                aware_at + timedelta(days=clocks.susar_fatal_followup_days),
            )
        )
    elif susar.possible:
        deadlines.append(
            Deadline(
                "susar-15d",
                f"SUSAR {clocks.susar_other_days}-day report",
                aware_at + timedelta(days=clocks.susar_other_days),
            )
        )
    return ReportingClock(aware_at=aware_at, deadlines=tuple(deadlines))
