"""Lab shift tables and liver-function scores, from graded lab results (pure pandas).

Shift = baseline CTCAE grade → worst post-baseline grade, per parameter, in the
direction that is toxic for it (ALT high, platelets low). Baseline is the site's
flagged baseline, else the last value on or before the first RT day (config
``grading.baseline``: the pre-RT state, because systemic therapy started earlier).
"""

from __future__ import annotations

import re

import pandas as pd

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][0-9:.+Z-]*)?")
LIVER_TESTS = ("ALT", "AST", "ALP", "BILI", "ALB", "INR")
BLOOD_TESTS = ("PLAT", "NEUT", "WBC", "LYM", "HGB")
LOW_IS_TOXIC = frozenset({"ALB", "PLAT", "NEUT", "WBC", "LYM", "HGB"})
SHIFT_GRADES = (0, 1, 2, 3, 4)


def graded_labs(labs: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Each result with the grade in its toxic direction and a baseline / post flag."""
    frame = labs.merge(population[["subject_id", "first_rt_on"]], on="subject_id", how="inner")
    low = frame["test_code"].isin(LOW_IS_TOXIC)
    grade = frame["tox_grade_low"].where(low, frame["tox_grade_high"])
    frame["grade"] = grade.fillna(0).where(frame["value"].notna()).astype("Int64")
    frame = frame.sort_values(["subject_id", "test_code", "collected_on"], kind="stable")
    before_rt = frame["first_rt_on"].isna() | (frame["collected_on"] <= frame["first_rt_on"])
    flagged = frame.groupby(["subject_id", "test_code"])["baseline_flag"].transform("any")
    candidates = frame[frame["baseline_flag"] | (~flagged & before_rt)]
    baseline = candidates.groupby(["subject_id", "test_code"]).tail(1)
    frame["is_baseline"] = frame.index.isin(baseline.index)
    base_day = baseline.set_index(["subject_id", "test_code"])["collected_on"]
    keys = pd.MultiIndex.from_frame(frame[["subject_id", "test_code"]])
    frame["baseline_on"] = base_day.reindex(keys).to_numpy()
    after = frame["collected_on"] > frame["baseline_on"].fillna(frame["first_rt_on"])
    frame["is_post"] = after.fillna(False) & ~frame["is_baseline"]
    return frame


def shift_table(graded: pd.DataFrame, tests: tuple[str, ...]) -> pd.DataFrame:
    """Rows: test × baseline grade; columns: patients by worst post-baseline grade."""
    graded = graded[graded["test_code"].isin(tests)]
    base = graded[graded["is_baseline"]].set_index(["subject_id", "test_code"])["grade"]
    post = graded[graded["is_post"]].groupby(["subject_id", "test_code"])["grade"].max()
    pairs = pd.DataFrame({"baseline": base, "worst_post": post}).reset_index()
    pairs["baseline"] = pairs["baseline"].astype("object").where(pairs["baseline"].notna(), "NA")
    pairs["worst_post"] = (
        pairs["worst_post"].astype("object").where(pairs["worst_post"].notna(), "NA")
    )
    rows = []
    for test in tests:
        subset = pairs[pairs["test_code"] == test]
        for baseline in (*SHIFT_GRADES, "NA"):
            at = subset[subset["baseline"].astype(str) == str(baseline)]
            if at.empty:
                continue  # only baseline grades that occur: a 5×6 grid of zeros hides the signal
            row: dict[str, object] = {"test": test, "baseline_grade": str(baseline)}
            for post_grade in (*SHIFT_GRADES, "NA"):
                row[f"post_{post_grade}"] = int(
                    (at["worst_post"].astype(str) == str(post_grade)).sum()
                )
            rows.append(row)
    return pd.DataFrame(rows)


def syndrome_cases(ae: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Derived RILD and potential Hy's law AEs (origin 'syndrome') with their evidence."""
    cases = ae[ae["origin"] == "syndrome"].merge(
        population[["subject_id", "first_rt_on"]], on="subject_id", how="left"
    )
    delta = (cases["onset_on"] - cases["first_rt_on"]).dt.days
    cases["onset_day"] = delta.where(delta < 0, delta + 1).astype("Int64")
    cases["evidence_summary"] = cases["evidence"].map(summarise_evidence)
    columns = ["subject_id", "ctcae_term", "grade", "onset_day", "version", "evidence_summary"]
    return cases.sort_values(["ctcae_term", "subject_id"])[columns].reset_index(drop=True)


def summarise_evidence(evidence: object) -> str:
    """A short, date-free line from a derived AE's evidence (dates re-identify, §7)."""
    if not isinstance(evidence, dict):
        return ""
    if isinstance(evidence.get("summary"), str):
        return _ISO_DATE.sub("[date]", evidence["summary"])[:160]
    parts = []
    for key in sorted(evidence):
        value = evidence[key]
        if isinstance(value, bool | int | float | str) and "date" not in key and "_on" not in key:
            text = f"{value:.3g}" if isinstance(value, float) else str(value)
            parts.append(f"{key}={_ISO_DATE.sub('[date]', text)[:40]}")
    return "; ".join(parts[:8])
