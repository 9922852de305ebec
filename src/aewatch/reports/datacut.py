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
from typing import Any


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


# Treatment-emergent (safety_domain §5), in SQL over ``ae_versions v`` and a first-RT column
# ``f.first_rt_on``: onset on/after the first RT day, or unknown; a partial onset whose
# period contains the first RT day is taken as that day (aewatch.safety.onsets).
EMERGENT_SQL = (
    "(v.onset_on IS NULL OR f.first_rt_on IS NULL"
    " OR COALESCE(v.onset_until, v.onset_on) >= f.first_rt_on)"
)


def cut_clauses(cut: DataCut, params: dict[str, Any]) -> tuple[list[str], str]:
    """The cut in SQL, for the report's counts and the CLI's alike: conditions on the AE
    version ``v`` (the version known at the cut; onset on or before the clinical day, an
    unknown onset kept), and the condition on RT courses ``r`` that give the first RT day.
    Binds its parameters into ``params``."""
    where: list[str] = ["v.set_aside IS NULL"]  # aewatch.store.set_aside.COUNTED_SQL
    course_cut = ""
    if cut.known_at is None:
        where.append("v.is_current = :yes")
        params["yes"] = True
    else:
        params["as_of"] = cut.known_at
        course_cut += " AND (r.created_at IS NULL OR r.created_at <= :as_of)"
        where.append(
            "v.version = (SELECT MAX(w.version) FROM ae_versions w"
            " WHERE w.ae_pk = v.ae_pk AND w.recorded_at <= :as_of)"
        )
    if cut.clinical_day is not None:
        params["cut_day"] = cut.clinical_day
        course_cut += " AND r.start_on <= :cut_day"
        where.append("(v.onset_on IS NULL OR v.onset_on <= :cut_day)")
    return where, course_cut
