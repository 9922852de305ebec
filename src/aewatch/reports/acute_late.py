"""Acute vs late AEs: onset within ``acute_days`` of the start of the latest RT course
before it, or later (safety_domain §5: split at 90 days from RT start, the general
convention; config ``reports.acute_days``). Pure pandas.

Measured from the latest course started on or before the onset, so an AE ten days
after a second course is acute even when the first course was months earlier. An AE
with no onset date (or before any RT) is "timing unknown", never guessed into a column.
By patient: each patient once per row and timing, at the worst grade there.
"""

from __future__ import annotations

import pandas as pd

TIMINGS = ("acute", "late", "unknown")
COLUMNS = [
    "level",
    "soc",
    "term",
    "acute",
    "acute_g3plus",
    "late",
    "late_g3plus",
    "unknown",
]


def timing(events: pd.DataFrame, rt_courses: pd.DataFrame, acute_days: int) -> pd.Series:
    """acute | late | unknown for each event (index aligned with ``events``)."""
    out = pd.Series("unknown", index=events.index, dtype=object)
    known = events[events["onset_on"].notna()]
    starts = rt_courses.dropna(subset=["start_on"])[["subject_id", "start_on"]]
    if known.empty or starts.empty:
        return out
    left = known[["subject_id", "onset_on"]].reset_index().sort_values("onset_on")
    right = starts.sort_values("start_on")
    joined = pd.merge_asof(
        left,
        right,
        left_on="onset_on",
        right_on="start_on",
        by="subject_id",
        direction="backward",
    ).set_index("index")
    days = (joined["onset_on"] - joined["start_on"]).dt.days
    label = pd.Series("late", index=joined.index, dtype=object)
    label[days <= acute_days] = "acute"
    label[days.isna()] = "unknown"
    out.loc[label.index] = label
    return out


def acute_late_table(
    events: pd.DataFrame, rt_courses: pd.DataFrame, acute_days: int
) -> pd.DataFrame:
    """Patients by timing (any grade and grade ≥ 3): an "Any AE" row, then SOCs and terms."""
    frame = events.assign(timing=timing(events, rt_courses, acute_days))
    frame["g3"] = frame["grade"] >= 3
    blocks = [_counts(frame, []).assign(level="any", soc="Any adverse event", term="")]
    if not frame.empty:
        names = {"ctcae_soc": "soc", "ctcae_term": "term"}
        socs = _counts(frame, ["ctcae_soc"]).rename(columns=names).assign(level="soc", term="")
        terms = _counts(frame, ["ctcae_soc", "ctcae_term"]).rename(columns=names)
        body = pd.concat([socs, terms.assign(level="term")], ignore_index=True)
        size = socs.set_index("soc")["patients"]
        body["soc_size"] = body["soc"].map(size)
        body["is_term"] = body["level"] == "term"
        body = body.sort_values(
            ["soc_size", "soc", "is_term", "patients", "term"],
            ascending=[False, True, True, False, True],
            kind="stable",
        )
        blocks.append(body)
    return pd.concat(blocks, ignore_index=True)[COLUMNS]


def _counts(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Distinct patients per key and timing (any grade, grade ≥ 3), plus all patients."""
    by = keys or ["_all"]
    work = frame.assign(_all=0)[[*by, "timing", "subject_id", "g3"]]
    patients = work.drop_duplicates([*by, "subject_id"]).groupby(by).size()
    out = pd.DataFrame({"patients": patients})
    once = work.drop_duplicates([*by, "timing", "subject_id"])
    per_timing = once.groupby([*by, "timing"]).size().unstack(fill_value=0)
    severe = work[work["g3"]].drop_duplicates([*by, "timing", "subject_id"])
    per_timing_severe = severe.groupby([*by, "timing"]).size().unstack(fill_value=0)
    for name in TIMINGS:
        out[name] = per_timing.get(name, 0)
        if name != "unknown":
            column = per_timing_severe.get(name, 0)
            out[f"{name}_g3plus"] = column
    if out.empty and not keys:
        out = pd.DataFrame([{c: 0 for c in ["patients", *COLUMNS[3:]]}])
    out = out.fillna(0)
    for column in ["patients", *COLUMNS[3:]]:
        out[column] = out[column].astype(int)
    return out.reset_index(drop=not keys)
