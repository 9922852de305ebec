"""Lab unit spellings and conversion factors, from ``data/unit_synonyms.csv`` and
``data/unit_conversions.csv``.

Real exports spell one unit many ways (``GI/L``, ``10^9/L``, ``x10E9/L``). We normalise
case-insensitively, as admiral compares units, so ``G/L`` reads as grams per litre; a
count in ``g/L`` then finds no conversion and is reported as not gradable, never guessed.
A conversion is looked up per analyte (haemoglobin mmol/L → g/L is not glucose's), and its
inverse is derived. Factors are stored as ``multiply`` and ``divide`` so the published
constant (e.g. ÷ 18.016 for glucose) is used as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from aewatch.ctcae._data import read_rows


@dataclass(frozen=True)
class UnitConversion:
    """``to = from × multiply ÷ divide`` for one analyte."""

    analyte: str
    from_unit: str
    to_unit: str
    multiply: float
    divide: float
    source: str = ""

    def factor_text(self) -> str:
        """How a data manager reads it in a note: ``×16.1135`` or ``÷18.016``."""
        if self.divide == 1:
            return f"×{_plain(self.multiply)}"
        if self.multiply == 1:
            return f"÷{_plain(self.divide)}"
        return f"×{_plain(self.multiply)}÷{_plain(self.divide)}"

    @property
    def is_identity(self) -> bool:
        return self.multiply == self.divide


def _plain(x: float) -> str:
    return f"{x:g}"


def _key(spelling: str) -> str:
    """Case-, space- and micro-sign-insensitive key of a unit spelling."""
    return spelling.replace("µ", "u").replace("μ", "u").replace("×", "X").replace(" ", "").upper()


@cache
def _synonyms() -> dict[str, str]:
    return {_key(row["spelling"]): row["unit"] for row in read_rows("unit_synonyms.csv")}


def normalise_unit(spelling: object) -> str | None:
    """The canonical spelling of a unit; unknown units come back stripped; blank → None."""
    if not isinstance(spelling, str) or not spelling.strip():
        return None
    key = _key(spelling)
    table = _synonyms()
    if key in table:
        return table[key]
    if key.startswith("X") and key[1:] in table:  # "x10^9/L"
        return table[key[1:]]
    return spelling.strip()


def same_unit(a: str | None, b: str | None) -> bool:
    """Units equal after normalisation, compared case-insensitively (admiral's rule)."""
    if a is None or b is None:
        return False
    na, nb = normalise_unit(a), normalise_unit(b)
    return na is not None and nb is not None and na.upper() == nb.upper()


@cache
def load_conversions(path: Path | None = None) -> dict[tuple[str, str, str], UnitConversion]:
    """All conversions keyed by (analyte, FROM, TO) in upper case, inverses included."""
    table: dict[tuple[str, str, str], UnitConversion] = {}
    for row in read_rows(path or "unit_conversions.csv"):
        analyte = row["analyte"].upper()
        src = normalise_unit(row["from_unit"]) or ""
        dst = normalise_unit(row["to_unit"]) or ""
        forward = UnitConversion(
            analyte, src, dst, float(row["multiply"]), float(row["divide"]), row.get("source", "")
        )
        backward = UnitConversion(
            analyte, dst, src, forward.divide, forward.multiply, row.get("source", "")
        )
        table[(analyte, src.upper(), dst.upper())] = forward
        table.setdefault((analyte, dst.upper(), src.upper()), backward)
    return table


def conversion(analyte: str, from_unit: str | None, to_unit: str | None) -> UnitConversion | None:
    """The conversion between two units of an analyte; identity when they are equal."""
    if from_unit is None or to_unit is None:
        return None
    src, dst = normalise_unit(from_unit), normalise_unit(to_unit)
    if src is None or dst is None:
        return None
    if src.upper() == dst.upper():
        return UnitConversion(analyte, src, dst, 1.0, 1.0, "same unit")
    return load_conversions().get((analyte.upper(), src.upper(), dst.upper()))
