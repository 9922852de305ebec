"""CTCAE v5.0 lab rule sets (``data/lab_rules_ctcv5.csv``) and their vectorised evaluation.

Each rule set (term × direction × unit system × unit) is an ordered list of clauses;
the first clause that holds decides the grade, exactly as in admiral's ``case_when``.
A clause may give ``None`` (not gradable), and such NA guards can sit between grade
clauses: platelets < 75 × 10^9/L is grade 2 even without an LLN, but 100 with no LLN
is not gradable. Evaluation runs clause by clause over whole arrays (``np.select``
semantics with the reason kept), never row by row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import numpy.typing as npt

from aewatch.ctcae._data import read_rows
from aewatch.ctcae.numeric import signif

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

NOT_GRADABLE = -1  # grade code for NA in int8 arrays
UNDECIDED = -2


@dataclass(frozen=True)
class Clause:
    """One ``condition => grade`` line of a rule set."""

    grade: int | None  # None: not gradable
    condition: str  # the rule file's own text, for traceability
    missing: str | None = None  # holds when this input is missing: VALUE, ULN, LLN, BASELINE
    op: str | None = None  # main comparison VALUE <op> reference
    ref: str | None = None  # ULN, LLN, BASELINE or CONSTANT
    factor: float = 1.0
    offset: float = 0.0
    const: float | None = None
    nrind: str | None = None  # HIGH: baseline indicator is HIGH; NOT_HIGH: anything else
    present: str | None = None  # ULN, BASELINE or PCT_CHG must be present
    pct_chg_max: float | None = None  # PCT_CHG_FROM_BASELINE <= this


@dataclass(frozen=True)
class RuleSet:
    """The ordered clauses of one CTCAE term, direction and unit."""

    key: str
    unit_system: str  # SI or CONV
    term: str
    direction: str  # L or H
    unit: str | None  # None: only ULN/LLN/baseline multiples, unit not checked
    clauses: tuple[Clause, ...]

    @property
    def uses_baseline_indicator(self) -> bool:
        return any(c.nrind for c in self.clauses)

    @property
    def uses_baseline(self) -> bool:
        return any(c.ref == "BASELINE" or c.missing == "BASELINE" for c in self.clauses)

    @property
    def uses_pct_change(self) -> bool:
        return any(c.present == "PCT_CHG" for c in self.clauses)


@dataclass(frozen=True)
class RuleInputs:
    """Arrays one rule set is evaluated on, all in the rule set's unit.

    The rounded value is computed once per rule set, not once per clause
    (``cached_property`` writes to ``__dict__``, which a frozen dataclass allows).
    """

    value: FloatArray
    lln: FloatArray
    uln: FloatArray
    baseline: FloatArray
    baseline_high: BoolArray
    pct_change: FloatArray

    @cached_property
    def value_rounded(self) -> FloatArray:
        return signif(self.value)

    @cached_property
    def pct_change_rounded(self) -> FloatArray:
        return signif(self.pct_change)

    def reference(self, name: str) -> FloatArray:
        return {"ULN": self.uln, "LLN": self.lln, "BASELINE": self.baseline}[name]

    def missing(self, name: str) -> BoolArray:
        arrays = {
            "VALUE": self.value,
            "ULN": self.uln,
            "LLN": self.lln,
            "BASELINE": self.baseline,
            "PCT_CHG": self.pct_change,
        }
        return np.isnan(arrays[name])


def _clause_holds(clause: Clause, inputs: RuleInputs) -> BoolArray:
    n = len(inputs.value)
    holds = np.ones(n, dtype=bool)
    if clause.missing:
        holds &= inputs.missing(clause.missing)
    if clause.present:
        holds &= ~inputs.missing(clause.present)
    if clause.nrind == "HIGH":
        holds &= inputs.baseline_high
    elif clause.nrind == "NOT_HIGH":
        holds &= ~inputs.baseline_high
    if clause.pct_chg_max is not None:
        holds &= _compare_rounded(inputs.pct_change_rounded, "<=", signif(clause.pct_chg_max))
    if clause.op:
        if clause.ref == "CONSTANT":
            threshold = signif(float(clause.const if clause.const is not None else np.nan))
        else:
            threshold = signif(inputs.reference(str(clause.ref)) * clause.factor + clause.offset)
        holds &= _compare_rounded(inputs.value_rounded, clause.op, threshold)
    return holds


def _compare_rounded(left: FloatArray, op: str, right: FloatArray) -> BoolArray:
    """Comparison of values already rounded by ``signif`` (NaN compares False)."""
    with np.errstate(invalid="ignore"):
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        if op == ">":
            return left > right
        return left >= right


def evaluate(
    rule_set: RuleSet, inputs: RuleInputs
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int16]]:
    """Grades (int8; -1 = not gradable) and the index of the deciding clause per row."""
    n = len(inputs.value)
    grade = np.full(n, UNDECIDED, dtype=np.int8)
    decided_by = np.full(n, -1, dtype=np.int16)
    open_rows = np.ones(n, dtype=bool)
    for index, clause in enumerate(rule_set.clauses):
        if not open_rows.any():
            break
        hit = open_rows & _clause_holds(clause, inputs)
        grade[hit] = NOT_GRADABLE if clause.grade is None else clause.grade
        decided_by[hit] = index
        open_rows &= ~hit
    # Every rule set ends with "otherwise"; a set without one leaves rows not gradable.
    grade[grade == UNDECIDED] = NOT_GRADABLE
    return grade, decided_by


def rule_set_key(unit_system: str, term: str, direction: str, unit: str | None) -> str:
    return f"{unit_system}|{term}|{direction}|{unit or '-'}"


def _optional_float(text: str) -> float | None:
    return float(text) if text not in ("", "NA") else None


@cache
def load_rule_sets() -> Mapping[str, RuleSet]:
    """All rule sets of ``data/lab_rules_ctcv5.csv`` keyed by ``rule_set_key``."""
    grouped: dict[str, list[dict[str, str]]] = {}
    for row in read_rows("lab_rules_ctcv5.csv"):
        grouped.setdefault(row["rule_set"], []).append(row)
    rule_sets: dict[str, RuleSet] = {}
    for key, rows in grouped.items():
        rows.sort(key=lambda r: int(r["order"]))
        clauses = tuple(
            Clause(
                grade=None if r["grade"] == "NA" else int(r["grade"]),
                condition=r["condition"],
                missing=r["missing"] or None,
                op=r["op"] or None,
                ref=r["ref"] or None,
                factor=_optional_float(r["factor"]) or 1.0,
                offset=_optional_float(r["offset"]) or 0.0,
                const=_optional_float(r["const"]),
                nrind=r["nrind"] or None,
                present=r["present"] or None,
                pct_chg_max=_optional_float(r["pct_chg_max"]),
            )
            for r in rows
        )
        first = rows[0]
        rule_sets[key] = RuleSet(
            key=key,
            unit_system=first["unit_system"],
            term=first["term"],
            direction=first["direction"],
            unit=first["unit"] or None,
            clauses=clauses,
        )
    return rule_sets


def rule_sets_for(term: str, direction: str) -> list[RuleSet]:
    """The rule sets of one term and direction, SI first, in file order."""
    wanted = term.casefold()
    return [
        rs
        for rs in load_rule_sets().values()
        if rs.term.casefold() == wanted and rs.direction == direction
    ]


def signif_threshold(clause: Clause, reference: FloatArray) -> FloatArray:
    """The rounded cut-off a clause compares against (for evidence strings and tests)."""
    if clause.ref == "CONSTANT":
        return signif(np.full(len(reference), float(clause.const or 0.0)))
    return signif(reference * clause.factor + clause.offset)
