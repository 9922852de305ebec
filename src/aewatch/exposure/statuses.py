"""How a radiotherapy course is described to people: the words for whether its BED can be
judged (``exposure.courses`` explains each) and its fraction schedule.

Plain Python, apart from ``courses`` (pandas), so that `aewatch subject` can show a
course without loading pandas.
"""

from __future__ import annotations

EVALUABLE = "evaluable"
DOSE_UNKNOWN = "dose unknown"
FRACTIONS_UNKNOWN = "fractions unknown"
OVERLAPPING = "overlapping records"
IMPLAUSIBLE = "implausible"


def schedule_text(fraction_doses: object) -> str:
    """'5 × 8 Gy', or '3 × 8 Gy + 2 × 6 Gy' for unequal fractions; '' when unknown."""
    if not isinstance(fraction_doses, list) or not fraction_doses:
        return ""
    return " + ".join(f"{int(n)} × {float(d):g} Gy" for n, d in fraction_doses)
