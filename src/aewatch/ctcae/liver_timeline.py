"""The per-patient liver timeline behind RILD: labs, Child-Pugh, ALBI, change from baseline.

Per subject and liver-lab date it lines up bilirubin, albumin, INR, ALT, AST and ALP (each
carried forward from its latest result at most ``carry_days`` earlier; the worst result of
a day is used), the worst active CTCAE "Ascites" and "Encephalopathy" grades (an AE
without an end date is ongoing; no such AE means none), ALT/AST CTCAE grades (baseline:
last result on or before the first RT start), Child-Pugh, ALBI, and their change from the
last complete pre-RT score. Results with a partial date are left out: a timeline needs
a day.
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


def _rt_period(rt_courses: pd.DataFrame | None) -> pd.DataFrame:
    """First course start and last course end per subject, as day numbers."""
    if rt_courses is None or rt_courses.empty:
        return pd.DataFrame(columns=["USUBJID", "rt_start_day", "rt_end_day"])
    start = parse_iso_dates(rt_courses["start_on"]).first
    end = parse_iso_dates(rt_courses["end_on"]).last
    frame = pd.DataFrame(
        {
            "USUBJID": rt_courses["USUBJID"].astype(object).to_numpy(),
            "rt_start_day": np.where(start == MISSING_DAY, np.nan, start),
            "rt_end_day": np.where(end == MISSING_DAY, np.nan, end),
        }
    )
    return frame.groupby("USUBJID", as_index=False).agg(
        rt_start_day=("rt_start_day", "min"), rt_end_day=("rt_end_day", "max")
    )


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
    rt = _rt_period(rt_courses)
    grid = grid.merge(rt, on="USUBJID", how="left").sort_values(["USUBJID", "day"])
    grid = grid.reset_index(drop=True)

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
    grid = _with_baseline(grid)
    rt_end = grid["rt_end_day"].to_numpy(dtype=float)
    rt_start = grid["rt_start_day"].to_numpy(dtype=float)
    day = grid["day"].to_numpy(dtype=float)
    grid["days_after_rt_end"] = pd.array(
        np.where(np.isnan(rt_end), np.nan, day - rt_end), dtype="Float64"
    ).astype("Int64")
    grid["in_window"] = (day > rt_start) & (day <= rt_end + window_days)
    grid["date"] = day_to_date(grid["day"].to_numpy(dtype=np.int64)).to_numpy()
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
        "rt_start",
        "rt_end",
        "rt_start_day",
        "rt_end_day",
        "days_after_rt_end",
        "in_window",
    ]


def _with_baseline(grid: pd.DataFrame) -> pd.DataFrame:
    """Pre-RT Child-Pugh and ALBI grade: the last complete ones on or before RT start."""
    pre = grid[(grid["day"] <= grid["rt_start_day"]) & grid["cp_score"].notna()]
    cp_base = pre.groupby("USUBJID")["cp_score"].last()
    pre_albi = grid[(grid["day"] <= grid["rt_start_day"]) & grid["albi_grade"].notna()]
    albi_base = pre_albi.groupby("USUBJID")["albi_grade"].last()
    grid["cp_baseline"] = grid["USUBJID"].map(cp_base).astype("Int64")
    grid["cp_change"] = grid["cp_score"] - grid["cp_baseline"]
    grid["albi_baseline_grade"] = grid["USUBJID"].map(albi_base).astype("Int64")
    return grid
