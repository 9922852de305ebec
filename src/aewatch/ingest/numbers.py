"""Numbers as sites write them, converted defensively, column by column.

A cell that overflows (``1e400``, 400 digits), is not finite (``inf``, ``nan``) or is not
a whole number where one is needed must become a fault on its own row, never an exception
that fails the file: pandas turns such text into ``inf`` and a later cast to an integer
raises. Whole numbers are also kept inside the database's INTEGER range (PostgreSQL's is
32-bit), or the insert of one row would roll back the whole file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

INT32_MAX = 2_147_483_647


@dataclass(frozen=True)
class Numbers:
    """A text column read as numbers: ``values`` (float64, NaN where empty or not a
    number), and which cells were given, not numbers at all, or not finite."""

    values: pd.Series
    given: pd.Series
    not_number: pd.Series
    not_finite: pd.Series

    @property
    def finite(self) -> pd.Series:
        """The values with non-finite ones (inf, nan, overflow) made missing."""
        return self.values.where(~self.not_finite)


def read_numbers(text: pd.Series) -> Numbers:
    """Numbers from text: ``inf``, ``nan`` and overflowing text (``1e400``) are read but
    flagged ``not_finite``; anything else that is not a number is ``not_number``."""
    text = text.astype("str")  # readers strip cells already
    given = text != ""
    values = pd.to_numeric(text.where(given), errors="coerce").astype("float64")
    missing = given & values.isna()
    spelled_nan = pd.Series(False, index=text.index)
    if missing.any():  # only the few cells that did not parse are looked at again
        spelled_nan[missing] = text[missing].str.strip().str.lower().isin(["nan", "+nan", "-nan"])
    not_finite = given & (np.isinf(values) | spelled_nan)
    not_number = missing & ~spelled_nan
    return Numbers(values, given, not_number, not_finite)


def whole_numbers(values: pd.Series, low: int = 0, high: int = INT32_MAX) -> pd.Series:
    """Whole numbers in [low, high] as Int64; anything else (already a fault) is missing."""
    ok = np.isfinite(values) & (values == np.floor(values)) & (values >= low) & (values <= high)
    return values.where(ok).astype("Int64")


def not_whole(values: pd.Series) -> pd.Series:
    """Finite values with a fraction (2.5)."""
    finite = np.isfinite(values)
    return finite & (values != np.floor(values.where(finite, 0)))


# --------------------------------------------------------------------------- grades

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
_GRADE = re.compile(
    r"^(?:CTCAE\s*)?(?:GRADE|GR\.?|G)?\s*[:#]?\s*(?P<number>\d+(?:\.0+)?|I{1,3}|IV|V)$"
)


@dataclass(frozen=True)
class Grades:
    """A grade column: ``grade`` (Int64, missing where empty or invalid), ``invalid`` (given
    but not a whole grade in range), ``rewritten`` (valid, but not written as plain digits:
    ``III``, ``Grade 3``, ``G3``, ``3.0``)."""

    grade: pd.Series
    invalid: pd.Series
    rewritten: pd.Series


def read_grades(text: pd.Series, low: int, high: int) -> Grades:
    """CTCAE grades as sites write them: ``3``, ``3.0``, ``III``, ``Grade 3``, ``G3``,
    ``gr. 3``. Fractions (``2.5``) and grades outside [low, high] are invalid.

    Parsed once per distinct spelling, so a million rows cost a few dozen regex calls.
    """
    codes, uniques = pd.factorize(text.astype("str"))
    parsed = np.full(len(uniques), np.nan)
    plain_unique = np.zeros(len(uniques), dtype=bool)
    given_unique = np.zeros(len(uniques), dtype=bool)
    for i, spelling in enumerate(uniques):
        written = str(spelling).strip()
        parsed[i] = _grade_of(written)
        plain_unique[i] = written.isdigit()
        given_unique[i] = written != ""
    index = text.index
    grade_float = pd.Series(parsed[codes] if len(codes) else [], index=index, dtype="float64")
    given = pd.Series(given_unique[codes] if len(codes) else [], index=index, dtype=bool)
    plain = pd.Series(plain_unique[codes] if len(codes) else [], index=index, dtype=bool)
    valid = grade_float.between(low, high)
    return Grades(
        grade=grade_float.where(valid).astype("Int64"),
        invalid=given & ~valid,
        rewritten=given & valid & ~plain,
    )


def _grade_of(spelling: str) -> float:
    match = _GRADE.match(spelling.upper())
    if match is None:
        return np.nan
    number = match.group("number")
    if number in _ROMAN:
        return float(_ROMAN[number])
    value = float(number)
    return value if value < INT32_MAX else np.nan
