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
    """Round to ``digits`` significant digits like R's ``signif``; NaN, ±inf and 0 pass
    through. Whole arrays, no masked copies: lab values are far below 10**digits, where
    one scale per value suffices."""
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # digits - 1 - floor(log10|x|): inf for 0, -inf for ±inf, NaN for NaN
        exponent = (digits - 1) - np.floor(np.log10(np.abs(x)))
        rounded = np.isfinite(exponent)
        # Scale by an exact power of ten in the direction that keeps the scale factor an
        # integer: multiplying by 10**-k would itself round.
        if (rounded & (exponent < 0)).any():  # |x| >= 10**(digits - 1)
            scale = np.power(10.0, np.abs(exponent))
            result = np.where(
                exponent >= 0, np.round(x * scale) / scale, np.round(x / scale) * scale
            )
        else:
            scale = np.power(10.0, exponent)
            result = np.round(x * scale) / scale
    return np.where(rounded, result, x)


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
