"""First-line systemic therapy from EX: per patient and drug, dates, dose changes and
interruptions, so the report's systemic-therapy table comes from dosing records and not
from the DM field alone.

Readings (docs/exposure.md):

- a **dose change** is a record whose dose differs from the drug's previous non-zero dose;
- an **interruption** is a record with dose 0, or a gap between one record's end and the
  next record's start longer than the schedule allows: the EXDOSFRQ interval (daily
  dosing: any missed day; every 2–4 weeks: more than a week late); without EXDOSFRQ only
  records that cover several days (continuous dosing) are judged, by missed days;
- ``adjustments`` counts records with a reason for dose adjustment (EXADJ).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aewatch.exposure.vocabulary import Vocabulary, interval_days

SYSTEMIC_COLUMNS = [
    "subject_pk",
    "agent",
    "line",
    "first_dose_on",
    "last_dose_on",
    "records",
    "dose_changes",
    "interruptions",
    "adjustments",
]
PERIODIC_SLACK_DAYS = 7  # an infusion up to a week late is a scheduling matter, not a hold


def systemic_exposure(records: pd.DataFrame, vocabulary: Vocabulary) -> pd.DataFrame:
    """One row per subject and drug (``SYSTEMIC_COLUMNS``) from systemic EX records:
    subject_pk, agent, line, start_on, end_on, dose, dose_unit, dose_frequency, adjustment."""
    if records.empty:
        return pd.DataFrame(columns=SYSTEMIC_COLUMNS)
    frame = records.assign(end_on=records["end_on"].fillna(records["start_on"]))
    frame = frame.sort_values(["subject_pk", "agent", "start_on", "end_on"], kind="stable")
    frame = frame.reset_index(drop=True)
    group = frame.groupby(["subject_pk", "agent"], sort=False)
    dose = pd.to_numeric(frame["dose"], errors="coerce")
    held = dose.eq(0)
    given = dose.where(~held)
    previous_given = given.groupby([frame["subject_pk"], frame["agent"]]).ffill()
    previous_given = previous_given.groupby([frame["subject_pk"], frame["agent"]]).shift()
    changed = given.notna() & previous_given.notna() & (given != previous_given)
    previous_end = group["end_on"].shift()
    gap = (frame["start_on"] - previous_end).dt.days
    interval = interval_days(group["dose_frequency"].shift(), vocabulary)
    allowed = np.where(interval <= 2, interval, interval + PERIODIC_SLACK_DAYS)
    continuous = (group["end_on"].shift() > group["start_on"].shift()).fillna(False)
    late = np.where(np.isnan(interval), continuous & (gap > 1), gap > allowed)
    frame["_changed"] = changed
    frame["_interrupted"] = held | pd.Series(late, index=frame.index).fillna(False)
    frame["_adjusted"] = frame["adjustment"].fillna("").astype(str).str.strip() != ""
    out = frame.groupby(["subject_pk", "agent"], sort=True).agg(
        line=("line", "first"),
        first_dose_on=("start_on", "min"),
        last_dose_on=("end_on", "max"),
        records=("start_on", "size"),
        dose_changes=("_changed", "sum"),
        interruptions=("_interrupted", "sum"),
        adjustments=("_adjusted", "sum"),
    )
    return out.reset_index()[SYSTEMIC_COLUMNS]
