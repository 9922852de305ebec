"""The per-patient liver timeline behind RILD: labs, Child-Pugh, ALBI, change from baseline.

Per subject and liver-lab date it lines up bilirubin, albumin, INR, ALT, AST and ALP (each
carried forward from its latest result at most ``carry_days`` earlier; the worst result of
a day is used), the worst active CTCAE "Ascites" and "Encephalopathy" grades (an AE
without an end date is ongoing; no such AE means none), ALT/AST CTCAE grades (baseline:
last result on or before the first liver RT start), Child-Pugh, ALBI, and their change from
the last complete score before the liver course that governs the date. Results with a
partial date are left out: a timeline needs a day.

Only courses that may involve the liver count (``liver_involved`` not False: a course to a
bone or lung metastasis cannot cause RILD; a site not recognised counts until the site
answers its query). Each date is governed by the latest such course that started before
it: its window runs from that course's start to ``window_days`` after its end, and its
baselines (Child-Pugh, ALBI, ALT, AST) are the last values on or before its start. The
study day counts from the first radiotherapy of any kind (day 1; no day 0).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from aewatch.ctcae.dictionary import code_terms
from aewatch.ctcae.isodates import MISSING_DAY, day_to_date, parse_iso_dates
from aewatch.ctcae.labs import LAB_TEST_MAP, LabTest, derive_baseline, grade_labs
from aewatch.ctcae.liver_scores import (
    albi,
    ascites_from_ae_grade,
    child_pugh,
    encephalopathy_from_ae_grade,
)
from aewatch.ctcae.units import conversion, normalise_unit

LIVER_ANALYTES = ("BILI", "ALB", "INR", "ALT", "AST", "ALP")
# Units Child-Pugh and ALBI need; enzymes stay in the record's unit (only ratios to ULN).
_STANDARD_UNIT = {"BILI": "umol/L", "ALB": "g/L"}
# Worst value of a day: the highest, except albumin where low is bad.
_WORST_IS_LOW = {"ALB"}


def lab_long(lb: pd.DataFrame, test_map: Mapping[str, LabTest]) -> pd.DataFrame:
    """Liver labs as (USUBJID, day, analyte, value, uln, unit), standard units, full dates."""
    codes, uniques = pd.factorize(lb["LBTESTCD"].astype(object), use_na_sentinel=True)
    analytes = [
        (test_map.get(str(u).strip().upper()) or LabTest("", "", None, None)).analyte
        for u in uniques
    ]
    analyte = np.asarray([*analytes, ""], dtype=object)[codes]
    keep = np.isin(analyte, LIVER_ANALYTES)
    sub = lb.loc[keep]
    days = parse_iso_dates(sub["LBDTC"])
    value = pd.to_numeric(sub["LBSTRESN"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    uln = pd.to_numeric(sub["LBSTNRHI"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    unit_raw = (
        sub["LBSTRESU"].astype(object)
        if "LBSTRESU" in sub
        else pd.Series([None] * len(sub), dtype=object)
    )
    a = analyte[keep]
    # Per distinct (analyte, unit): the factor to the standard unit (NaN: cannot convert).
    pair = pd.MultiIndex.from_arrays([a, unit_raw.fillna("").to_numpy()])
    pair_codes, pairs = pd.factorize(pair)
    factors, units = [], []
    for an, un in pairs:
        target = _STANDARD_UNIT.get(an)
        unit = normalise_unit(un)
        if target is None:
            factors.append(1.0)
            units.append(unit or "")
            continue
        conv = conversion(an, unit, target)
        factors.append(conv.multiply / conv.divide if conv else np.nan)
        units.append(target)
    factor = np.asarray(factors, dtype=float)[pair_codes]
    out = pd.DataFrame(
        {
            "USUBJID": sub["USUBJID"].astype(object).to_numpy(),
            "day": days.first,
            "analyte": a,
            "value": value * factor,
            "uln": uln * factor,
            "unit": np.asarray(units, dtype=object)[pair_codes],
        }
    )
    full_date = (days.first == days.last) & (days.first != MISSING_DAY)
    return out[full_date & ~np.isnan(out["value"].to_numpy())]


def _worst_per_day(long: pd.DataFrame) -> pd.DataFrame:
    """One value per subject, day and analyte: the worst of the day (with its ULN)."""
    sign = np.where(long["analyte"].isin(_WORST_IS_LOW), 1.0, -1.0)
    ordered = long.assign(_rank=sign * long["value"].to_numpy()).sort_values(
        ["USUBJID", "analyte", "day", "_rank"], kind="stable"
    )
    return ordered.drop_duplicates(["USUBJID", "analyte", "day"], keep="first").drop(
        columns="_rank"
    )


def _active_ae_grade(grid: pd.DataFrame, ae: pd.DataFrame, term: str) -> np.ndarray:
    """Worst grade of an AE term active on each grid day (0 when none)."""
    if ae.empty:
        return np.zeros(len(grid))
    rows = ae[ae["_term"].str.casefold() == term.casefold()]
    if rows.empty:
        return np.zeros(len(grid))
    joined = (
        grid[["USUBJID", "day"]]
        .reset_index()
        .merge(rows[["USUBJID", "_start", "_end", "_grade"]], on="USUBJID", how="inner")
    )
    active = (joined["_start"] <= joined["day"]) & (joined["day"] <= joined["_end"])
    worst = joined[active].groupby("index")["_grade"].max()
    return worst.reindex(grid.index, fill_value=0).to_numpy(dtype=float)


def _prepare_ae(ae: pd.DataFrame | None) -> pd.DataFrame:
    """AE rows as (subject, CTCAE term, first day, last day, grade).

    An unknown start counts from the beginning of time and an unknown end as ongoing (the
    AE may be active on any date); an unknown grade counts as 1 (present, mild)."""
    if ae is None or ae.empty:
        return pd.DataFrame(columns=["USUBJID", "_term", "_start", "_end", "_grade"])
    if "ctcae_term" in ae.columns:
        term = ae["ctcae_term"].astype(object)
    else:
        term = code_terms(ae)["ctcae_term"].astype(object)
    grade_col = "grade" if "grade" in ae.columns else "AETOXGR"
    grade = pd.to_numeric(ae[grade_col], errors="coerce") if grade_col in ae else None
    missing = np.full(len(ae), MISSING_DAY, dtype=np.int64)
    start = parse_iso_dates(ae["AESTDTC"]).first if "AESTDTC" in ae else missing
    end = parse_iso_dates(ae["AEENDTC"]).last if "AEENDTC" in ae else missing
    end = np.where(end == MISSING_DAY, np.iinfo(np.int64).max, end)  # ongoing
    return pd.DataFrame(
        {
            "USUBJID": ae["USUBJID"].astype(object).to_numpy(),
            "_term": term.fillna("").astype(str).to_numpy(),
            "_start": np.where(start == MISSING_DAY, np.iinfo(np.int64).min + 1, start),
            "_end": end,
            "_grade": np.ones(len(ae)) if grade is None else grade.fillna(1).to_numpy(float),
        }
    )


def _liver_courses(rt_courses: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Courses that may involve the liver (start/end day, lesion) and each subject's first
    RT day of any kind (the study-day origin)."""
    empty = pd.DataFrame(columns=["USUBJID", "rt_start_day", "rt_end_day", "rt_lesion"])
    if rt_courses is None or rt_courses.empty:
        return empty, pd.DataFrame(columns=["USUBJID", "first_rt_day"])
    start = parse_iso_dates(rt_courses["start_on"]).first
    end = parse_iso_dates(rt_courses["end_on"]).last
    frame = pd.DataFrame(
        {
            "USUBJID": rt_courses["USUBJID"].astype(object).to_numpy(),
            "rt_start_day": np.where(start == MISSING_DAY, np.nan, start),
            "rt_end_day": np.where(end == MISSING_DAY, np.nan, end),
            "rt_lesion": (
                rt_courses["lesion"].astype(object).to_numpy()
                if "lesion" in rt_courses
                else np.full(len(rt_courses), None, dtype=object)
            ),
            "rt_liver": (
                rt_courses["liver_involved"].astype(object).to_numpy()
                if "liver_involved" in rt_courses
                else np.full(len(rt_courses), None, dtype=object)
            ),
        }
    ).dropna(subset=["rt_start_day"])
    frame["rt_end_day"] = frame["rt_end_day"].fillna(frame["rt_start_day"])
    first = frame.groupby("USUBJID", as_index=False).agg(first_rt_day=("rt_start_day", "min"))
    liver = frame[frame["rt_liver"].map(_may_involve_liver)]
    return liver.sort_values(["rt_start_day", "USUBJID"]).reset_index(drop=True), first


def _may_involve_liver(value: object) -> bool:
    """True or unknown (None / NA): only a course known to be elsewhere is left out."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return True
    return bool(value)


def _governing_course(grid: pd.DataFrame, courses: pd.DataFrame) -> pd.DataFrame:
    """Each grid row's liver course: the latest that started before the day, else the
    subject's first (for pre-RT rows)."""
    columns = ["rt_start_day", "rt_end_day", "rt_lesion", "rt_liver"]
    if courses.empty:
        return grid.assign(**{c: np.nan for c in columns})
    ordered = grid.reset_index().sort_values("day")
    found = pd.merge_asof(
        ordered,
        courses.assign(day=(courses["rt_start_day"] + 1).astype("int64"))[
            ["USUBJID", "day", *columns]
        ],
        on="day",
        by="USUBJID",
        direction="backward",
    ).set_index("index")
    first = courses.groupby("USUBJID")[columns].first()
    before = found["rt_start_day"].isna()
    for column in columns:
        fallback = found["USUBJID"].map(first[column])
        found[column] = found[column].astype(object).where(~before, fallback)
    for column in ("rt_start_day", "rt_end_day"):
        found[column] = pd.to_numeric(found[column], errors="coerce")
    return found.sort_index()


def _baseline_at_course_start(
    course_starts: pd.DataFrame, values: pd.DataFrame, column: str, name: str
) -> pd.DataFrame:
    """Per (subject, course start): the last non-missing ``column`` on or before it."""
    rows = values.dropna(subset=[column])[["USUBJID", "day", column]].sort_values("day")
    rows = rows.assign(day=rows["day"].astype("float64"))
    keys = course_starts.dropna().drop_duplicates().sort_values("rt_start_day")
    keys = keys.assign(rt_start_day=keys["rt_start_day"].astype("float64"))
    if rows.empty or keys.empty:
        return keys.assign(**{name: np.nan})
    found = pd.merge_asof(
        keys,
        rows.rename(columns={"day": "rt_start_day", column: name}),
        on="rt_start_day",
        by="USUBJID",
        direction="backward",
    )
    return found


def _liver_grades(
    lb: pd.DataFrame, rt: pd.DataFrame, test_map: Mapping[str, LabTest]
) -> pd.DataFrame:
    """Worst CTCAE grade of ALT and AST per subject and day (baseline: last before RT)."""
    codes, uniques = pd.factorize(lb["LBTESTCD"].astype(object), use_na_sentinel=True)
    analyte = np.asarray(
        [
            (test_map.get(str(u).strip().upper()) or LabTest("", "", None, None)).analyte
            for u in uniques
        ]
        + [""],
        dtype=object,
    )[codes]
    sub = lb[np.isin(analyte, ("ALT", "AST"))]
    if sub.empty:
        return pd.DataFrame(columns=["USUBJID", "day", "analyte", "grade"])
    ref = pd.Series(
        day_to_date(rt["rt_start_day"].fillna(MISSING_DAY).astype(np.int64)).to_numpy(),
        index=rt["USUBJID"].to_numpy(),
    ).dropna()
    base = derive_baseline(sub, ref, fallback_to_blfl=False)
    graded = grade_labs(sub, base, test_map=test_map)
    days = parse_iso_dates(sub["LBDTC"]).first
    out = pd.DataFrame(
        {
            "USUBJID": sub["USUBJID"].astype(object).to_numpy(),
            "day": days,
            "analyte": analyte[np.isin(analyte, ("ALT", "AST"))],
            "grade": graded["tox_grade_high"].to_numpy(dtype=float, na_value=np.nan),
        }
    )
    return out.groupby(["USUBJID", "day", "analyte"], as_index=False)["grade"].max()


def liver_timeline(
    lb: pd.DataFrame,
    ae: pd.DataFrame | None,
    rt_courses: pd.DataFrame | None,
    window_days: int = 90,
    *,
    carry_days: int = 3,
    test_map: Mapping[str, LabTest] | None = None,
) -> pd.DataFrame:
    """Per subject and liver-lab date: labs, Child-Pugh, ALBI and change from baseline.

    ``lb``: SDTM LB. ``ae``: AE rows with USUBJID, ``ctcae_term`` (or AEDECOD/AETERM),
    ``grade`` (or AETOXGR), AESTDTC, AEENDTC; an AE without an end date is ongoing, no
    Ascites/Encephalopathy AE means none. ``rt_courses``: USUBJID, ``start_on``, ``end_on``.
    Each lab is carried forward from its latest result at most ``carry_days`` earlier; the
    worst result of a day is used. Baseline (``cp_baseline``, ``albi_baseline_grade``) is
    the last complete score on or before the first RT start.
    """
    table = LAB_TEST_MAP if test_map is None else test_map
    long = _worst_per_day(lab_long(lb, table))
    columns = _timeline_columns()
    if long.empty:
        return pd.DataFrame(columns=columns)
    grid = long[["USUBJID", "day"]].drop_duplicates().sort_values(["day", "USUBJID"])
    grid = grid.reset_index(drop=True)
    for analyte in LIVER_ANALYTES:
        one = long[long["analyte"] == analyte].sort_values("day")
        one = one[["USUBJID", "day", "value", "uln", "unit"]].rename(
            columns={
                "value": analyte,
                "uln": f"{analyte}_ULN",
                "unit": f"{analyte}_unit",
                "day": f"{analyte}_day",
            }
        )
        grid = pd.merge_asof(
            grid.sort_values("day"),
            one.assign(day=one[f"{analyte}_day"]).sort_values("day"),
            on="day",
            by="USUBJID",
            direction="backward",
            tolerance=carry_days,
        )
    courses, first_rt = _liver_courses(rt_courses)
    grid = grid.sort_values(["USUBJID", "day"]).reset_index(drop=True)
    grid = _governing_course(grid, courses)
    grid = grid.merge(first_rt, on="USUBJID", how="left")
    rt = courses.groupby("USUBJID", as_index=False).agg(rt_start_day=("rt_start_day", "min"))

    ae_rows = _prepare_ae(ae)
    grid["ascites_grade"] = _active_ae_grade(grid, ae_rows, "Ascites")
    grid["encephalopathy_grade"] = _active_ae_grade(grid, ae_rows, "Encephalopathy")
    grades = _liver_grades(lb, rt, table)
    for analyte in ("ALT", "AST"):
        g = grades[grades["analyte"] == analyte][["USUBJID", "day", "grade"]]
        grid = grid.merge(
            g.rename(columns={"grade": f"{analyte}_grade"}), on=["USUBJID", "day"], how="left"
        )

    cp = child_pugh(
        grid["BILI"].to_numpy(dtype=float),
        grid["ALB"].to_numpy(dtype=float),
        grid["INR"].to_numpy(dtype=float),
        ascites_from_ae_grade(grid["ascites_grade"].to_numpy()),
        encephalopathy_from_ae_grade(grid["encephalopathy_grade"].to_numpy()),
    )
    scores = albi(grid["BILI"].to_numpy(dtype=float), grid["ALB"].to_numpy(dtype=float))
    grid = pd.concat([grid, cp, scores], axis=1)
    grid = _with_baseline(grid, long)
    rt_end = grid["rt_end_day"].to_numpy(dtype=float)
    rt_start = grid["rt_start_day"].to_numpy(dtype=float)
    day = grid["day"].to_numpy(dtype=float)
    grid["days_after_rt_end"] = pd.array(
        np.where(np.isnan(rt_end), np.nan, day - rt_end), dtype="Float64"
    ).astype("Int64")
    grid["in_window"] = (day > rt_start) & (day <= rt_end + window_days)
    grid["date"] = day_to_date(grid["day"].to_numpy(dtype=np.int64)).to_numpy()
    first = grid["first_rt_day"].to_numpy(dtype=float)
    offset = day - first
    grid["study_day"] = pd.array(
        np.where(np.isnan(first), np.nan, np.where(offset >= 0, offset + 1, offset)),
        dtype="Float64",
    ).astype("Int64")
    for name in ("rt_start", "rt_end"):
        days = grid[f"{name}_day"].fillna(MISSING_DAY).to_numpy(dtype=np.int64)
        grid[name] = day_to_date(days).to_numpy()
    return grid[columns]


def _timeline_columns() -> list[str]:
    labs = []
    for analyte in LIVER_ANALYTES:
        labs += [analyte, f"{analyte}_ULN", f"{analyte}_unit", f"{analyte}_day"]
    return [
        "USUBJID",
        "date",
        "day",
        *labs,
        "ALT_grade",
        "AST_grade",
        "ascites_grade",
        "encephalopathy_grade",
        "cp_bilirubin",
        "cp_albumin",
        "cp_inr",
        "cp_ascites",
        "cp_encephalopathy",
        "cp_score",
        "cp_class",
        "cp_baseline",
        "cp_change",
        "albi_score",
        "albi_grade",
        "albi_baseline_grade",
        "ALT_baseline",
        "ALT_baseline_ULN",
        "ALT_baseline_day",
        "AST_baseline",
        "AST_baseline_ULN",
        "AST_baseline_day",
        "rt_start",
        "rt_end",
        "rt_start_day",
        "rt_end_day",
        "rt_lesion",
        "rt_liver",
        "first_rt_day",
        "study_day",
        "days_after_rt_end",
        "in_window",
    ]


def _with_baseline(grid: pd.DataFrame, long: pd.DataFrame) -> pd.DataFrame:
    """Baselines of the governing course: the last complete Child-Pugh score and ALBI grade,
    and the last ALT and AST (with their ULN and day), on or before the course start."""
    starts = grid[["USUBJID", "rt_start_day"]]
    keys = ["USUBJID", "rt_start_day"]
    scores = grid[["USUBJID", "day", "cp_score", "albi_grade"]]
    for column, name in (("cp_score", "cp_baseline"), ("albi_grade", "albi_baseline_grade")):
        base = _baseline_at_course_start(starts, scores, column, name)
        grid = grid.merge(base[[*keys, name]], on=keys, how="left")
        grid[name] = pd.to_numeric(grid[name], errors="coerce").astype("Int64")
    grid["cp_change"] = grid["cp_score"] - grid["cp_baseline"]
    for analyte in ("ALT", "AST"):
        one = long[long["analyte"] == analyte].rename(
            columns={"value": f"{analyte}_baseline", "uln": f"{analyte}_baseline_ULN"}
        )
        one = one.assign(**{f"{analyte}_baseline_day": one["day"]})
        wanted = [f"{analyte}_baseline", f"{analyte}_baseline_ULN", f"{analyte}_baseline_day"]
        rows = one[["USUBJID", "day", *wanted]].sort_values("day")
        rows = rows.assign(day=rows["day"].astype("float64"))
        course_keys = starts.dropna().drop_duplicates().sort_values("rt_start_day")
        course_keys = course_keys.assign(rt_start_day=course_keys["rt_start_day"].astype("float64"))
        if rows.empty or course_keys.empty:
            for column in wanted:
                grid[column] = np.nan
            continue
        base = pd.merge_asof(
            course_keys,
            rows.rename(columns={"day": "rt_start_day"}),
            on="rt_start_day",
            by="USUBJID",
            direction="backward",
        )
        grid = grid.merge(base, on=keys, how="left")
    return grid
