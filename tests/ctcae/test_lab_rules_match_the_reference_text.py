"""Every clause of every rule set, graded on both sides of and exactly at its boundary, agrees
with an independent literal reading of the reference rule text in exact decimals.

The oracle below parses ``condition`` strings of ``lab_grading_rules_ctcv5_long.csv`` (a copy
of the project's reference, admiral's CTCAE v5 criteria) and evaluates them with
``decimal.Decimal``: no float, no 15-digit rounding, no shared code with the engine. If the
engine's structured rules, unit handling, NA guards or rounding drift from the text, a
boundary case here disagrees.
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aewatch.ctcae.labs import LabTest, grade_labs

RULES = Path(__file__).resolve().parent / "data" / "lab_grading_rules_ctcv5_long.csv"

Env = dict[str, Decimal | str | None]


def _rules() -> dict[tuple[str, str, str, str], list[dict[str, str]]]:
    with RULES.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    grouped: dict[tuple[str, str, str, str], list[dict[str, str]]] = {}
    for row in rows:
        key = (row["unit_system"], row["term"], row["direction"], row["unit"])
        grouped.setdefault(key, []).append(row)
    for clauses in grouped.values():
        clauses.sort(key=lambda r: int(r["seq"]))
    return grouped


_RHS = re.compile(
    r"^(?:(?P<factor>[\d.]+)\*)?(?P<ref>ULN|LLN|BASELINE|[-\d.]+)(?: \+ (?P<off>[\d.]+))?$"
)


def _rhs(text: str, env: Env) -> Decimal | None:
    match = _RHS.match(text.strip())
    assert match, text
    ref = match["ref"]
    if ref in ("ULN", "LLN", "BASELINE"):
        base = env[ref]
        if base is None:
            return None
        assert isinstance(base, Decimal)
        return base * Decimal(match["factor"] or "1") + Decimal(match["off"] or "0")
    return Decimal(ref)


def _atom(atom: str, env: Env) -> bool:
    atom = atom.strip()
    if atom.endswith(" missing"):
        return env[atom.removesuffix(" missing")] is None
    if atom.endswith(" present"):
        return env[atom.removesuffix(" present")] is not None
    if atom == "BASELINE_NRIND is HIGH":
        return env["BASELINE_NRIND"] == "HIGH"
    if atom == "BASELINE_NRIND not HIGH":
        return env["BASELINE_NRIND"] != "HIGH"
    left_name, op, right_text = re.match(r"^(\w+) (<=|>=|<|>) (.+)$", atom).groups()  # type: ignore[union-attr]
    left = env[left_name]
    right = _rhs(right_text, env)
    if left is None or right is None:
        return False
    assert isinstance(left, Decimal)
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def literal_grade(clauses: list[dict[str, str]], env: Env) -> int | None:
    """The grade the rule text gives, first true condition wins; None = not gradable."""
    for clause in clauses:
        condition = clause["condition"]
        holds = condition == "otherwise" or any(
            all(_atom(a, env) for a in part.split(" AND ")) for part in condition.split(" OR ")
        )
        if holds:
            return None if clause["result_grade"] == "NA" else int(clause["result_grade"])
    raise AssertionError("rule set without otherwise")


def _boundaries(clauses: list[dict[str, str]], env: Env) -> list[Decimal]:
    """Every threshold of the rule set under this scenario, plus values around them."""
    points: set[Decimal] = {Decimal("0.001"), Decimal("100000")}
    for clause in clauses:
        for atom in clause["condition"].split(" AND "):
            found = re.match(r"^VALUE (<=|>=|<|>) (.+)$", atom.strip())
            if not found:
                continue
            threshold = _rhs(found.group(2), env)
            if threshold is None or threshold <= 0:
                continue
            step = max(threshold * Decimal("0.001"), Decimal("0.001"))
            points |= {threshold, threshold - step, threshold + step}
    return sorted(points)


SCENARIOS = [
    # (LLN, ULN, BASELINE, BASELINE_NRIND)
    ("3.5", "40", None, None),
    ("3.5", "40", "30", "NORMAL"),
    ("3.5", "40", "55", "HIGH"),
    ("1.2", "1.2", "1.2", "HIGH"),  # 3 × 1.2 must equal 3.6 exactly
    (None, "40", "20", "NORMAL"),
    ("3.5", None, "20", "LOW"),
    (None, None, None, None),
    ("150", "400", "200", "NORMAL"),
    ("135", "145", "138", "NORMAL"),
    ("0.7", "1.0", "1.4", "HIGH"),
    ("2", "4", "3.8", "NORMAL"),  # fibrinogen-like: percent change from 3.8
]


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _cases() -> tuple[pd.DataFrame, list[int | None], list[str], dict[str, LabTest]]:
    rows: list[dict[str, object]] = []
    expected: list[int | None] = []
    systems: list[str] = []
    test_map: dict[str, LabTest] = {}
    for number, ((system, term, direction, unit), clauses) in enumerate(_rules().items()):
        code = f"T{number}"
        test_map[code] = LabTest(
            code, code, term if direction == "L" else None, term if direction == "H" else None
        )
        for lln, uln, base, nrind in SCENARIOS:
            env: Env = {
                "LLN": _decimal(lln),
                "ULN": _decimal(uln),
                "BASELINE": _decimal(base),
                "BASELINE_NRIND": nrind,
            }
            for value in [*_boundaries(clauses, env), None]:
                env_v = dict(env, VALUE=value)
                if value is not None and env["BASELINE"] is not None:
                    env_v["PCT_CHG_FROM_BASELINE"] = (
                        (value - env["BASELINE"]) / abs(env["BASELINE"]) * 100  # type: ignore[operator]
                    )
                else:
                    env_v["PCT_CHG_FROM_BASELINE"] = None
                expected.append(literal_grade(clauses, env_v))
                systems.append(system)
                rows.append(
                    {
                        "USUBJID": "S1",
                        "LBTESTCD": code,
                        "LBSTRESN": np.nan if value is None else float(value),
                        "LBSTRESU": unit or "U/L",
                        "LBSTNRLO": np.nan if lln is None else float(lln),
                        "LBSTNRHI": np.nan if uln is None else float(uln),
                        "BASE": np.nan if base is None else float(base),
                        "BASEU": unit or "U/L",
                        "BNRIND": nrind,
                    }
                )
    return pd.DataFrame(rows), expected, systems, test_map


def test_engine_grades_every_boundary_of_every_rule_set_as_the_rule_text_says() -> None:
    lb, expected, systems, test_map = _cases()
    direction_of = {code: ("low" if t.term_low else "high") for code, t in test_map.items()}
    mismatches = []
    for system in ("SI", "CONV"):
        mask = np.asarray(systems) == system
        part = lb[mask]
        graded = grade_labs(part, unit_system=system, test_map=test_map)
        for (index, row), want in zip(
            part.iterrows(), np.asarray(expected, object)[mask], strict=True
        ):
            got = graded.at[index, f"tox_grade_{direction_of[row['LBTESTCD']]}"]
            got = None if pd.isna(got) else int(got)
            if got != want:
                term = test_map[row["LBTESTCD"]].term_low or test_map[row["LBTESTCD"]].term_high
                mismatches.append(
                    (
                        system,
                        term,
                        row["LBSTRESN"],
                        row["LBSTNRLO"],
                        row["LBSTNRHI"],
                        row["BASE"],
                        row["BNRIND"],
                        want,
                        got,
                    )
                )
    assert len(lb) > 10_000
    assert mismatches == []


@pytest.mark.parametrize(("system", "count"), [("SI", 40), ("CONV", 46)])
def test_reference_has_forty_si_and_forty_six_conventional_rule_sets(
    system: str, count: int
) -> None:
    assert sum(1 for key in _rules() if key[0] == system) == count


def test_oracle_reads_three_times_one_point_two_as_exactly_three_point_six() -> None:
    clauses = _rules()[("SI", "Alanine aminotransferase increased", "H", "")]
    env: Env = {
        "LLN": None,
        "ULN": Decimal("1.2"),
        "BASELINE": None,
        "BASELINE_NRIND": None,
        "VALUE": Decimal("3.6"),
        "PCT_CHG_FROM_BASELINE": None,
    }
    assert literal_grade(clauses, env) == 1  # > ULN but not > 3 × ULN


def test_scenarios_cover_every_product_of_missing_and_present_limits() -> None:
    combos = {(lln is None, uln is None, base is None) for lln, uln, base, _ in SCENARIOS}
    assert combos >= {
        (False, False, True),
        (True, False, False),
        (False, True, False),
        (True, True, True),
        (False, False, False),
    }
    assert set(product([True], [True], [True])) <= combos
