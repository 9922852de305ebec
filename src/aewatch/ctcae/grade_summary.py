"""What a ``grade-labs`` run found: rows graded, reasons for the rest, and the grade
distribution per test and CTCAE term, counted on codes (a million rows, a few hundred
distinct test × term × grade cells)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from aewatch.ctcae.sdtm_columns import factor_codes

GRADES = np.asarray(["0", "1", "2", "3", "4", "NA"], dtype=object)


@dataclass(frozen=True)
class GradingSummary:
    """What a grading run did, for the CLI table and for logs."""

    rows: int
    graded: int  # rows with a grade in at least one direction
    not_gradable: tuple[tuple[str, int], ...]  # (reason, rows), most frequent first
    distribution: pd.DataFrame = field(compare=False, repr=False)
    out_path: Path | None = None
    rejected: int = 0  # rows not graded because their data are malformed or implausible
    rejects_path: Path | None = None

    @property
    def not_gradable_rows(self) -> int:
        return self.rows - self.graded


def summarise(graded: pd.DataFrame, out_path: Path | None = None) -> GradingSummary:
    """Counts and the per-parameter grade distribution of a graded LB frame (LBTESTCD
    and the TOX* columns)."""
    low = pd.array(graded["TOXGRL"], dtype="Int64")
    high = pd.array(graded["TOXGRH"], dtype="Int64")
    any_grade = ~(pd.isna(low) & pd.isna(high))
    reasons = graded.loc[~np.asarray(any_grade), "TOXNOTE"].fillna("no reason recorded")
    counts = reasons.value_counts()
    not_gradable = tuple((str(k), int(v)) for k, v in counts.items())
    return GradingSummary(
        rows=len(graded),
        graded=int(np.asarray(any_grade).sum()),
        not_gradable=not_gradable,
        distribution=grade_distribution(graded),
        out_path=out_path,
    )


def grade_distribution(graded: pd.DataFrame) -> pd.DataFrame:
    """Rows per LBTESTCD × CTCAE term × grade (0-4 and "NA"), one row per test and term,
    sorted by test and term."""
    test_codes, tests = factor_codes(graded["LBTESTCD"])
    parts = []
    for term_col, grade_col in (("TOXTERML", "TOXGRL"), ("TOXTERMH", "TOXGRH")):
        term_codes, terms = _term_codes(graded[term_col])
        grade = pd.array(graded[grade_col], dtype="Int64")
        grade_codes = np.where(grade.isna(), 5, grade.to_numpy(dtype=np.int64, na_value=0))
        has_term = term_codes >= 0
        width = max(len(terms), 1)
        key = (test_codes[has_term] * width + term_codes[has_term]) * 6 + grade_codes[has_term]
        counts = np.bincount(key, minlength=len(tests) * width * 6)  # a few hundred cells
        cells = np.flatnonzero(counts)
        rows = counts[cells]
        parts.append(
            pd.DataFrame(
                {
                    "LBTESTCD": tests[cells // 6 // width],
                    "term": np.asarray(terms, dtype=object)[cells // 6 % width],
                    "grade": GRADES[cells % 6],
                    "rows": rows,
                }
            )
        )
    long = pd.concat(parts, ignore_index=True)
    if long.empty:
        return pd.DataFrame(columns=["LBTESTCD", "term", "0", "1", "2", "3", "4", "NA", "total"])
    cells = long.groupby(["LBTESTCD", "term", "grade"])["rows"].sum()
    table = cells.unstack("grade", fill_value=0).reindex(columns=list(GRADES), fill_value=0)
    table["total"] = table.sum(axis=1)
    table.columns.name = None
    return table.reset_index()


def _term_codes(terms: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 = no term) and distinct terms; a categorical's own, without a Python
    string per row."""
    if isinstance(terms.dtype, pd.CategoricalDtype):
        codes = terms.cat.codes.to_numpy().astype(np.intp)
        return codes, terms.cat.categories.to_numpy(dtype=object)
    return pd.factorize(terms.to_numpy(dtype=object))
