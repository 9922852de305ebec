"""Biologically effective dose (BED) and EQD2 of radiotherapy courses, vectorised.

Linear-quadratic model (Fowler JF, Br J Radiol 1989;62:679-94):
``BED = n·d·(1 + d/(α/β))`` and ``EQD2 = BED / (1 + 2/(α/β))``; for unequal fractions
BED is the sum of ``dᵢ(1 + dᵢ/(α/β))``. The protocol asks for BED₁₀ ≥ 60 Gy on every
lesion. Summing 25 fraction BEDs of 2.4 Gy₁₀ in floating point gives 59.99999999999998,
so ``bed_deviation`` rounds to 6 decimals before comparing: a course of exactly 60 Gy₁₀
is compliant however it was added up.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

COMPARE_DECIMALS = 6

FloatArray = npt.NDArray[np.float64]


def _result(values: FloatArray, scalar: bool) -> float | FloatArray:
    return float(values[()]) if scalar else values


def _is_scalar(*values: object) -> bool:
    return all(np.ndim(v) == 0 for v in values)


def bed(
    dose_per_fraction: npt.ArrayLike, fractions: npt.ArrayLike, alpha_beta: npt.ArrayLike
) -> float | FloatArray:
    """BED in Gy (α/β in Gy): ``n·d·(1 + d/(α/β))``; NaN in, NaN out."""
    d = np.asarray(dose_per_fraction, dtype=np.float64)
    n = np.asarray(fractions, dtype=np.float64)
    ab = np.asarray(alpha_beta, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = n * d * (1.0 + d / ab)
    return _result(np.asarray(out), _is_scalar(dose_per_fraction, fractions, alpha_beta))


def bed_of_fractions(doses: Iterable[float], alpha_beta: float) -> float:
    """BED of a course with unequal fractions: ``Σ dᵢ(1 + dᵢ/(α/β))``."""
    d = np.asarray(list(doses), dtype=np.float64)
    return float(np.sum(d * (1.0 + d / alpha_beta)))


def eqd2(
    dose_per_fraction: npt.ArrayLike, fractions: npt.ArrayLike, alpha_beta: npt.ArrayLike
) -> float | FloatArray:
    """Equivalent dose in 2-Gy fractions: ``BED / (1 + 2/(α/β))``."""
    b = np.asarray(bed(dose_per_fraction, fractions, alpha_beta), dtype=np.float64)
    ab = np.asarray(alpha_beta, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = b / (1.0 + 2.0 / ab)
    return _result(np.asarray(out), _is_scalar(dose_per_fraction, fractions, alpha_beta))


def eqd2_from_bed(bed_gy: npt.ArrayLike, alpha_beta: npt.ArrayLike) -> float | FloatArray:
    """EQD2 of a BED already computed (e.g. from unequal fractions)."""
    b = np.asarray(bed_gy, dtype=np.float64)
    ab = np.asarray(alpha_beta, dtype=np.float64)
    out = b / (1.0 + 2.0 / ab)
    return _result(np.asarray(out), _is_scalar(bed_gy, alpha_beta))


def bed_deviation(bed_gy: npt.ArrayLike, minimum: float = 60.0) -> bool | npt.NDArray[np.bool_]:
    """True where BED, rounded to 6 decimals, is below the protocol minimum.

    A missing BED is not a deviation (False): it is a missing-data problem, reported by
    the data checks, not a dose below the floor.
    """
    b = np.round(np.asarray(bed_gy, dtype=np.float64), COMPARE_DECIMALS)
    with np.errstate(invalid="ignore"):
        below = (b < round(minimum, COMPARE_DECIMALS)) & ~np.isnan(b)
    return bool(below) if np.ndim(bed_gy) == 0 else below
