"""Compare lab values with CTCAE cut-offs after rounding both sides to 15 significant digits.

In binary floating point ``3 * 1.2`` is 3.5999999999999996, below 3.6: a value of exactly
3 x ULN would miss the ">= 3 x ULN" boundary. admiral rounds both sides with
``signif(x, 15)``; we do the same, vectorised, so our grades match row by row.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SIGNIFICANT_DIGITS = 15

FloatArray = npt.NDArray[np.float64]


def signif(values: npt.ArrayLike, digits: int = SIGNIFICANT_DIGITS) -> FloatArray:
    """Round to ``digits`` significant digits like R's ``signif``; NaN and 0 pass through."""
    x = np.asarray(values, dtype=np.float64)
    out = x.copy()
    finite = np.isfinite(x) & (x != 0)
    if not finite.any():
        return out
    v = x[finite]
    exponent = digits - 1 - np.floor(np.log10(np.abs(v))).astype(np.int64)
    up = exponent >= 0
    result = np.empty_like(v)
    # Scale by an exact power of ten in the direction that keeps the scale factor an
    # integer: multiplying by 10**-k would itself round.
    scale_up = np.power(10.0, exponent[up])
    result[up] = np.round(v[up] * scale_up) / scale_up
    scale_down = np.power(10.0, -exponent[~up])
    result[~up] = np.round(v[~up] / scale_down) * scale_down
    out[finite] = result
    return out


def compare(left: FloatArray, op: str, right: FloatArray) -> npt.NDArray[np.bool_]:
    """``left op right`` after rounding both sides; any NaN side gives False (R's NA)."""
    a = signif(left)
    b = signif(right)
    with np.errstate(invalid="ignore"):
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        if op == ">=":
            return a >= b
    raise ValueError(f"unknown comparison operator {op!r}")
