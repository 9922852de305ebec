"""Radiotherapy courses from EX records, however the site split them.

A course is the series of records of one subject to one lesion whose dates follow each
other with gaps of at most ``course_gap_days``; a later series to the same lesion is a new
course (re-irradiation, ``course_number`` 2, 3 …). A record gives ``EXNFRAC`` fractions of
``EXDOSE`` each, or one fraction when it covers a single day and EXNFRAC is empty.

The lesion is EXLOC (one spelling: case, punctuation and liver-segment names folded),
refined by EXLNKID where given (the SDTM oncology link to the lesion), and by EXSPID when
a site repeats one EXSPID over several records (a lesion number); an EXSPID found on one
record only is that record's own identifier and does not split a lesion's fractions.

Per course: fractions, the fraction doses as runs ``[[n, d], …]``, total dose, and
``BED = Σ nᵢ·dᵢ·(1 + dᵢ/(α/β))`` with ``EQD2 = BED / (1 + 2/(α/β))`` (Fowler 1989; exact
for unequal fractions, rounded to 6 decimals so 25 × 2.4 Gy summed is 60 Gy₁₀, not
59.99999999999998). ``dose_status`` says whether the BED can be judged:

- ``dose unknown``: a record has no dose or its unit is not a radiation unit;
- ``fractions unknown``: a record spans several days without EXNFRAC;
- ``overlapping records``: two records of the course share days (a fraction may be counted
  twice: a corrected re-export under a new identity, or two lesions with one EXLOC);
- ``implausible``: a fraction above ``max_dose_per_fraction_gy`` or a BED above
  ``max_bed_gy`` (a total dose in EXDOSE, cGy written as Gy);
- ``evaluable``: none of these.

A course is ``completed`` once no further fraction can join it: its last day is more than
``course_gap_days`` before the data cut. A protocol deviation (BED below the minimum) is
judged only on an evaluable, completed course, so a course whose fractions are still
arriving never raises one.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from aewatch.ctcae.dose import COMPARE_DECIMALS, bed_deviation
from aewatch.exposure.rules import ExposureRules
from aewatch.exposure.statuses import (
    DOSE_UNKNOWN,
    EVALUABLE,
    FRACTIONS_UNKNOWN,
    IMPLAUSIBLE,
    OVERLAPPING,
)
from aewatch.exposure.statuses import schedule_text as schedule_text  # where callers find it
from aewatch.exposure.vocabulary import lesion_base

COURSE_COLUMNS = [
    "subject_pk",
    "lesion_key",
    "lesion",
    "course_number",
    "treatment",
    "start_on",
    "end_on",
    "records",
    "fractions",
    "fraction_doses",
    "dose_per_fraction_gy",
    "total_dose_gy",
    "bed_gy",
    "eqd2_gy",
    "alpha_beta_gy",
    "dose_status",
    "completed",
    "bed_below_minimum",
    "liver_involved",
    "members",
    "overlap_starts",
    "plausible_fractions",
]


def lesion_keys(records: pd.DataFrame) -> pd.DataFrame:
    """``lesion_key`` (for grouping) and ``lesion_label`` (for people) of each record."""
    base = lesion_base(records["lesion"])
    link = records["link_id"].fillna("").astype(str).str.strip()
    spid = records["sponsor_id"].fillna("").astype(str).str.strip()
    subject = records["subject_pk"].astype(str)
    group = subject + "\x00" + base + "\x00" + link + "\x00" + spid
    repeated = (spid != "") & group.map(group.value_counts()).gt(1)
    suffix = pd.Series("", index=records.index)
    suffix = suffix.where(link == "", suffix + " / " + link)
    suffix = suffix.where(~repeated, suffix + " / " + spid)
    label = records["lesion"].fillna("").astype(str).str.strip()
    label = label.where(label != "", "(lesion not given)")
    return pd.DataFrame({"lesion_key": base + suffix, "lesion_label": label + suffix})


def build_courses(records: pd.DataFrame, rules: ExposureRules, as_of: date) -> pd.DataFrame:
    """One row per course (``COURSE_COLUMNS``) from radiotherapy records.

    ``records``: record_pk, subject_pk, lesion, link_id, sponsor_id, start_on, end_on
    (datetime64), fractions, dose_gy, fractions_known, liver (True/False/None).
    ``members`` lists each course's record_pks.
    """
    if records.empty:
        return pd.DataFrame(columns=COURSE_COLUMNS)
    keys = lesion_keys(records)
    frame = records.assign(
        lesion_key=keys["lesion_key"],
        lesion_label=keys["lesion_label"],
        end_on=records["end_on"].fillna(records["start_on"]),
    )
    frame = frame.sort_values(
        ["subject_pk", "lesion_key", "start_on", "end_on", "record_pk"], kind="stable"
    ).reset_index(drop=True)
    start = _days(frame["start_on"])
    end = np.fmax(_days(frame["end_on"]), start)
    frame["_start"], frame["_end"] = start, end
    lesion = frame.groupby(["subject_pk", "lesion_key"], sort=False)
    reach = lesion["_end"].cummax()
    previous_reach = reach.groupby([frame["subject_pk"], frame["lesion_key"]]).shift()
    # A record of unknown date starts a course of its own: joined to a dated course it
    # would lend that course its dose (and its BED) on no evidence that it belongs there.
    new = (
        previous_reach.isna()
        | frame["_start"].isna()
        | (frame["_start"] - previous_reach > rules.course_gap_days)
    )
    frame["_course"] = new.cumsum()
    frame["_overlap"] = ~new & (frame["_start"] <= previous_reach)

    ab = rules.alpha_beta_gy
    d = frame["dose_gy"].astype("float64")
    n = pd.to_numeric(frame["fractions"], errors="coerce").astype("float64")
    n = n.where(n.notna() | ~frame["fractions_known"].astype(bool), 1.0)
    frame["_n"], frame["_d"] = n, d
    frame["_total"] = n * d
    frame["_bed"] = n * d * (1.0 + d / ab)
    frame["_too_high"] = d > rules.max_dose_per_fraction_gy

    grouped = frame.groupby("_course", sort=True)
    courses = pd.DataFrame(
        {
            "subject_pk": grouped["subject_pk"].first(),
            "lesion_key": grouped["lesion_key"].first(),
            "lesion": grouped["lesion_label"].last(),
            "treatment": grouped["treatment"].last() if "treatment" in frame else "",
            "start_on": grouped["start_on"].min(),
            "end_on": grouped["end_on"].max(),
            "records": grouped.size(),
            "dose_missing": grouped["_d"].apply(lambda s: bool(s.isna().any())),
            "fractions_missing": grouped["_n"].apply(lambda s: bool(s.isna().any())),
            "overlap": grouped["_overlap"].any(),
            "too_high": grouped["_too_high"].any(),
            "fractions": grouped["_n"].sum(min_count=1),
            "total_dose_gy": grouped["_total"].sum(min_count=1),
            "bed_raw": grouped["_bed"].sum(min_count=1),
            "liver_involved": grouped["liver"].agg(_any_liver),
            "members": grouped["record_pk"].agg(lambda s: [int(v) for v in s]),
            "_end": grouped["_end"].max(),
        }
    )
    overlap_starts = frame[frame["_overlap"]].groupby("_course")["start_on"]
    found = overlap_starts.agg(lambda s: [str(v.date()) for v in s]).reindex(courses.index)
    courses["overlap_starts"] = [v if isinstance(v, list) else [] for v in found]
    runs = _fraction_runs(frame)
    courses["fraction_doses"] = runs.reindex(courses.index)
    unknown = courses["dose_missing"] | courses["fractions_missing"]
    for column in ("fractions", "total_dose_gy", "bed_raw"):
        courses[column] = courses[column].where(~unknown)
    courses["fraction_doses"] = courses["fraction_doses"].where(~unknown, None)
    courses["dose_per_fraction_gy"] = [
        float(r[0][1]) if isinstance(r, list) and len(r) == 1 else None
        for r in courses["fraction_doses"]
    ]
    bed = courses["bed_raw"].round(COMPARE_DECIMALS)
    courses["bed_gy"] = bed
    courses["eqd2_gy"] = (bed / (1.0 + 2.0 / ab)).round(COMPARE_DECIMALS)
    courses["total_dose_gy"] = courses["total_dose_gy"].round(COMPARE_DECIMALS)
    courses["alpha_beta_gy"] = ab
    implausible = courses["too_high"] | (bed > rules.max_bed_gy)
    courses["plausible_fractions"] = ~courses["too_high"]
    status = np.select(
        [
            courses["dose_missing"],
            courses["fractions_missing"],
            courses["overlap"],
            implausible,
        ],
        [DOSE_UNKNOWN, FRACTIONS_UNKNOWN, OVERLAPPING, IMPLAUSIBLE],
        EVALUABLE,
    )
    courses["dose_status"] = status
    cut = _days(pd.Series([pd.Timestamp(as_of)]))[0]
    courses["completed"] = courses["_end"] + rules.course_gap_days < cut
    below = np.asarray(bed_deviation(bed.to_numpy(float), rules.min_bed_gy), dtype=bool)
    courses["bed_below_minimum"] = below & (status == EVALUABLE) & courses["completed"]
    courses = courses.sort_values(["subject_pk", "lesion_key", "start_on"], kind="stable")
    courses["course_number"] = courses.groupby(["subject_pk", "lesion_key"]).cumcount() + 1
    courses["fractions"] = courses["fractions"].round().astype("Int64")
    return courses.reset_index(drop=True)[COURSE_COLUMNS]


def _days(values: pd.Series) -> np.ndarray:
    """Dates as day numbers (float; NaN where missing)."""
    stamps = pd.to_datetime(values).astype("datetime64[ns]")
    days = stamps.to_numpy().astype("datetime64[D]").astype("int64").astype("float64")
    days[np.isnat(stamps.to_numpy())] = np.nan
    return days


def _any_liver(values: pd.Series) -> bool | None:
    """Liver involved if any record's target is in the liver; not if all are elsewhere."""
    found = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if any(v is True for v in found):
        return True
    if len(found) == len(values) and found:
        return False
    return None


def _fraction_runs(frame: pd.DataFrame) -> pd.Series:
    """Per course, consecutive records with the same dose as ``[[n, d], …]``."""
    dose = frame["_d"].round(COMPARE_DECIMALS)
    breaks = (frame["_course"] != frame["_course"].shift()) | (dose != dose.shift())
    run = breaks.cumsum()
    runs = frame.groupby(run).agg(course=("_course", "first"), n=("_n", "sum"), d=("_d", "first"))
    pairs = [
        [int(n) if float(n).is_integer() else float(n), float(d)]
        for n, d in zip(runs["n"], runs["d"], strict=True)
    ]
    return pd.Series(pairs, index=runs.index).groupby(runs["course"].to_numpy()).agg(list)
