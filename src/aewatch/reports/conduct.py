"""Trial conduct tables: accrual, RT exposure, disposition and follow-up (pure pandas)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def accrual_by_site_month(subjects: pd.DataFrame) -> pd.DataFrame:
    """Enrolled patients per month (rows) and site (columns), with totals and cumulative."""
    enrolled = subjects[subjects["enrolled_on"].notna()]
    month = enrolled["enrolled_on"].dt.strftime("%Y-%m")
    table = pd.crosstab(month, enrolled["site"].replace("", "(none)"))
    table = table.reindex(sorted(table.columns), axis=1)
    table.index.name = "month"
    table.columns.name = None
    table["total"] = table.sum(axis=1)
    table["cumulative"] = table["total"].cumsum()
    return table.reset_index()


def accrual_summary(
    subjects: pd.DataFrame, population: pd.DataFrame, planned: int
) -> dict[str, int]:
    return {
        "planned": planned,
        "enrolled": int(subjects["enrolled_on"].notna().sum()),
        "registered": len(subjects),
        "safety_population": len(population),
    }


def exposure_by_lesion(
    rt_courses: pd.DataFrame,
    min_bed_gy: float,
    cut: pd.Timestamp | None = None,
    course_gap_days: int = 14,
) -> pd.DataFrame:
    """One row per course (a lesion's series of fractions; course 2+ = re-irradiation):
    schedule, BED₁₀, EQD2, liver target, whether its BED can be judged, and the deviation.

    At a data cut a course is complete once its last day is more than ``course_gap_days``
    before the cut (no fraction can join it any more); the deviation (BED below the
    minimum, compared like the alerts: ``aewatch.ctcae.dose.bed_deviation``) is judged
    only on a complete course whose dose is known and plausible.
    """
    from aewatch.ctcae.dose import bed_deviation
    from aewatch.exposure.courses import EVALUABLE, schedule_text

    frame = rt_courses.copy()
    frame["schedule"] = [
        schedule_text(doses) or (f"{int(n)} × {d:g} Gy" if pd.notna(n) and pd.notna(d) else "")
        for doses, n, d in zip(
            frame.get("fraction_doses", pd.Series([None] * len(frame), index=frame.index)),
            frame["fractions"],
            frame["dose_per_fraction_gy"],
            strict=True,
        )
    ]
    bed = pd.to_numeric(frame["bed_gy"], errors="coerce")
    frame["bed_gy"] = bed.round(2)
    frame["eqd2_gy"] = pd.to_numeric(frame["eqd2_gy"], errors="coerce").round(2)
    status = frame.get("dose_status", pd.Series(EVALUABLE, index=frame.index)).fillna(EVALUABLE)
    if cut is not None:
        complete = frame["end_on"].notna() & (
            frame["end_on"] + pd.Timedelta(days=course_gap_days) < cut
        )
    else:
        complete = frame.get("completed", pd.Series(True, index=frame.index)).astype(bool)
    evaluable = status == EVALUABLE
    frame["status"] = status.where(~evaluable | complete, "in progress")
    below = np.asarray(bed_deviation(bed.to_numpy(float), min_bed_gy), dtype=bool)
    frame["deviation"] = below & evaluable.to_numpy() & complete.to_numpy()
    frame["liver"] = frame.get("liver_involved", pd.Series(None, index=frame.index)).map(
        lambda v: "yes" if v is True else ("no" if v is False else "not recognised")
    )
    if "course_number" not in frame:
        frame["course_number"] = 1
    if "lesion_key" not in frame:
        frame["lesion_key"] = frame["lesion"]
    columns = [
        "subject_id",
        "course_key",
        "lesion_key",
        "lesion",
        "course_number",
        "schedule",
        "fractions",
        "bed_gy",
        "eqd2_gy",
        "liver",
        "status",
        "deviation",
    ]
    ordered = frame.sort_values(["subject_id", "lesion_key", "course_number"], kind="stable")
    return ordered[columns].reset_index(drop=True)


def exposure_summary(exposure: pd.DataFrame) -> dict[str, object]:
    """Lesions and courses (not EX records); the BED range of courses whose BED can be
    judged (a total dose written as a fraction dose must not stretch it to 1000 Gy)."""
    judged = exposure[exposure["status"].isin(["evaluable", "in progress"])]
    bed = judged["bed_gy"].dropna()
    lesions = exposure[["subject_id", "lesion_key"]].drop_duplicates()
    not_judged = exposure[~exposure["status"].isin(["evaluable", "in progress"])]
    return {
        "patients": int(exposure["subject_id"].nunique()),
        "lesions": len(lesions),
        "courses": len(exposure),
        "re_irradiations": int((pd.to_numeric(exposure["course_number"]) > 1).sum()),
        "liver_courses": int((exposure["liver"] == "yes").sum()),
        "median_bed_gy": round(float(bed.median()), 1) if len(bed) else None,
        "min_bed_gy": round(float(bed.min()), 1) if len(bed) else None,
        "max_bed_gy": round(float(bed.max()), 1) if len(bed) else None,
        "deviations": int(exposure["deviation"].sum()),
        "in_progress": int((exposure["status"] == "in progress").sum()),
        "not_evaluable": len(not_judged),
        "not_evaluable_by_reason": {
            str(k): int(v) for k, v in not_judged["status"].value_counts().sort_index().items()
        },
    }


def systemic_therapy(
    population: pd.DataFrame, exposure: pd.DataFrame, vocabulary: Any
) -> pd.DataFrame:
    """First-line systemic therapy per drug: patients with EX dosing records (with dose
    changes and interruptions counted from them), then patients known from DM only."""
    from aewatch.exposure.systemic import systemic_exposure

    columns = ["agent", "source", "patients", "with_dose_change", "with_interruption"]
    in_population = exposure["subject_id"].isin(population["subject_id"])
    records = exposure[in_population & (exposure["category"] == "systemic")]
    rows = []
    if not records.empty:
        per = systemic_exposure(
            records.rename(columns={"subject_id": "subject_pk"}).assign(line=None), vocabulary
        )
        for agent, group in per.groupby("agent", sort=True):
            rows.append(
                {
                    "agent": agent,
                    "source": "EX",
                    "patients": int(group["subject_pk"].nunique()),
                    "with_dose_change": int((group["dose_changes"] > 0).sum()),
                    "with_interruption": int((group["interruptions"] > 0).sum()),
                }
            )
    dm_only = population[~population["subject_id"].isin(records["subject_id"])]
    counts = category_counts(dm_only, "systemic_therapy", "agent")
    for agent, n in zip(counts["agent"], counts["patients"], strict=True):
        rows.append(
            {
                "agent": agent,
                "source": "DM only (no EX records)",
                "patients": int(n),
                "with_dose_change": None,
                "with_interruption": None,
            }
        )
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows, columns=columns)
    for column in ("with_dose_change", "with_interruption"):
        table[column] = table[column].astype("Int64")
    return table


def category_counts(subjects: pd.DataFrame, column: str, label: str) -> pd.DataFrame:
    """Patients per oligoprogression category or systemic agent."""
    values = subjects[column].fillna("not recorded").replace("", "not recorded")
    table = values.value_counts().rename_axis(label).reset_index(name="patients")
    return table.sort_values(["patients", label], ascending=[False, True]).reset_index(drop=True)


def last_known_dates(rt_courses: pd.DataFrame, ae: pd.DataFrame, labs: pd.DataFrame) -> pd.Series:
    """Per patient, the latest dated record (RT end, AE onset, lab): alive on that day."""
    dated = pd.concat(
        [
            rt_courses[["subject_id", "end_on"]].rename(columns={"end_on": "on"}),
            ae[["subject_id", "onset_on"]].rename(columns={"onset_on": "on"}),
            labs[["subject_id", "collected_on"]].rename(columns={"collected_on": "on"}),
        ],
        ignore_index=True,
    )
    return dated.dropna().groupby("subject_id")["on"].max()


def follow_up(
    population: pd.DataFrame, cut: pd.Timestamp, last_data: pd.Series | None = None
) -> pd.DataFrame:
    """Days from first RT to the last contact, death, withdrawal or dated record (≤ cut)."""
    frame = population.copy()
    if last_data is None:
        last_data = pd.Series(dtype="datetime64[ns]")
    frame["last_data_on"] = pd.to_datetime(last_data.reindex(frame["subject_id"]).to_numpy())
    last = frame[["last_contact_on", "died_on", "withdrawn_on", "last_data_on"]].max(axis=1)
    last = last.fillna(frame["first_rt_on"]).clip(upper=cut)
    frame["follow_up_days"] = (last - frame["first_rt_on"]).dt.days.astype("Int64")
    frame["status"] = "on study"
    frame.loc[frame["withdrawn_on"].notna(), "status"] = "withdrawn"
    frame.loc[frame["died_on"].notna(), "status"] = "died"
    columns = ["subject_id", "site", "first_rt_on", "last_rt_end_on", "follow_up_days", "status"]
    return frame[columns]


def disposition(follow: pd.DataFrame) -> pd.DataFrame:
    table = follow["status"].value_counts().reindex(["on study", "withdrawn", "died"], fill_value=0)
    return table.rename_axis("status").reset_index(name="patients")


def exposure_by_schedule(exposure: pd.DataFrame) -> pd.DataFrame:
    """Courses per fractionation schedule, with BED₁₀ and deviations: readable at any size."""
    columns = ["schedule", "courses", "patients", "bed_gy", "deviations"]
    if exposure.empty:
        return pd.DataFrame(columns=columns)
    frame = exposure.assign(schedule=exposure["schedule"].replace("", "not known"))
    judged = frame["bed_gy"].where(frame["status"].isin(["evaluable", "in progress"]))
    grouped = frame.assign(judged=judged).groupby("schedule", dropna=False)
    table = pd.DataFrame(
        {
            "courses": grouped.size(),
            "patients": grouped["subject_id"].nunique(),
            "bed_gy": grouped["judged"].median(),
            "deviations": grouped["deviation"].sum().astype(int),
        }
    ).reset_index()
    return table.sort_values(["courses", "schedule"], ascending=[False, True]).reset_index(
        drop=True
    )[columns]
