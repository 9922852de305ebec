"""Child-Pugh and ALBI change from the pre-RT baseline, per patient (pure pandas).

Scores come from ``aewatch.ctcae.liver_scores`` (the same functions the RILD detector
uses), computed on each day with bilirubin and albumin (and INR for Child-Pugh).
Ascites and encephalopathy points come from the worst CTCAE grade of an "Ascites" /
"Encephalopathy" AE active that day (the documented mapping in liver_scores; a judgment
call to confirm, safety_domain §3.2). Worst post-baseline = highest score after baseline.
A Child-Pugh rise of ≥ 2 points is the non-classic RILD criterion (§3.1).
"""

from __future__ import annotations

import pandas as pd

from aewatch.ctcae.liver_scores import (
    albi,
    ascites_from_ae_grade,
    child_pugh,
    encephalopathy_from_ae_grade,
)

TESTS = ("BILI", "ALB", "INR")
CP_RISE = 2


def liver_function_days(graded: pd.DataFrame, ae: pd.DataFrame) -> pd.DataFrame:
    """One row per patient-day with BILI (µmol/L), ALB (g/L), INR and active AE grades."""
    lab = graded[graded["test_code"].isin(TESTS) & graded["value"].notna()].copy()
    unit = lab["unit"].fillna("").str.strip().str.lower()
    factor = pd.Series(1.0, index=lab.index)
    factor[(lab["test_code"] == "BILI") & (unit == "mg/dl")] = 17.1
    factor[(lab["test_code"] == "ALB") & (unit == "g/dl")] = 10.0
    lab["standard"] = lab["value"] * factor
    keys = ["subject_id", "collected_on"]
    if lab.empty:
        return pd.DataFrame(
            columns=[
                *keys,
                *TESTS,
                "is_baseline",
                "is_post",
                "ascites_grade",
                "encephalopathy_grade",
            ]
        )
    days = lab.pivot_table(index=keys, columns="test_code", values="standard", aggfunc="last")
    days = days.reindex(columns=list(TESTS))
    flags = lab.groupby(keys).agg(is_baseline=("is_baseline", "any"), is_post=("is_post", "any"))
    days = days.join(flags).reset_index()
    days.columns.name = None
    days["is_post"] = days["is_post"] & ~days["is_baseline"]
    days["ascites_grade"] = _active_grade(days, ae, "Ascites")
    days["encephalopathy_grade"] = _active_grade(days, ae, "Encephalopathy")
    return days


def _active_grade(days: pd.DataFrame, ae: pd.DataFrame, term: str) -> pd.Series:
    """Worst grade of ``term`` AEs whose onset..end covers each day (0 when none)."""
    active = ae.loc[ae["ctcae_term"] == term, ["subject_id", "onset_on", "end_on", "grade"]]
    pairs = days[["subject_id", "collected_on"]].reset_index().merge(active, on="subject_id")
    on_day = (pairs["onset_on"] <= pairs["collected_on"]) & (
        pairs["end_on"].isna() | (pairs["end_on"] >= pairs["collected_on"])
    )
    worst = pairs[on_day].groupby("index")["grade"].max()
    return worst.reindex(days.index).fillna(0).astype(int)


def liver_scores(days: pd.DataFrame) -> pd.DataFrame:
    """ALBI and Child-Pugh for each patient-day (missing inputs leave the score missing)."""
    scores = days.copy()
    if scores.empty:
        for column in ("albi", "albi_grade", "cp_score", "cp_class"):
            scores[column] = pd.Series(dtype=object)
        return scores
    albi_frame = albi(scores["BILI"].to_numpy(float), scores["ALB"].to_numpy(float))
    scores["albi"] = albi_frame["albi_score"].round(3).to_numpy()
    scores["albi_grade"] = albi_frame["albi_grade"].to_numpy()
    cp = child_pugh(
        scores["BILI"].to_numpy(float),
        scores["ALB"].to_numpy(float),
        scores["INR"].to_numpy(float),
        ascites_from_ae_grade(scores["ascites_grade"].to_numpy(float)),
        encephalopathy_from_ae_grade(scores["encephalopathy_grade"].to_numpy(float)),
    )
    scores["cp_score"] = cp["cp_score"].to_numpy()
    scores["cp_class"] = cp["cp_class"].to_numpy()
    return scores


def change_from_baseline(scores: pd.DataFrame, score: str, grade: str) -> pd.DataFrame:
    """Per patient: baseline score and grade/class vs the worst (highest) post-baseline one."""
    columns = [
        "subject_id",
        f"baseline_{score}",
        f"baseline_{grade}",
        f"worst_{score}",
        f"worst_{grade}",
        "change",
    ]
    valid = scores[scores[score].notna()] if not scores.empty else scores
    if valid.empty:
        return pd.DataFrame(columns=columns)
    base = valid[valid["is_baseline"]].groupby("subject_id").tail(1).set_index("subject_id")
    post = valid[valid["is_post"]].sort_values([score, "collected_on"], kind="stable")
    post = post.groupby("subject_id").tail(1).set_index("subject_id")
    table = pd.DataFrame(
        {
            f"baseline_{score}": base[score],
            f"baseline_{grade}": base[grade],
            f"worst_{score}": post[score],
            f"worst_{grade}": post[grade],
        }
    )
    change = table[f"worst_{score}"].astype(float) - table[f"baseline_{score}"].astype(float)
    table["change"] = change.round(3)
    table = table.rename_axis("subject_id").reset_index()
    return table[columns].sort_values("subject_id").reset_index(drop=True)


def shift(change: pd.DataFrame, grade: str, levels: tuple[object, ...]) -> pd.DataFrame:
    """Patients by baseline grade/class × worst post-baseline grade/class."""
    rows = []
    for baseline in levels:
        at = change[change[f"baseline_{grade}"].astype(str) == str(baseline)]
        row: dict[str, object] = {"baseline": str(baseline)}
        for worst in levels:
            row[f"worst_{worst}"] = int((at[f"worst_{grade}"].astype(str) == str(worst)).sum())
        row["worst_NA"] = int(at[f"worst_{grade}"].isna().sum())
        rows.append(row)
    return pd.DataFrame(rows)


def child_pugh_rises(change: pd.DataFrame) -> int:
    """Patients whose Child-Pugh score rose by ≥ 2 points from baseline (§3.1)."""
    return int((change["change"] >= CP_RISE).sum()) if not change.empty else 0


def child_pugh_rises_after_liver_rt(
    scores: pd.DataFrame, rt_courses: pd.DataFrame, window_days: int
) -> int:
    """Patients whose Child-Pugh score rose by ≥ 2 points from baseline on a day within
    ``window_days`` after a course that may involve the liver (the non-classic RILD
    criterion, §3.1; a bone or lung course cannot explain it)."""
    valid = scores[scores["cp_score"].notna()] if not scores.empty else scores
    if valid.empty or rt_courses.empty:
        return 0
    base = valid[valid["is_baseline"]].groupby("subject_id")["cp_score"].last()
    post = valid[valid["is_post"]].assign(base=lambda f: f["subject_id"].map(base))
    risen = post[(post["cp_score"] - post["base"]) >= CP_RISE]
    liver = rt_courses.get("liver_involved", pd.Series(None, index=rt_courses.index))
    courses = rt_courses[liver.map(lambda v: v is not False)]
    pairs = risen[["subject_id", "collected_on"]].merge(
        courses[["subject_id", "start_on", "end_on"]], on="subject_id"
    )
    inside = (pairs["collected_on"] > pairs["start_on"]) & (
        pairs["collected_on"] <= pairs["end_on"] + pd.Timedelta(days=window_days)
    )
    return int(pairs.loc[inside, "subject_id"].nunique())
