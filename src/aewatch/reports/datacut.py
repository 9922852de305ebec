"""The data cut every table, count and rule status is computed at: two moments, stated.

* **Clinical cut** (a day): every event counts by its *clinical* date — AE onset, lab
  collection, enrolment, RT start, death, withdrawal, disposition — on or before that
  day, for every data type alike. An AE entered on the 3rd of next month about an onset
  on the 28th belongs to this month.
* **Knowledge time** (an instant): what aewatch had recorded by then. ``None`` means
  everything recorded now; a report states the time it was generated, and ``--as-of``
  that time replays it (AEs are versioned, so a later correction is invisible to the
  replay; subjects, courses, labs and disposition records first recorded later are left
  out, while an in-place correction of one of them shows its corrected value).

``counts``, ``subject``, ``status`` and ``report dsmb`` all take a ``DataCut``; the CLI
defaults are the clinical day of the knowledge time (today) and now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time


@dataclass(frozen=True)
class DataCut:
    """``clinical_day`` None: no clinical cut; ``known_at`` None: everything recorded."""

    clinical_day: date | None = None
    known_at: datetime | None = None

    @classmethod
    def at(cls, cut: date | None, as_of: datetime | None, now: datetime) -> DataCut:
        """The CLI meaning: ``--cut`` (default: the day of ``--as-of``, else today) and
        ``--as-of`` (default: everything recorded now)."""
        day = cut or (as_of or now).astimezone(UTC).date()
        return cls(clinical_day=day, known_at=as_of)

    @property
    def clinical_end(self) -> datetime | None:
        """The last instant of the clinical day (UTC): what a rule is evaluated at."""
        if self.clinical_day is None:
            return None
        return datetime.combine(self.clinical_day, time.max, tzinfo=UTC)

    def known_by(self, moment: datetime | None) -> bool:
        """Was something recorded at ``moment`` known at the knowledge time?"""
        return self.known_at is None or moment is None or moment <= self.known_at

    def describe(self, generated_at: datetime | None = None) -> str:
        """One line for the top of a report or a CLI table."""
        clinical = (
            f"events dated on or before {self.clinical_day:%Y-%m-%d}"
            if self.clinical_day
            else "events of any date"
        )
        knowledge = self.known_at or generated_at
        known = f"as recorded by {knowledge:%Y-%m-%d %H:%M} UTC" if knowledge else "as recorded now"
        return f"Clinical cut: {clinical}; knowledge: {known}."
