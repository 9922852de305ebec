"""Lab baselines: per subject and test, the last result on or before the reference start.

The reference start is RT start in this trial (DM.RFXSTDTC elsewhere). Dates compare as
dates; a partial LBDTC qualifies only when all of it lies on or before the reference (see
``isodates``). Subjects without a reference date fall back to their LBBLFL = 'Y' record.
Vectorised: one lexsort over the eligible rows, the last row of each group wins.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from aewatch.ctcae.isodates import MISSING_DAY, parse_iso_dates
from aewatch.ctcae.numeric import compare
from aewatch.ctcae.sdtm_columns import factor_codes, numeric_column, testcd_codes

BASELINE_COLUMNS = [
    "USUBJID",
    "LBTESTCD",
    "BASE",
    "BASEU",
    "BASENRLO",
    "BASENRHI",
    "BNRIND",
    "BASEDTC",
    "BASEMETH",
    "BASEROW",
]


def reference_indicator(
    value: npt.NDArray[np.float64], lln: npt.NDArray[np.float64], uln: npt.NDArray[np.float64]
) -> npt.NDArray[np.object_]:
    """LOW / HIGH / NORMAL of values against their range, like admiral's ANRIND.

    NORMAL needs at least one limit; with no value or no limits the indicator is None.
    """
    low = compare(value, "<", lln)
    high = compare(value, ">", uln)
    known = ~np.isnan(value) & ~(np.isnan(lln) & np.isnan(uln))
    out = np.full(len(value), None, dtype=object)
    out[known] = "NORMAL"
    out[known & low] = "LOW"
    out[known & high] = "HIGH"
    return out


def _reference_days(
    ref_start: pd.Series | Mapping[str, object] | None, subjects: npt.NDArray[np.object_]
) -> npt.NDArray[np.int64]:
    """First possible reference day per subject code (MISSING_DAY where unknown)."""
    out = np.full(len(subjects), MISSING_DAY, dtype=np.int64)
    if ref_start is None:
        return out
    series = ref_start if isinstance(ref_start, pd.Series) else pd.Series(dict(ref_start))
    if series.empty:
        return out
    days = parse_iso_dates(series.reset_index(drop=True)).first
    where = pd.Index(subjects).get_indexer(pd.Index(series.index.astype(object)))
    hit = (where >= 0) & (days != MISSING_DAY)
    # Several dates for one subject (e.g. one per RT course): the earliest is the start.
    out[np.unique(where[hit])] = np.iinfo(np.int64).max
    np.minimum.at(out, where[hit], days[hit])
    return out


def derive_baseline(
    lb: pd.DataFrame,
    ref_start: pd.Series | Mapping[str, object] | None = None,
    *,
    fallback_to_blfl: bool = True,
) -> pd.DataFrame:
    """Baseline per subject and test: the last non-missing LBSTRESN on or before ref start.

    ``ref_start`` maps USUBJID → date (RT start in this trial, DM.RFXSTDTC otherwise).
    Dates compare as dates; a partial LBDTC (``2014-01``) qualifies only if its last
    possible day is on or before the reference's first possible day. Ties on the same
    day go to the higher VISITNUM, then LBSEQ, then the later row (admiral's order).
    Subjects without a reference date fall back to their ``LBBLFL = 'Y'`` record.

    Returns one row per subject and test with a baseline: ``BASEMETH`` says how it was
    found (REFSTART or LBBLFL), ``BASEROW`` is the index label of the LB record, and
    ``BNRIND`` compares BASE with the baseline record's own range (HIGH = above ULN,
    which is what "baseline abnormal" means for the liver-enzyme rules).
    """
    n = len(lb)
    if n == 0:
        return pd.DataFrame(columns=BASELINE_COLUMNS)
    subj_codes, subjects = factor_codes(lb["USUBJID"])
    test_codes, tests = testcd_codes(lb)
    value = numeric_column(lb, "LBSTRESN")
    has_value = ~np.isnan(value)

    ref_days = _reference_days(ref_start, subjects)[subj_codes]
    has_ref = ref_days != MISSING_DAY
    if "LBDTC" in lb.columns:
        days = parse_iso_dates(lb["LBDTC"]).last
    else:
        days = np.full(n, MISSING_DAY, dtype=np.int64)
    by_date = has_value & has_ref & (days != MISSING_DAY) & (days <= ref_days)
    by_flag = np.zeros(n, dtype=bool)
    if fallback_to_blfl and "LBBLFL" in lb.columns:
        flag = (lb["LBBLFL"] == "Y").to_numpy(dtype=bool)  # on codes when categorical
        by_flag = has_value & ~has_ref & flag
    eligible = np.flatnonzero(by_date | by_flag)
    if len(eligible) == 0:
        return pd.DataFrame(columns=BASELINE_COLUMNS)

    group = subj_codes[eligible].astype(np.int64) * len(tests) + test_codes[eligible]
    visit = numeric_column(lb, "VISITNUM", eligible)
    seq = numeric_column(lb, "LBSEQ", eligible)  # parsed where needed: LBSEQ is unique
    order = np.lexsort(
        (
            eligible,
            np.nan_to_num(seq, nan=-np.inf),
            np.nan_to_num(visit, nan=-np.inf),
            days[eligible],
            group,
        )
    )
    sorted_group = group[order]
    is_last = np.append(sorted_group[1:] != sorted_group[:-1], True)
    rows = eligible[order[is_last]]

    lln = numeric_column(lb, "LBSTNRLO", rows)
    uln = numeric_column(lb, "LBSTNRHI", rows)
    base = value[rows]
    out = pd.DataFrame(
        {
            "USUBJID": subjects[subj_codes[rows]],
            "LBTESTCD": tests[test_codes[rows]],
            "BASE": base,
            "BASEU": lb["LBSTRESU"].iloc[rows].to_numpy(dtype=object) if "LBSTRESU" in lb else None,
            "BASENRLO": lln,
            "BASENRHI": uln,
            "BNRIND": reference_indicator(base, lln, uln),
            "BASEDTC": lb["LBDTC"].iloc[rows].to_numpy(dtype=object) if "LBDTC" in lb else None,
            "BASEMETH": np.where(by_date[rows], "REFSTART", "LBBLFL"),
            "BASEROW": lb.index.to_numpy()[rows],
        }
    )
    return out.reset_index(drop=True)
