"""Trial conduct tables: accrual, RT exposure, disposition and follow-up (pure pandas)."""

from __future__ import annotations

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


def exposure_by_lesion(rt_courses: pd.DataFrame, min_bed_gy: float) -> pd.DataFrame:
    """Each lesion's schedule and BED₁₀; compliance compared after rounding to 0.01 Gy."""
    frame = rt_courses.copy()
    frame["schedule"] = [
        f"{int(n)} × {d:g} Gy" if pd.notna(n) and pd.notna(d) else ""
        for n, d in zip(frame["fractions"], frame["dose_per_fraction_gy"], strict=True)
    ]
    frame["bed_gy"] = pd.to_numeric(frame["bed_gy"], errors="coerce").round(2)
    frame["eqd2_gy"] = pd.to_numeric(frame["eqd2_gy"], errors="coerce").round(2)
    frame["meets_minimum"] = frame["bed_gy"] >= round(min_bed_gy, 2)
    below = frame["bed_gy"].notna() & ~frame["meets_minimum"]
    frame["deviation"] = frame["bed_below_minimum"].fillna(False).astype(bool) | below
    columns = ["subject_id", "course_key", "lesion", "schedule", "bed_gy", "eqd2_gy", "deviation"]
    return frame[columns].reset_index(drop=True)


def exposure_summary(exposure: pd.DataFrame) -> dict[str, object]:
    bed = exposure["bed_gy"].dropna()
    return {
        "patients": int(exposure["subject_id"].nunique()),
        "lesions": len(exposure),
        "median_bed_gy": round(float(bed.median()), 1) if len(bed) else None,
        "min_bed_gy": round(float(bed.min()), 1) if len(bed) else None,
        "max_bed_gy": round(float(bed.max()), 1) if len(bed) else None,
        "deviations": int(exposure["deviation"].sum()),
    }


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
    """Lesions per fractionation schedule, with BED₁₀ and deviations: readable at any size."""
    if exposure.empty:
        return pd.DataFrame(columns=["schedule", "lesions", "patients", "bed_gy", "deviations"])
    grouped = exposure.groupby("schedule", dropna=False)
    table = pd.DataFrame(
        {
            "lesions": grouped.size(),
            "patients": grouped["subject_id"].nunique(),
            "bed_gy": grouped["bed_gy"].median(),
            "deviations": grouped["deviation"].sum().astype(int),
        }
    ).reset_index()
    return table.sort_values(["lesions", "schedule"], ascending=[False, True]).reset_index(
        drop=True
    )
