"""CTCAE v5.0 lab toxicity grades, vectorised over SDTM LB rows (and the lab test map).

``derive_baseline`` (from ``baseline.py``) picks each subject's baseline per test;
``grade_labs`` grades every row in both directions (low: e.g. Anemia, high: e.g.
Hemoglobin increased) with the rule sets of ``rules.py``. Work that depends only on a test
code, a unit or a rule set is done once per distinct value and broadcast with numpy, so a
million rows grade in well under a second; nothing loops over records.

Readings (see docs/grading.md): "baseline abnormal" for the ALT/AST/ALP/bilirubin/GGT rules
means the baseline value is above its own ULN (indicator HIGH); a record whose unit
matches a rule set (SI or conventional) is graded with that rule set as written, and only
otherwise converted with ``data/unit_conversions.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from aewatch.ctcae import lab_notes as notes
from aewatch.ctcae._data import read_rows
from aewatch.ctcae.baseline import BASELINE_COLUMNS, derive_baseline, reference_indicator
from aewatch.ctcae.rules import NOT_GRADABLE, RuleInputs, RuleSet, evaluate, rule_sets_for
from aewatch.ctcae.sdtm_columns import factor_codes, normalise_testcd, numeric_column, testcd_codes
from aewatch.ctcae.units import UnitConversion, conversion, normalise_unit, same_unit

__all__ = [
    "BASELINE_COLUMNS",
    "LAB_TEST_MAP",
    "LabGradeCodes",
    "LabTest",
    "derive_baseline",
    "grade_lab_codes",
    "grade_labs",
    "load_lab_test_map",
    "reference_indicator",
]

# --------------------------------------------------------------------------- test map


@dataclass(frozen=True)
class LabTest:
    """Which CTCAE terms grade a lab test code, low and high."""

    testcd: str
    analyte: str  # key into unit_conversions.csv, shared by synonyms (PLT → PLAT)
    term_low: str | None
    term_high: str | None
    note: str = ""


def load_lab_test_map(extra: str | Path | None = None) -> Mapping[str, LabTest]:
    """The shipped ``data/lab_test_map.csv``, with rows of ``extra`` (same columns) on top.

    A site's own codes (e.g. ``ALAT``) go in a small CSV passed as ``extra``; its rows
    replace shipped rows with the same LBTESTCD.
    """
    rows = read_rows("lab_test_map.csv") + (read_rows(Path(extra)) if extra else [])
    table: dict[str, LabTest] = {}
    for row in rows:
        code = normalise_testcd(row["lbtestcd"])
        table[code] = LabTest(
            testcd=code,
            analyte=(row.get("analyte") or code).upper(),
            term_low=row.get("term_low") or None,
            term_high=row.get("term_high") or None,
            note=row.get("note", ""),
        )
    return MappingProxyType(table)


LAB_TEST_MAP: Mapping[str, LabTest] = load_lab_test_map()

# --------------------------------------------------------------------------- grading


@dataclass(frozen=True)
class _Resolution:
    """How one (term, record unit) pair is graded."""

    rule_set: RuleSet | None
    convert: UnitConversion | None  # record unit → rule unit
    target_unit: str | None  # unit the comparison runs in (None: record's own)
    problem_bit: int = 0
    expects: str | None = None


@cache
def _resolve(
    analyte: str, term: str, direction: str, unit: str | None, unit_system: str, convert: bool
) -> _Resolution:
    sets = rule_sets_for(term, direction)
    if not sets:
        return _Resolution(None, None, None, notes.UNIT_INCONVERTIBLE, None)
    preferred = [rs for rs in sets if rs.unit_system == unit_system]
    ordered = preferred + [rs for rs in sets if rs.unit_system != unit_system]
    if ordered[0].unit is None:  # ULN/LLN/baseline multiples only: unit never checked
        return _Resolution(ordered[0], None, unit)
    expects = ordered[0].unit
    if unit is None:
        return _Resolution(None, None, None, notes.UNIT_MISSING, expects)
    for rs in ordered:
        if same_unit(rs.unit, unit):
            return _Resolution(rs, None, rs.unit)
    if convert:
        for rs in ordered:
            found = conversion(analyte, unit, rs.unit)
            if found is not None:
                return _Resolution(rs, found, rs.unit)
    return _Resolution(None, None, None, notes.UNIT_INCONVERTIBLE, expects)


def _scale(values: npt.NDArray[np.float64], conv: UnitConversion | None) -> npt.NDArray[np.float64]:
    if conv is None or conv.is_identity:
        return values
    return values * conv.multiply / conv.divide


@dataclass(frozen=True)
class _Baseline:
    value: npt.NDArray[np.float64]
    unit_codes: npt.NDArray[np.intp]
    units: npt.NDArray[np.object_]  # normalised; last slot None
    high: npt.NDArray[np.bool_]
    indicator_known: npt.NDArray[np.bool_]


def _align_baseline(
    lb: pd.DataFrame,
    baseline: pd.DataFrame | None,
    test_codes: npt.NDArray[np.intp],
    tests: npt.NDArray[np.object_],
) -> _Baseline:
    """Baseline value, unit and HIGH flag per LB row (from a derive_baseline table or lb)."""
    n = len(lb)
    source = baseline
    if source is None and "BASE" in lb.columns:
        source = lb
    if source is None:
        none = np.full(n, np.nan)
        return _Baseline(
            none,
            np.zeros(n, np.intp),
            np.array([None], object),
            np.zeros(n, bool),
            np.zeros(n, bool),
        )
    if source is not lb and {"USUBJID", "LBTESTCD"} <= set(source.columns):
        picked = _baseline_rows(lb, source, test_codes, tests)
    elif source is lb:
        picked = np.arange(n)
    else:
        picked = source.index.get_indexer(lb.index)
    valid = picked >= 0
    safe = np.where(valid, picked, 0)
    if len(source) == 0:
        valid = np.zeros(n, bool)
        safe = np.zeros(n, np.intp)
        source = pd.DataFrame({"BASE": [np.nan]})
    value = np.where(valid, numeric_column(source, "BASE")[safe], np.nan)
    if "BASEU" in source.columns:
        src_codes, raw_units = factor_codes(source["BASEU"])
        units = np.asarray([normalise_unit(u) for u in raw_units], dtype=object)
        unit_codes = np.where(valid, src_codes[safe], len(units) - 1)
    else:
        unit_codes, units = np.zeros(n, np.intp), np.array([None], object)
    if "BNRIND" in source.columns:  # judged once per baseline record, then spread
        indicator = source["BNRIND"].astype(object).to_numpy()
        high = valid & (indicator == "HIGH")[safe]
        known = valid & pd.notna(indicator)[safe]
    else:
        high = np.zeros(n, bool)
        known = np.zeros(n, bool)
    return _Baseline(value, unit_codes, units, high, known)


def _baseline_rows(
    lb: pd.DataFrame,
    table: pd.DataFrame,
    test_codes: npt.NDArray[np.intp],
    tests: npt.NDArray[np.object_],
) -> npt.NDArray[np.intp]:
    """Position in ``table`` of each LB row's (USUBJID, LBTESTCD) baseline; -1 if none."""
    subj_codes, subjects = factor_codes(lb["USUBJID"])
    n_tests = len(tests)
    b_subj = pd.Index(subjects[:-1]).get_indexer(table["USUBJID"].astype(object))
    t_codes, t_uniques = factor_codes(table["LBTESTCD"])
    t_norm = np.asarray([normalise_testcd(t) for t in t_uniques], dtype=object)
    b_test = pd.Index(tests).get_indexer(t_norm)[t_codes]
    ok = (b_subj >= 0) & (b_test >= 0)
    keys = (b_subj.astype(np.int64) * n_tests + b_test)[ok]
    positions = np.flatnonzero(ok)
    rows_key = subj_codes.astype(np.int64) * n_tests + test_codes
    if len(keys) == 0:
        return np.full(len(lb), -1, dtype=np.intp)
    size = len(subjects) * n_tests
    if size <= 50_000_000:  # dense lookup: one array index per row
        lookup = np.full(size, -1, dtype=np.intp)
        lookup[keys] = positions  # duplicates: the last row wins
        return lookup[rows_key]
    order = np.argsort(keys, kind="stable")
    keys, positions = keys[order], positions[order]
    last = np.append(keys[1:] != keys[:-1], True)
    keys, positions = keys[last], positions[last]
    where = np.minimum(np.searchsorted(keys, rows_key), len(keys) - 1)
    return np.where(keys[where] == rows_key, positions[where], -1)


class _Groups(NamedTuple):
    """Rows grouped by (test, unit), the same for both directions: each row's group,
    each group's key (test code × number of units + unit code), and the rows in group
    order (``order[bounds[k]:bounds[k + 1]]`` are group k's)."""

    combo: npt.NDArray[np.intp]
    keys: npt.NDArray[np.int64]
    order: npt.NDArray[np.intp]
    bounds: npt.NDArray[np.intp]


def _groups(
    test_codes: npt.NDArray[np.intp], unit_codes: npt.NDArray[np.intp], n_units: int
) -> _Groups:
    combo, keys = pd.factorize(test_codes.astype(np.int64) * n_units + unit_codes)
    # One evaluation per (term, unit), numpy inside.
    sort_key = combo.astype(np.int16) if len(keys) < 32_000 else combo
    order = np.argsort(sort_key, kind="stable")  # radix sort on small ints
    bounds = np.searchsorted(combo[order], np.arange(len(keys) + 1))
    return _Groups(combo, keys, order, bounds)


@dataclass(frozen=True)
class _Direction:
    """Grades and note bits of one direction for all rows."""

    grade: npt.NDArray[np.int8]
    bits: npt.NDArray[np.int32]
    combo: npt.NDArray[np.intp]  # per row: index into resolutions
    resolutions: list[_Resolution | None]
    terms: list[str | None]


def _grade_direction(
    direction: str,
    lab_tests: list[LabTest | None],
    test_codes: npt.NDArray[np.intp],
    unit_codes: npt.NDArray[np.intp],
    units: npt.NDArray[np.object_],
    value: npt.NDArray[np.float64],
    lln: npt.NDArray[np.float64],
    uln: npt.NDArray[np.float64],
    base: _Baseline,
    unit_system: str,
    convert_units: bool,
    groups: _Groups,
) -> _Direction:
    n = len(value)
    grade = np.full(n, NOT_GRADABLE, dtype=np.int8)
    bits = np.zeros(n, dtype=np.int32)
    n_units = len(units)
    combo, combo_uniques, order, bounds = groups
    resolutions: list[_Resolution | None] = []
    terms: list[str | None] = []
    for key in combo_uniques:
        lab_test = lab_tests[int(key) // n_units]
        unit = units[int(key) % n_units]
        term = (
            None
            if lab_test is None
            else (lab_test.term_low if direction == "L" else lab_test.term_high)
        )
        terms.append(term)
        if lab_test is None or term is None:
            resolutions.append(None)
            continue
        resolutions.append(
            _resolve(lab_test.analyte, term, direction, unit, unit_system, convert_units)
        )
    for index, resolution in enumerate(resolutions):
        rows = order[bounds[index] : bounds[index + 1]]
        if resolution is None or len(rows) == 0:
            continue
        if resolution.rule_set is None:
            bits[rows] |= resolution.problem_bit
            continue
        lab_test = lab_tests[int(combo_uniques[index]) // n_units]
        assert lab_test is not None
        conv = resolution.convert
        b_value, b_high, b_known, b_bits = _baseline_in_unit(
            base,
            rows,
            lab_test.analyte,
            units[int(combo_uniques[index]) % n_units],
            resolution.target_unit,
            conv,
            convert_units,
        )
        v = _scale(value[rows], conv)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = (v - b_value) / np.abs(b_value) * 100.0
        inputs = RuleInputs(
            value=v,
            lln=_scale(lln[rows], conv),
            uln=_scale(uln[rows], conv),
            baseline=b_value,
            baseline_high=b_high,
            pct_change=pct,
        )
        rs = resolution.rule_set
        g, decided = evaluate(rs, inputs)
        grade[rows] = g
        row_bits = b_bits.copy()
        for clause_index, clause in enumerate(rs.clauses):
            if clause.grade is None and clause.missing:
                row_bits[decided == clause_index] |= notes.MISSING_BITS[clause.missing]
        graded = g != NOT_GRADABLE
        no_base = np.isnan(b_value)
        if rs.uses_baseline_indicator:
            row_bits[graded & no_base] |= notes.NO_BASELINE_ULN_RULES
            row_bits[graded & ~no_base & ~b_known] |= notes.BASELINE_RANGE_UNKNOWN
        elif rs.uses_baseline or rs.uses_pct_change:
            row_bits[graded & no_base] |= notes.NO_BASELINE_PARTIAL
        if conv is not None and not conv.is_identity:
            row_bits[~np.isnan(v)] |= notes.CONVERTED
        bits[rows] |= row_bits
    return _Direction(grade, bits, combo, resolutions, terms)


def _baseline_in_unit(
    base: _Baseline,
    rows: npt.NDArray[np.intp],
    analyte: str,
    record_unit: str | None,
    target_unit: str | None,
    record_conv: UnitConversion | None,
    convert_units: bool,
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.int32]
]:
    """Baseline values of ``rows`` in the comparison unit; unconvertible ones dropped."""
    b_value = base.value[rows]  # a copy: rows are positions
    b_bits = np.zeros(len(rows), dtype=np.int32)
    codes = base.unit_codes[rows]
    for code in np.flatnonzero(np.bincount(codes)):  # the units present (small codes)
        b_unit = base.units[code]
        here = codes == code
        if b_unit is None or record_unit is None or same_unit(b_unit, record_unit):
            conv = record_conv  # same unit as the record: convert like the record
        else:
            conv = conversion(analyte, b_unit, target_unit or record_unit)
            if conv is not None and not conv.is_identity and not convert_units:
                conv = None
            if conv is None:
                b_value[here] = np.nan
                b_bits[here & ~np.isnan(base.value[rows])] |= notes.BASELINE_UNIT
                continue
        if conv is not None and not conv.is_identity:
            b_value[here] = _scale(b_value[here], conv)
    high = base.high[rows] & ~np.isnan(b_value)
    known = base.indicator_known[rows] & ~np.isnan(b_value)
    return b_value, high, known, b_bits


@dataclass(frozen=True)
class LabGradeCodes:
    """``grade_labs``' result before it becomes a frame: per row, a code into a small
    table of texts (terms, notes; None = no text) and an int8 grade (-1 = not gradable),
    so a caller writing a million rows turns each distinct text into output once."""

    term_low: npt.NDArray[np.intp]
    terms_low: npt.NDArray[np.object_]
    grade_low: npt.NDArray[np.int8]
    term_high: npt.NDArray[np.intp]
    terms_high: npt.NDArray[np.object_]
    grade_high: npt.NDArray[np.int8]
    note: npt.NDArray[np.intp]
    notes: npt.NDArray[np.object_]


def grade_labs(
    lb: pd.DataFrame,
    baseline: pd.DataFrame | None = None,
    unit_system: str = "SI",
    *,
    test_map: Mapping[str, LabTest] | None = None,
    convert_units: bool = True,
) -> pd.DataFrame:
    """CTCAE v5.0 grades of SDTM LB rows, index-aligned with ``lb``.

    Input: USUBJID, LBTESTCD, LBSTRESN, LBSTRESU, LBSTNRLO, LBSTNRHI; a baseline either as
    ``derive_baseline``'s table (joined on USUBJID + LBTESTCD) or as BASE/BASEU/BNRIND
    columns of ``lb``. ``unit_system`` ("SI" or "CONV") picks the rule table tried first
    and the unit converted to; ``convert_units=False`` grades only records whose unit
    matches a rule set exactly (admiral's behaviour).

    Output: ``tox_term_low``, ``tox_grade_low``, ``tox_term_high``, ``tox_grade_high``
    (Int64 0–4, <NA> = not gradable), ``tox_term``/``tox_grade`` (the worse direction; the
    low one on a tie) and ``tox_note`` (why not gradable, or what was assumed).
    """
    if len(lb) == 0:
        if unit_system not in ("SI", "CONV"):
            raise ValueError(f"unit_system must be 'SI' or 'CONV', not {unit_system!r}")
        return _empty_result(lb.index)
    codes = grade_lab_codes(
        lb, baseline, unit_system, test_map=test_map, convert_units=convert_units
    )
    term_low = codes.terms_low[codes.term_low]
    term_high = codes.terms_high[codes.term_high]
    no_term_low = np.asarray([t is None for t in codes.terms_low], dtype=bool)[codes.term_low]
    pick_high = (codes.grade_high > codes.grade_low) | no_term_low
    worst = np.maximum(codes.grade_high, codes.grade_low)
    term_worst = np.where(pick_high, term_high, term_low)
    return pd.DataFrame(
        {
            "tox_term_low": _text_column(term_low),
            "tox_grade_low": _int64(codes.grade_low),
            "tox_term_high": _text_column(term_high),
            "tox_grade_high": _int64(codes.grade_high),
            "tox_term": _text_column(term_worst),
            "tox_grade": _int64(worst),
            "tox_note": _text_column(codes.notes[codes.note]),
        },
        index=lb.index,
        copy=False,  # fresh arrays: stacking them into one block would copy a million rows
    )


def grade_lab_codes(
    lb: pd.DataFrame,
    baseline: pd.DataFrame | None = None,
    unit_system: str = "SI",
    *,
    test_map: Mapping[str, LabTest] | None = None,
    convert_units: bool = True,
) -> LabGradeCodes:
    """What ``grade_labs`` grades (same arguments, at least one row), as codes."""
    if unit_system not in ("SI", "CONV"):
        raise ValueError(f"unit_system must be 'SI' or 'CONV', not {unit_system!r}")
    table = LAB_TEST_MAP if test_map is None else test_map
    n = len(lb)
    test_codes, tests = testcd_codes(lb)
    lab_tests: list[LabTest | None] = [table.get(t) for t in tests]
    unit_raw_codes, raw_units = (
        factor_codes(lb["LBSTRESU"])
        if "LBSTRESU" in lb.columns
        else (np.zeros(n, np.intp), np.array([None], object))
    )
    normalised_units = np.asarray([normalise_unit(u) for u in raw_units], dtype=object)
    unit_codes_norm, units = pd.factorize(normalised_units, use_na_sentinel=False)
    unit_codes = unit_codes_norm[unit_raw_codes]
    units = np.asarray([u if isinstance(u, str) else None for u in units], dtype=object)
    value = numeric_column(lb, "LBSTRESN")
    lln = numeric_column(lb, "LBSTNRLO")
    uln = numeric_column(lb, "LBSTNRHI")
    base = _align_baseline(lb, baseline, test_codes, tests)
    groups = _groups(test_codes, unit_codes, len(units))

    low = _grade_direction(
        "L",
        lab_tests,
        test_codes,
        unit_codes,
        units,
        value,
        lln,
        uln,
        base,
        unit_system,
        convert_units,
        groups,
    )
    high = _grade_direction(
        "H",
        lab_tests,
        test_codes,
        unit_codes,
        units,
        value,
        lln,
        uln,
        base,
        unit_system,
        convert_units,
        groups,
    )
    note, notes_texts = _notes(low, high, test_codes, tests, lab_tests, unit_codes, units, base)
    return LabGradeCodes(
        term_low=low.combo,
        terms_low=np.asarray(low.terms, dtype=object),
        grade_low=low.grade,
        term_high=high.combo,
        terms_high=np.asarray(high.terms, dtype=object),
        grade_high=high.grade,
        note=note,
        notes=notes_texts,
    )


def _text_column(values: npt.NDArray[np.object_]) -> pd.Series:
    """Text as object dtype with None for missing: skips pandas' string inference, which
    costs more than the grading itself on a million rows."""
    return pd.Series(values, dtype=object, copy=False)


def _int64(grades: npt.NDArray[np.int8]) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(grades.astype(np.int64), grades == NOT_GRADABLE)


def _empty_result(index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tox_term_low": pd.Series(dtype=object),
            "tox_grade_low": pd.Series(dtype="Int64"),
            "tox_term_high": pd.Series(dtype=object),
            "tox_grade_high": pd.Series(dtype="Int64"),
            "tox_term": pd.Series(dtype=object),
            "tox_grade": pd.Series(dtype="Int64"),
            "tox_note": pd.Series(dtype=object),
        },
        index=index,
    )


def _notes(
    low: _Direction,
    high: _Direction,
    test_codes: npt.NDArray[np.intp],
    tests: npt.NDArray[np.object_],
    lab_tests: list[LabTest | None],
    unit_codes: npt.NDArray[np.intp],
    units: npt.NDArray[np.object_],
    base: _Baseline,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]:
    """One note per row, written once per distinct (test, unit, bits, baseline unit): each
    row's code into the notes, whose last one is None (no note)."""
    has_note = (low.bits != 0) | (high.bits != 0)
    no_terms = np.asarray(
        [lt is None or (lt.term_low is None and lt.term_high is None) for lt in lab_tests],
        dtype=bool,
    )[test_codes]
    interesting = has_note | no_terms
    rows = np.flatnonzero(interesting)
    if len(rows) == 0:
        return np.zeros(len(test_codes), dtype=np.intp), np.array([None], dtype=object)
    parts_of_key = [
        (low.combo[rows], len(low.resolutions)),
        (high.combo[rows], len(high.resolutions)),
        (low.bits[rows], 4096),
        (high.bits[rows], 4096),
        (base.unit_codes[rows], len(base.units)),
    ]
    if np.prod([float(max(size, 1)) for _, size in parts_of_key]) < 2.0**62:
        key = np.zeros(len(rows), dtype=np.int64)
        for part, size in parts_of_key:
            key = key * max(size, 1) + part.astype(np.int64)
        inverse, _ = pd.factorize(key)
    else:  # too many combinations to pack in one int64 (never seen in practice)
        stacked = np.stack([part.astype(np.int64) for part, _ in parts_of_key], axis=1)
        inverse = np.unique(stacked, axis=0, return_inverse=True)[1].ravel()
    n_keys = int(inverse.max()) + 1
    uniq = np.zeros((n_keys, 5), dtype=np.int64)
    for column, (part, _size) in enumerate(parts_of_key):
        uniq[inverse, column] = part
    texts: list[str | None] = []
    first_row = np.zeros(len(uniq), dtype=np.intp)
    first_row[inverse[::-1]] = rows[::-1]
    for k, (lo_combo, hi_combo, lo_bits, hi_bits, b_unit) in enumerate(uniq):
        r = first_row[k]
        test = tests[test_codes[r]]
        lab_test = lab_tests[test_codes[r]]
        if lab_test is None or (lab_test.term_low is None and lab_test.term_high is None):
            texts.append(notes.unmapped_note(test))
            continue
        unit = units[unit_codes[r]]
        base_unit = base.units[b_unit] if b_unit < len(base.units) else None
        parts: list[str] = []
        for bits, combo, direction in ((lo_bits, lo_combo, low), (hi_bits, hi_combo, high)):
            resolution = direction.resolutions[combo]
            parts += notes.direction_notes(
                int(bits),
                test,
                direction.terms[combo],
                unit,
                base_unit,
                resolution.expects if resolution else None,
                resolution.convert if resolution else None,
            )
        unique_parts = list(dict.fromkeys(parts))
        texts.append("; ".join(unique_parts) if unique_parts else None)
    out = np.full(len(test_codes), len(texts), dtype=np.intp)
    out[rows] = inverse.ravel()
    return out, np.asarray([*texts, None], dtype=object)
