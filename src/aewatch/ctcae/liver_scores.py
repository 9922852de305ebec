"""Child-Pugh and ALBI liver function scores, vectorised.

Child-Pugh (Pugh RN et al., Br J Surg 1973;60:646-9, the modification with INR): five
findings scored 1-3 and summed; 5-6 = A, 7-9 = B, 10-15 = C. Band edges follow the
project brief: bilirubin < 34 / 34-50 / > 50 µmol/L, albumin > 35 / 28-35 / < 28 g/L,
INR < 1.7 / 1.7-2.3 / > 2.3; the middle band includes both of its edges. Sources disagree
(e.g. bilirubin > 51, albumin 30-35), so the edges are parameters.

ALBI (Johnson PJ et al., J Clin Oncol 2015;33:550-8):
``0.66 × log10(bilirubin µmol/L) − 0.085 × albumin g/L``; grade 1 ≤ −2.60,
grade 2 > −2.60 to ≤ −1.39, grade 3 > −1.39.

All comparisons round both sides to 15 significant digits (see ``numeric``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from aewatch.ctcae.numeric import compare, signif

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ChildPughBands:
    """Edges of the 2-point band of each lab finding (inclusive at both ends)."""

    bilirubin_umol_l: tuple[float, float] = (34.0, 50.0)
    albumin_g_l: tuple[float, float] = (28.0, 35.0)
    inr: tuple[float, float] = (1.7, 2.3)


PUGH_1973 = ChildPughBands()

# Clinical findings: text or points → points.
_FINDING_POINTS = {
    "none": 1,
    "absent": 1,
    "no": 1,
    "1": 1,
    "mild": 2,
    "slight": 2,
    "controlled": 2,
    "grade 1-2": 2,
    "2": 2,
    "moderate-severe": 3,
    "moderate": 3,
    "severe": 3,
    "moderate to severe": 3,
    "poorly controlled": 3,
    "refractory": 3,
    "grade 3-4": 3,
    "3": 3,
}


def _array(values: object) -> FloatArray:
    return np.atleast_1d(np.asarray(values, dtype=np.float64))


def _rising_points(values: FloatArray, low: float, high: float) -> FloatArray:
    """1 below ``low``, 2 from ``low`` to ``high``, 3 above ``high`` (bilirubin, INR)."""
    n = len(values)
    points = np.where(
        compare(values, "<", np.full(n, low)),
        1.0,
        np.where(compare(values, "<=", np.full(n, high)), 2.0, 3.0),
    )
    return np.where(np.isnan(values), np.nan, points)


def _falling_points(values: FloatArray, low: float, high: float) -> FloatArray:
    """1 above ``high``, 2 from ``low`` to ``high``, 3 below ``low`` (albumin)."""
    n = len(values)
    points = np.where(
        compare(values, ">", np.full(n, high)),
        1.0,
        np.where(compare(values, ">=", np.full(n, low)), 2.0, 3.0),
    )
    return np.where(np.isnan(values), np.nan, points)


def finding_points(values: object) -> FloatArray:
    """Points (1-3) of ascites or encephalopathy given as text or as points; else NaN."""
    series = pd.Series(np.atleast_1d(np.asarray(values, dtype=object)), dtype=object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = []
    for u in uniques:
        key = (
            str(int(u))
            if isinstance(u, int | float | np.integer | np.floating) and float(u).is_integer()
            else str(u).strip().lower()
        )
        mapped.append(float(_FINDING_POINTS.get(key, np.nan)))
    return np.append(np.asarray(mapped, dtype=np.float64), np.nan)[codes]


def ascites_from_ae_grade(grades: object) -> FloatArray:
    """Child-Pugh ascites points from the worst active CTCAE v5.0 "Ascites" grade.

    0 or no AE → none (1); grade 1 (asymptomatic) and 2 (symptomatic, medical
    intervention: diuretics) → mild / controlled (2); grade 3-5 (invasive intervention:
    paracentesis; life-threatening; death) → moderate-severe (3). A judgment call to be
    confirmed by the trial team (safety_domain.md §3.2).
    """
    g = np.nan_to_num(_array(grades), nan=0.0)
    return np.select([g >= 3, g >= 1], [3.0, 2.0], default=1.0)


def encephalopathy_from_ae_grade(grades: object) -> FloatArray:
    """Child-Pugh encephalopathy points from the worst active CTCAE "Encephalopathy" grade.

    0 or no AE → none (1); grade 1-2 (mild, moderate symptoms) → grade 1-2 (2);
    grade 3-5 (severe, life-threatening, death) → grade 3-4 (3), mirroring West Haven 1-2
    versus 3-4. A judgment call to be confirmed by the trial team.
    """
    g = np.nan_to_num(_array(grades), nan=0.0)
    return np.select([g >= 3, g >= 1], [3.0, 2.0], default=1.0)


def child_pugh(
    bilirubin_umol_l: object,
    albumin_g_l: object,
    inr: object,
    ascites: object,
    encephalopathy: object,
    bands: ChildPughBands = PUGH_1973,
) -> pd.DataFrame:
    """Child-Pugh points per finding, ``cp_score`` (5-15) and ``cp_class`` (A/B/C).

    Any missing finding leaves score and class missing: a partial score would understate
    liver damage. Ascites/encephalopathy: "none" / "mild" / "moderate-severe" or 1/2/3.
    """
    bili = _array(bilirubin_umol_l)
    alb = _array(albumin_g_l)
    inr_v = _array(inr)
    n = max(len(bili), len(alb), len(inr_v))
    asc = finding_points(ascites)
    enc = finding_points(encephalopathy)
    parts = {
        "cp_bilirubin": _rising_points(np.broadcast_to(bili, n), *bands.bilirubin_umol_l),
        "cp_albumin": _falling_points(np.broadcast_to(alb, n), *bands.albumin_g_l),
        "cp_inr": _rising_points(np.broadcast_to(inr_v, n), *bands.inr),
        "cp_ascites": np.broadcast_to(asc, n).astype(np.float64),
        "cp_encephalopathy": np.broadcast_to(enc, n).astype(np.float64),
    }
    total = sum(parts.values())
    assert isinstance(total, np.ndarray)
    score = pd.array(np.where(np.isnan(total), 0, total).astype(np.int64), dtype="Int64")
    score[np.isnan(total)] = pd.NA
    klass = np.select([total <= 6, total <= 9, total <= 15], ["A", "B", "C"], default="")
    klass_obj = np.where(np.isnan(total), None, klass).astype(object)
    frame = pd.DataFrame({k: pd.array(v, dtype="Float64") for k, v in parts.items()})
    frame = frame.astype("Int64")
    frame["cp_score"] = score
    frame["cp_class"] = klass_obj
    return frame


def albi(bilirubin_umol_l: object, albumin_g_l: object) -> pd.DataFrame:
    """``albi_score`` (rounded to 6 decimals for display stability) and ``albi_grade`` 1-3."""
    bili = _array(bilirubin_umol_l)
    alb = _array(albumin_g_l)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = 0.66 * np.log10(np.where(bili > 0, bili, np.nan)) - 0.085 * alb
    n = len(score)
    grade = np.select(
        [compare(score, "<=", np.full(n, -2.60)), compare(score, "<=", np.full(n, -1.39))],
        [1, 2],
        default=3,
    )
    grade_arr = pd.array(grade, dtype="Int64")
    grade_arr[np.isnan(score)] = pd.NA
    return pd.DataFrame({"albi_score": signif(score), "albi_grade": grade_arr})
