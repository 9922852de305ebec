"""The notes of lab grading: why a direction was not gradable, or what was assumed.

Grading records reasons as bit flags per row and direction; the text is written once per
distinct combination, so a million rows cost a handful of strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aewatch.ctcae.units import UnitConversion

VALUE_MISSING = 1
ULN_MISSING = 2
LLN_MISSING = 4
BASELINE_NEEDED = 8
UNIT_MISSING = 16
UNIT_INCONVERTIBLE = 32
NO_BASELINE_ULN_RULES = 64
NO_BASELINE_PARTIAL = 128
BASELINE_RANGE_UNKNOWN = 256
CONVERTED = 512
BASELINE_UNIT = 1024
NOT_GRADABLE_BITS = (
    VALUE_MISSING | ULN_MISSING | LLN_MISSING | BASELINE_NEEDED | UNIT_MISSING | UNIT_INCONVERTIBLE
)
MISSING_BITS = {
    "VALUE": VALUE_MISSING,
    "ULN": ULN_MISSING,
    "LLN": LLN_MISSING,
    "BASELINE": BASELINE_NEEDED,
}


def direction_notes(
    bits: int,
    test: str,
    term: str | None,
    unit: str | None,
    base_unit: str | None,
    expects: str | None,
    convert: UnitConversion | None,
) -> list[str]:
    """Sentences for one direction's bits, in a fixed order (reasons first, then caveats)."""
    notes: list[str] = []
    if bits & VALUE_MISSING:
        notes.append(f"no numeric result (LBSTRESN) for {test}")
    if bits & ULN_MISSING:
        notes.append(f"no reference range (LBSTNRHI) for {test}")
    if bits & LLN_MISSING:
        notes.append(f"no reference range (LBSTNRLO) for {test}")
    if bits & BASELINE_NEEDED:
        notes.append(f"no baseline for {test}; {term} cannot be graded at this value without one")
    if bits & UNIT_MISSING:
        notes.append(f"no unit (LBSTRESU) for {test}; {term} expects {expects}")
    if bits & UNIT_INCONVERTIBLE:
        notes.append(f"unit '{unit}' not convertible for {term} (expects {expects})")
    if bits & BASELINE_UNIT:
        notes.append(f"baseline unit '{base_unit}' of {test} not convertible; baseline not used")
    if bits & NO_BASELINE_ULN_RULES:
        notes.append(f"no baseline for {test}; graded on ULN rules")
    if bits & BASELINE_RANGE_UNKNOWN:
        notes.append(f"baseline of {test} has no reference range; graded on ULN rules")
    if bits & NO_BASELINE_PARTIAL:
        notes.append(f"no baseline for {test}; baseline criteria of {term} not applied")
    if bits & CONVERTED and convert is not None:
        notes.append(
            f"{test} converted {convert.from_unit} → {convert.to_unit} ({convert.factor_text()})"
        )
    return notes


def unmapped_note(test: str) -> str:
    return f"no CTCAE v5.0 lab criteria for LBTESTCD '{test or '(empty)'}'"
