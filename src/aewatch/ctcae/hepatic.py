"""Liver safety over time: RILD and potential Hy's law as derived safety events.

``liver_timeline`` (see ``liver_timeline.py``; re-exported here with Child-Pugh and ALBI)
lines up each patient's liver labs and scores per date. ``detect_rild`` and
``detect_hys_law`` turn it (or LB) into derived safety events: one per subject per
syndrome, at the first date the definition is met, with the values behind it as a
sentence (``evidence``) and as JSON-able items (``evidence_items``).

Definitions (safety_domain.md §3; thresholds are parameters):

- Classic RILD (Lawrence TS et al., IJROBP 1995; Kabarriti & Guha, Hepatol Int 2014):
  anicteric ascites (an active Ascites AE with bilirubin ≤ ULN; hepatomegaly has no
  CTCAE term) with ALP > 2 × ULN.
- Non-classic RILD (Pan CC et al., QUANTEC, IJROBP 2010): AST or ALT > 5 × ULN when the
  pre-RT value was not already above 5 × ULN; when it was, CTCAE grade 4 (> 20 × baseline)
  instead; or Child-Pugh worse by ≥ 2 points from the pre-RT baseline.
- Both only after a course that may involve the liver (a bone or lung course cannot cause
  RILD), within ``window_days`` (default 90 ≈ 3 months) after its end; results during RT
  count too. Each date is judged against the latest such course started before it, and
  its baselines are those before that course (``liver_timeline``).
- The evidence gives the values behind the event with their ratio to ULN and to baseline,
  the baseline, the peak in the window, and study days (dates stay out of alerts).
- Potential Hy's law (FDA DILI guidance, 2009): ALT or AST > 3 × ULN and total bilirubin
  > 2 × ULN within ``within_days`` of each other, with ALP < 2 × ULN. In HCC the tumour,
  HBV and systemic therapy all confound it: it is a flag for a clinician, not a verdict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from aewatch.ctcae.labs import LAB_TEST_MAP, LabTest
from aewatch.ctcae.liver_scores import (
    albi,
    ascites_from_ae_grade,
    child_pugh,
    encephalopathy_from_ae_grade,
)
from aewatch.ctcae.liver_timeline import lab_long, liver_timeline
from aewatch.ctcae.numeric import compare

__all__ = [
    "EVENT_COLUMNS",
    "albi",
    "ascites_from_ae_grade",
    "child_pugh",
    "detect_hys_law",
    "detect_rild",
    "encephalopathy_from_ae_grade",
    "liver_timeline",
]

EVENT_COLUMNS = ["USUBJID", "event", "onset_date", "evidence", "evidence_items"]

# --------------------------------------------------------------------------- events


def _fmt(x: object) -> str:
    return f"{float(x):g}" if x is not None and not pd.isna(x) else "missing"


def _date(day: float) -> str:
    return str(np.datetime64(int(day), "D"))


def _jsonable(items: dict[str, Any]) -> dict[str, Any]:
    """Plain Python values only (numpy/pandas scalars and NA converted)."""
    return json.loads(json.dumps(items, default=lambda v: None if pd.isna(v) else float(v)))


def _first_per_subject(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(["USUBJID", "day"], kind="stable").drop_duplicates("USUBJID")


def detect_rild(
    timeline: pd.DataFrame,
    window_days: int = 90,
    *,
    alp_uln_multiple: float = 2.0,
    transaminase_uln_multiple: float = 5.0,
    child_pugh_points: int = 2,
) -> pd.DataFrame:
    """Classic and non-classic RILD events from ``liver_timeline`` output (one per subject
    per form, at its first qualifying date)."""
    if timeline.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    t = timeline
    day = t["day"].to_numpy(dtype=float)
    in_window = (day > t["rt_start_day"].to_numpy(dtype=float)) & (
        day <= t["rt_end_day"].to_numpy(dtype=float) + window_days
    )

    def over(analyte: str, multiple: float) -> np.ndarray:
        value = t[analyte].to_numpy(dtype=float)
        limit = t[f"{analyte}_ULN"].to_numpy(dtype=float) * multiple
        return compare(value, ">", limit)

    bili = t["BILI"].to_numpy(dtype=float)
    anicteric = compare(bili, "<=", t["BILI_ULN"].to_numpy(dtype=float))
    ascites = t["ascites_grade"].to_numpy(dtype=float) >= 1
    classic = in_window & ascites & anicteric & over("ALP", alp_uln_multiple)

    # QUANTEC: a patient already above 5 × ULN before RT needs grade 4 instead.
    alt5 = over("ALT", transaminase_uln_multiple) & ~_baseline_over(t, "ALT", 5.0)
    ast5 = over("AST", transaminase_uln_multiple) & ~_baseline_over(t, "AST", 5.0)
    alt_g4 = t["ALT_grade"].to_numpy(dtype=float, na_value=np.nan) >= 4
    ast_g4 = t["AST_grade"].to_numpy(dtype=float, na_value=np.nan) >= 4
    cp_change = t["cp_change"].to_numpy(dtype=float, na_value=np.nan)
    cp_worse = np.nan_to_num(cp_change, nan=-99) >= child_pugh_points
    non_classic = in_window & (alt5 | ast5 | alt_g4 | ast_g4 | cp_worse)
    peaks = _peaks_in_window(t, in_window)

    events: list[dict[str, Any]] = []
    for _, row in _first_per_subject(t[classic]).iterrows():  # one row per subject
        events.append(_rild_event(row, "RILD (classic)", alp_uln_multiple, None, None, peaks))
    flags = pd.DataFrame(
        {"alt5": alt5, "ast5": ast5, "alt_g4": alt_g4, "ast_g4": ast_g4, "cp": cp_worse},
        index=t.index,
    )
    for index, row in _first_per_subject(t[non_classic]).iterrows():
        events.append(
            _rild_event(
                row,
                "RILD (non-classic)",
                transaminase_uln_multiple,
                flags.loc[index],
                child_pugh_points,
                peaks,
            )
        )
    return _events_frame(events)


def _baseline_over(t: pd.DataFrame, analyte: str, multiple: float) -> np.ndarray:
    base = t[f"{analyte}_baseline"].to_numpy(dtype=float)
    limit = t[f"{analyte}_baseline_ULN"].to_numpy(dtype=float) * multiple
    return compare(base, ">", limit)


def _peaks_in_window(t: pd.DataFrame, in_window: np.ndarray) -> dict[tuple[str, str], pd.Series]:
    """Per (subject, analyte): the row with the highest ALT / AST / ALP in the window."""
    peaks: dict[tuple[str, str], pd.Series] = {}
    inside = t[in_window]
    for analyte in ("ALT", "AST", "ALP"):
        rows = inside.dropna(subset=[analyte])
        if rows.empty:
            continue
        top = rows.sort_values([analyte, "day"], ascending=[False, True], kind="stable")
        for _, row in top.drop_duplicates("USUBJID").iterrows():  # one row per subject
            peaks[(row["USUBJID"], analyte)] = row
    return peaks


def _study_day(row: pd.Series, day: float) -> int | None:
    first = row.get("first_rt_day")
    if first is None or pd.isna(first) or pd.isna(day):
        return None
    offset = int(day - first)
    return offset + 1 if offset >= 0 else offset


def _day_text(row: pd.Series, day: float) -> str:
    found = _study_day(row, day)
    return f"study day {found}" if found is not None else "study day unknown"


def _ratio(value: object, reference: object) -> str:
    if value is None or reference is None or pd.isna(value) or pd.isna(reference):
        return "?"
    if float(reference) == 0:  # type: ignore[arg-type]
        return "?"
    return f"{float(value) / float(reference):.3g}"  # type: ignore[arg-type]


def _transaminase_parts(
    row: pd.Series, analyte: str, criterion: str, peaks: dict[tuple[str, str], pd.Series]
) -> tuple[list[str], dict[str, Any]]:
    """The value, its ratios, the baseline and the peak in the window, for one analyte."""
    value, uln, unit = row[analyte], row[f"{analyte}_ULN"], row[f"{analyte}_unit"] or ""
    base, base_uln = row[f"{analyte}_baseline"], row[f"{analyte}_baseline_ULN"]
    has_base = not pd.isna(base)
    text = (
        f"{analyte} {_fmt(value)} {unit} > {criterion} on {_day_text(row, row[f'{analyte}_day'])}"
        f" ({_ratio(value, uln)} × ULN"
        + (f", {_ratio(value, base)} × baseline)" if has_base else ", no pre-RT value)")
    )
    parts = [text]
    if has_base:
        parts.append(
            f"baseline {analyte} {_fmt(base)} {unit} ({_ratio(base, base_uln)} × ULN) on "
            f"{_day_text(row, row[f'{analyte}_baseline_day'])}"
        )
    peak = peaks.get((row["USUBJID"], analyte))
    items: dict[str, Any] = {
        analyte: value,
        f"{analyte}_ULN": uln,
        f"{analyte}_x_ULN": None if pd.isna(uln) else float(value) / float(uln),
        f"{analyte}_study_day": _study_day(row, row[f"{analyte}_day"]),
        f"{analyte}_baseline": None if not has_base else base,
        f"{analyte}_baseline_ULN": None if not has_base else base_uln,
        f"{analyte}_x_baseline": (float(value) / float(base) if has_base and float(base) else None),
        f"{analyte}_baseline_study_day": (
            _study_day(row, row[f"{analyte}_baseline_day"]) if has_base else None
        ),
    }
    if peak is not None:
        parts.append(
            f"peak {analyte} in the window {_fmt(peak[analyte])} {unit} "
            f"({_ratio(peak[analyte], peak[f'{analyte}_ULN'])} × ULN"
            + (f", {_ratio(peak[analyte], base)} × baseline)" if has_base else ")")
            + f" on {_day_text(row, peak[f'{analyte}_day'])}"
        )
        items.update(
            {
                f"{analyte}_peak": peak[analyte],
                f"{analyte}_peak_x_ULN": (
                    None
                    if pd.isna(peak[f"{analyte}_ULN"])
                    else float(peak[analyte]) / float(peak[f"{analyte}_ULN"])
                ),
                f"{analyte}_peak_study_day": _study_day(row, peak[f"{analyte}_day"]),
            }
        )
    return parts, items


def _rild_event(
    row: pd.Series,
    event: str,
    multiple: float,
    flags: pd.Series | None,
    cp_points: int | None,
    peaks: dict[tuple[str, str], pd.Series],
) -> dict[str, Any]:
    date = _date(row["day"])
    items: dict[str, Any] = {
        "date": date,
        "study_day": _study_day(row, row["day"]),
        "criteria": [],
    }
    parts: list[str] = []
    if event == "RILD (classic)":
        items["criteria"] = ["ascites", "bilirubin <= ULN", f"ALP > {multiple:g} x ULN"]
        parts.append(f"Ascites grade {int(row['ascites_grade'])} active")
        parts.append(f"bilirubin {_fmt(row['BILI'])} µmol/L ≤ ULN {_fmt(row['BILI_ULN'])}")
        parts.append(
            f"ALP {_fmt(row['ALP'])} {row['ALP_unit'] or ''} > {multiple:g} × ULN "
            f"{_fmt(row['ALP_ULN'])} ({_ratio(row['ALP'], row['ALP_ULN'])} × ULN, "
            f"{_day_text(row, row['ALP_day'])})"
        )
        peak = peaks.get((row["USUBJID"], "ALP"))
        if peak is not None:
            parts.append(
                f"peak ALP in the window {_fmt(peak['ALP'])} "
                f"({_ratio(peak['ALP'], peak['ALP_ULN'])} × ULN) on "
                f"{_day_text(row, peak['ALP_day'])}"
            )
        items.update(
            ascites_grade=row["ascites_grade"],
            BILI=row["BILI"],
            BILI_ULN=row["BILI_ULN"],
            ALP=row["ALP"],
            ALP_ULN=row["ALP_ULN"],
            ALP_x_ULN=_ratio(row["ALP"], row["ALP_ULN"]),
        )
    else:
        assert flags is not None
        for analyte, key in (("ALT", "alt5"), ("AST", "ast5")):
            if flags[key]:
                items["criteria"].append(f"{analyte} > {multiple:g} x ULN")
                found, more = _transaminase_parts(
                    row, analyte, f"{multiple:g} × ULN {_fmt(row[f'{analyte}_ULN'])}", peaks
                )
                parts += found
                items.update(more)
        for analyte, key in (("ALT", "alt_g4"), ("AST", "ast_g4")):
            if flags[key] and not flags[key.replace("_g4", "5")]:
                items["criteria"].append(f"{analyte} CTCAE grade 4")
                found, more = _transaminase_parts(row, analyte, "CTCAE grade 4", peaks)
                parts += found
                items.update(more)
                items[f"{analyte}_grade"] = row[f"{analyte}_grade"]
            elif flags[key]:
                items["criteria"].append(f"{analyte} CTCAE grade 4")
                items[f"{analyte}_grade"] = row[f"{analyte}_grade"]
        if flags["cp"]:
            items["criteria"].append(f"Child-Pugh worse by >= {cp_points} points")
            parts.append(
                f"Child-Pugh {int(row['cp_score'])} ({row['cp_class']}) vs pre-RT baseline "
                f"{int(row['cp_baseline'])}: +{int(row['cp_change'])} points on "
                f"{_day_text(row, row['day'])}"
            )
            items.update(
                cp_score=row["cp_score"], cp_baseline=row["cp_baseline"], cp_change=row["cp_change"]
            )
    after = int(row["day"] - row["rt_end_day"])
    course = (
        f"liver RT to {row['rt_lesion']}"
        if isinstance(row.get("rt_lesion"), str) and row["rt_lesion"]
        else "liver RT"
    )
    start, end = _study_day(row, row["rt_start_day"]), _study_day(row, row["rt_end_day"])
    course += f" (study days {start}–{end})"
    if row.get("rt_liver") is None or pd.isna(row.get("rt_liver")):
        course += ", target site not recognised: liver irradiation assumed"
    timing = f"{after} days after the end of {course}" if after >= 0 else f"during {course}"
    items.update(
        rt_start=_date(row["rt_start_day"]),
        rt_end=_date(row["rt_end_day"]),
        rt_start_study_day=_study_day(row, row["rt_start_day"]),
        rt_end_study_day=_study_day(row, row["rt_end_day"]),
        rt_lesion=row.get("rt_lesion"),
        days_after_rt_end=after,
    )
    evidence = f"{event} on {_day_text(row, row['day'])}: " + "; ".join(parts) + f"; {timing}"
    return {
        "USUBJID": row["USUBJID"],
        "event": event,
        "onset_date": date,
        "evidence": evidence,
        "evidence_items": _jsonable(items),
    }


def _events_frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    if not events:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    out = pd.DataFrame(events, columns=EVENT_COLUMNS)
    out["onset_date"] = pd.to_datetime(out["onset_date"])
    return out.sort_values(["USUBJID", "onset_date", "event"], kind="stable").reset_index(drop=True)


def detect_hys_law(
    lb: pd.DataFrame,
    within_days: int = 3,
    *,
    transaminase_uln_multiple: float = 3.0,
    bilirubin_uln_multiple: float = 2.0,
    alp_uln_multiple: float = 2.0,
    test_map: Mapping[str, LabTest] | None = None,
) -> pd.DataFrame:
    """Potential Hy's law events from SDTM LB, one per subject at its first date.

    ALT or AST > 3 × ULN, total bilirubin > 2 × ULN within ``within_days`` of it, and the
    ALP nearest to the transaminase date (within ``within_days``) < 2 × ULN. An ALP that
    was not measured does not rule the case out: the event is raised and says so.
    The onset is the date both lab criteria were first met (the later of the two).
    """
    table = LAB_TEST_MAP if test_map is None else test_map
    long = lab_long(lb, table)
    if long.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    ratio = long["value"].to_numpy() / long["uln"].to_numpy()
    long = long.assign(ratio=ratio)
    value = long["value"].to_numpy()
    uln = long["uln"].to_numpy()
    is_tx = long["analyte"].isin(["ALT", "AST"]).to_numpy()
    tx = long[is_tx & compare(value, ">", uln * transaminase_uln_multiple)]
    bili = long[
        (long["analyte"] == "BILI").to_numpy() & compare(value, ">", uln * bilirubin_uln_multiple)
    ]
    alp = long[(long["analyte"] == "ALP").to_numpy() & ~np.isnan(uln)]
    if tx.empty or bili.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    tx = tx.sort_values(["day"]).rename(columns=lambda c: f"tx_{c}" if c != "USUBJID" else c)
    b = bili.sort_values("day").rename(columns=lambda c: f"bili_{c}" if c != "USUBJID" else c)
    matched = pd.merge_asof(
        tx.assign(day=tx["tx_day"]),
        b.assign(day=b["bili_day"]),
        on="day",
        by="USUBJID",
        direction="nearest",
        tolerance=within_days,
    ).dropna(subset=["bili_day"])
    if matched.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    a = alp.sort_values("day").rename(columns=lambda c: f"alp_{c}" if c != "USUBJID" else c)
    matched = pd.merge_asof(
        matched.sort_values("day"),
        a.assign(day=a["alp_day"]),
        on="day",
        by="USUBJID",
        direction="nearest",
        tolerance=within_days,
    )
    alp_value = matched["alp_value"].to_numpy(dtype=float)
    alp_limit = matched["alp_uln"].to_numpy(dtype=float) * alp_uln_multiple
    cholestatic = compare(alp_value, ">=", alp_limit)
    matched = matched[~cholestatic].copy()
    if matched.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    matched["day"] = np.maximum(matched["tx_day"], matched["bili_day"])
    events = [
        _hys_event(
            row, transaminase_uln_multiple, bilirubin_uln_multiple, alp_uln_multiple, within_days
        )
        for _, row in _first_per_subject(matched).iterrows()  # one row per subject
    ]
    return _events_frame(events)


def _hys_event(
    row: pd.Series, tx_multiple: float, bili_multiple: float, alp_multiple: float, within_days: int
) -> dict[str, Any]:
    date = _date(row["day"])
    analyte = row["tx_analyte"]
    parts = [
        f"{analyte} {_fmt(row['tx_value'])} {row['tx_unit']} > {tx_multiple:g} × ULN "
        f"{_fmt(row['tx_uln'])} on {_date(row['tx_day'])}",
        f"bilirubin {_fmt(row['bili_value'])} {row['bili_unit']} > {bili_multiple:g} × ULN "
        f"{_fmt(row['bili_uln'])} on {_date(row['bili_day'])}",
    ]
    alp_missing = pd.isna(row.get("alp_value"))
    if alp_missing:
        parts.append(f"ALP not measured within ±{within_days} days: cholestasis not excluded")
    else:
        parts.append(
            f"ALP {_fmt(row['alp_value'])} {row['alp_unit']} < {alp_multiple:g} × ULN "
            f"{_fmt(row['alp_uln'])} on {_date(row['alp_day'])}"
        )
    items = {
        "date": date,
        "transaminase": analyte,
        "transaminase_value": row["tx_value"],
        "transaminase_uln": row["tx_uln"],
        "transaminase_date": _date(row["tx_day"]),
        "bilirubin_value": row["bili_value"],
        "bilirubin_uln": row["bili_uln"],
        "bilirubin_date": _date(row["bili_day"]),
        "alp_value": None if alp_missing else row["alp_value"],
        "alp_uln": None if alp_missing else row["alp_uln"],
        "alp_date": None if alp_missing else _date(row["alp_day"]),
        "criteria": [
            f"{analyte} > {tx_multiple:g} x ULN",
            f"bilirubin > {bili_multiple:g} x ULN",
            f"ALP < {alp_multiple:g} x ULN" if not alp_missing else "ALP missing",
        ],
    }
    return {
        "USUBJID": row["USUBJID"],
        "event": "Hy's law",
        "onset_date": date,
        "evidence": "Potential Hy's law: " + "; ".join(parts),
        "evidence_items": _jsonable(items),
    }
