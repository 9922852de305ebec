"""Is a lab result a measurement of a living patient at all? Checked before it is graded.

A grade from an impossible value is a false safety signal: a platelet count of -50 is
"grade 4", 15,000 ×10⁹/L is a typing or unit error. A result is implausible when

* it is not a finite number (``inf``, ``nan``, an overflowing ``1e400``);
* it lies outside its analyte's plausibility range (``data/lab_plausibility.csv``,
  extendable from the trial config), after converting its unit to the range's unit with
  ``data/unit_conversions.csv``; a count, activity or concentration is never negative,
  whatever its unit;
* its reference range is inverted, zero-width or not finite (every ULN/LLN rule would
  grade against garbage).

The ranges sit far outside every CTCAE v5.0 grade 4 threshold, so an extreme but real
toxicity is never excluded (tests/ctcae/test_plausibility.py checks this). Vectorised:
work that depends on a test code and unit runs once per distinct pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import pandas as pd

from aewatch.ctcae._data import read_rows
from aewatch.ctcae.units import conversion, normalise_unit

PROBLEM_COLUMNS = ["index", "field", "value", "reason"]


@dataclass(frozen=True)
class PlausibleRange:
    """Values of ``analyte`` outside [low, high] (in ``unit``; "" = any unit) are implausible."""

    analyte: str
    unit: str
    low: float
    high: float
    reason: str = ""

    def text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.low:g} to {self.high:g}{unit}"


@cache
def shipped_ranges() -> Mapping[str, PlausibleRange]:
    """``data/lab_plausibility.csv`` by analyte."""
    return {
        row["analyte"].upper(): PlausibleRange(
            analyte=row["analyte"].upper(),
            unit=normalise_unit(row["unit"]) or "",
            low=float(row["low"]),
            high=float(row["high"]),
            reason=row.get("reason", ""),
        )
        for row in read_rows("lab_plausibility.csv")
    }


def plausibility_ranges(extra: Iterable[PlausibleRange] = ()) -> dict[str, PlausibleRange]:
    """The shipped ranges with the trial's own (config) on top, by analyte."""
    table = dict(shipped_ranges())
    for entry in extra:
        table[entry.analyte.upper()] = entry
    return table


def implausible_results(
    test_codes: pd.Series,
    values: npt.ArrayLike,
    units: pd.Series,
    lower_limits: npt.ArrayLike,
    upper_limits: npt.ArrayLike,
    ranges: Mapping[str, PlausibleRange] | None = None,
    *,
    value_texts: pd.Series | None = None,
) -> pd.Series:
    """One row per problem found: ``index`` (input label), ``field``, ``value``, ``reason``.

    ``values`` and the limits are floats (NaN = missing, ±inf = not finite); ``value_texts``
    (optional) is what the site wrote, so ``nan`` written out counts as not finite while an
    empty cell is simply missing. ``test_codes`` are SDTM LBTESTCD, mapped to analytes by
    the lab test map; units are compared after normalisation.
    """
    table = ranges if ranges is not None else shipped_ranges()
    index = test_codes.index
    value = np.asarray(values, dtype=np.float64)
    low = np.asarray(lower_limits, dtype=np.float64)
    high = np.asarray(upper_limits, dtype=np.float64)
    found: list[tuple[int, str, str, str]] = []

    def add(
        mask: npt.NDArray[np.bool_],
        field: str,
        shown: Callable[[int], str],
        text: Callable[[int], str],
    ) -> None:
        found.extend((p, field, shown(p), text(p)) for p in np.flatnonzero(mask).tolist())

    # Only a result that reads as NaN or ±inf can be "not finite": its text is looked at,
    # the other rows' texts are not (a million results would be a million strings).
    unread = np.flatnonzero(np.isnan(value) | np.isinf(value))
    written = np.full(len(value), None, dtype=object)
    spelled_nan = np.zeros(len(value), dtype=bool)
    if value_texts is not None:
        texts = value_texts.iloc[unread].astype("str").str.strip().to_numpy(dtype=object)
        written[unread] = texts
        spelled_nan[unread] = [str(w).lower() in ("nan", "+nan", "-nan") for w in texts]
    else:
        written[unread] = [f"{v:g}" for v in value[unread]]
    add(
        np.isinf(value) | (np.isnan(value) & spelled_nan),
        "LBSTRESN",
        lambda i: str(written[i]),
        lambda i: f"result LBSTRESN '{written[i]}' is not a finite number",
    )
    for name, limit in (("LBSTNRLO", low), ("LBSTNRHI", high)):
        add(
            np.isinf(limit),
            name,
            lambda i, lim=limit: f"{lim[i]:g}",
            lambda i, n=name, lim=limit: f"{n} '{lim[i]:g}' is not a finite number",
        )
    both = np.isfinite(low) & np.isfinite(high)
    with np.errstate(invalid="ignore"):
        add(
            both & (low > high),
            "LBSTNRLO",
            lambda i: f"{low[i]:g}",
            lambda i: (
                f"reference range LBSTNRLO '{low[i]:g}' to LBSTNRHI '{high[i]:g}' is "
                "inverted (the lower limit is above the upper)"
            ),
        )
        add(
            both & (low == high),
            "LBSTNRLO",
            lambda i: f"{low[i]:g}",
            lambda i: (
                f"reference range LBSTNRLO '{low[i]:g}' to LBSTNRHI '{high[i]:g}' has zero width"
            ),
        )
    _check_ranges(test_codes, value, units, (low, high), table, add)
    found.sort(key=lambda problem: problem[0])
    labels = index.to_numpy()
    return pd.DataFrame(
        {
            "index": [labels[p] for p, _, _, _ in found],
            "field": [f for _, f, _, _ in found],
            "value": [v for _, _, v, _ in found],
            "reason": [r for _, _, _, r in found],
        },
        columns=PROBLEM_COLUMNS,
    )


def reasons_by_row(problems: pd.DataFrame, index: pd.Index) -> pd.Series:
    """The problems of each row joined into one reason (None where there are none)."""
    out = pd.Series(None, index=index, dtype=object)
    if problems.empty:
        return out
    joined = problems.groupby("index", sort=False)["reason"].agg("; ".join)
    out.loc[joined.index] = joined.to_numpy()
    return out


def _check_ranges(
    test_codes: pd.Series,
    value: npt.NDArray[np.float64],
    units: pd.Series,
    limits: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    table: Mapping[str, PlausibleRange],
    add: Callable[..., None],
) -> None:
    """Values (and reference limits) outside their analyte's range, one unit conversion per
    (test, unit) pair.

    A unit that is missing or cannot be converted is read as the range's own unit: ULN-based
    rules (ALT, AST, bilirubin …) grade without looking at the unit, so an unchecked value
    would still become a grade. A reference limit is only judged on the upper side (a lower
    limit of 0 is a common way of writing "no lower limit").
    """
    from aewatch.ctcae.labs import LAB_TEST_MAP
    from aewatch.ctcae.sdtm_columns import factor_codes, normalise_testcd

    low_limit, high_limit = limits
    test_codes_i, tests = factor_codes(test_codes)
    unit_codes_i, unit_values = factor_codes(units)
    width = len(unit_values)
    pair_codes, pairs = pd.factorize(test_codes_i.astype(np.int64) * width + unit_codes_i)
    # Per distinct (test, unit) pair: the range, the factor to its unit, and the words.
    checked = np.zeros(len(pairs), dtype=bool)
    factors, lows, highs = np.ones(len(pairs)), np.zeros(len(pairs)), np.zeros(len(pairs))
    analytes = np.full(len(pairs), "", dtype=object)
    ranges = np.full(len(pairs), "", dtype=object)
    units_shown = np.full(len(pairs), "", dtype=object)
    for k, key in enumerate(pairs):
        test = normalise_testcd(tests[int(key) // width])
        lab_test = LAB_TEST_MAP.get(test)
        analyte = lab_test.analyte if lab_test is not None else test
        bounds = table.get(analyte)
        if bounds is None:
            continue
        raw_unit = unit_values[int(key) % width]
        unit = normalise_unit(raw_unit) if isinstance(raw_unit, str) else None
        factor = _factor(analyte, unit, bounds)
        shown = f" {unit}" if unit else ""
        if factor is None:
            as_range = f"read as {bounds.unit}"
            shown = f" {unit} (not convertible; {as_range})" if unit else f" (no unit; {as_range})"
            factor = 1.0
        checked[k], factors[k], lows[k], highs[k] = True, factor, bounds.low, bounds.high
        analytes[k], ranges[k], units_shown[k] = analyte, bounds.text(), shown
    row_checked = checked[pair_codes]
    factor, low, high = factors[pair_codes], lows[pair_codes], highs[pair_codes]
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = value * factor
        outside = np.isfinite(scaled) & ((scaled < low) | (scaled > high))
    # Thousands of rows may be out of range: their words are looked up as Python objects
    # (``item``, lists), not as numpy scalars.
    pair_of, shown_of = pair_codes.item, units_shown.tolist()
    analyte_of, range_of = analytes.tolist(), ranges.tolist()
    add(
        row_checked & outside,
        "LBSTRESN",
        lambda i: f"{value.item(i):g}",
        lambda i: (
            f"result LBSTRESN '{value.item(i):g}'{shown_of[pair_of(i)]} is not a plausible "
            f"{analyte_of[pair_of(i)]} result (plausible: {range_of[pair_of(i)]})"
        ),
    )
    for name, limit in (("LBSTNRLO", low_limit), ("LBSTNRHI", high_limit)):
        with np.errstate(over="ignore", invalid="ignore"):
            scaled_limit = limit * factor
            wrong = np.isfinite(scaled_limit) & (
                (scaled_limit > high) | ((scaled_limit < 0) & (low >= 0))
            )
        add(
            row_checked & wrong,
            name,
            lambda i, lim=limit: f"{lim.item(i):g}",
            lambda i, n=name, lim=limit: (
                f"reference limit {n} '{lim.item(i):g}'{shown_of[pair_of(i)]} is not a "
                f"plausible {analyte_of[pair_of(i)]} limit (plausible: {range_of[pair_of(i)]})"
            ),
        )


def _factor(analyte: str, unit: str | None, bounds: PlausibleRange) -> float | None:
    """Multiply a value in ``unit`` by this to get the range's unit (None: unknown)."""
    if not bounds.unit:
        return 1.0
    found = conversion(analyte, unit, bounds.unit) if unit else None
    if found is None:
        return None
    return found.multiply / found.divide
