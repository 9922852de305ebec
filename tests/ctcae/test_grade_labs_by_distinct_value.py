"""grade-labs works on distinct values (categorical text, Arrow blocks): the results are
the ones row-by-row pandas gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aewatch.ctcae import csv_io
from aewatch.ctcae.csv_io import write_csv
from aewatch.ctcae.grade_summary import grade_distribution
from aewatch.ctcae.isodates import parse_iso_dates
from aewatch.ctcae.lab_rejects import joined_reasons, rejected_rows
from aewatch.ctcae.sdtm_columns import categorical_text, factor_codes, numeric_column
from aewatch.ctcae.standalone import grade_lab_frame, grading_view

DATA = Path(__file__).parent / "data"

text_cell = st.one_of(
    st.none(),
    st.sampled_from(["3.5", " 4 ", "1e3", "nan", "-NaN", "inf", "abc", "1,5", "", "2014-01"]),
    st.text(alphabet=st.sampled_from("0123456789.-+eE naNIf"), max_size=6),
)


@settings(derandomize=True, max_examples=80, deadline=None)
@given(st.lists(text_cell, min_size=1, max_size=40))
def test_a_categorical_column_reads_as_the_same_numbers_codes_and_dates(
    cells: list[str | None],
) -> None:
    text = pd.Series(cells, dtype="str")
    coded = categorical_text(text)
    assert isinstance(coded.dtype, pd.CategoricalDtype)
    plain = pd.DataFrame({"X": text.astype(object)})
    np.testing.assert_array_equal(
        numeric_column(pd.DataFrame({"X": coded}), "X"), numeric_column(plain, "X")
    )
    codes, uniques = factor_codes(coded)
    plain_codes, plain_uniques = factor_codes(text)
    assert list(uniques[codes]) == list(plain_uniques[plain_codes])
    dates, plain_dates = parse_iso_dates(coded), parse_iso_dates(text)
    np.testing.assert_array_equal(dates.first, plain_dates.first)
    np.testing.assert_array_equal(dates.last, plain_dates.last)


@settings(derandomize=True, max_examples=80, deadline=None)
@given(st.lists(text_cell, min_size=1, max_size=40))
def test_results_that_are_not_numbers_are_rejected_as_pandas_parses_them_row_by_row(
    cells: list[str | None],
) -> None:
    lb = pd.DataFrame({"LBTESTCD": "ALT", "LBSTRESN": pd.Series(cells, dtype="str")})
    problems = rejected_rows(grading_view(lb))
    written = lb["LBSTRESN"].fillna("").str.strip()
    parsed = pd.to_numeric(lb["LBSTRESN"].astype(object), errors="coerce")
    expected = (written != "") & parsed.isna() & ~written.str.lower().isin(["nan", "+nan", "-nan"])
    not_numbers = problems.loc[problems["reason"].str.endswith("is not a number"), "index"]
    assert list(not_numbers) == list(lb.index[expected])


def test_the_reasons_of_a_row_are_joined_in_the_order_they_were_found() -> None:
    problems = pd.DataFrame({"index": [7, 3, 7, 3, 9], "reason": ["a", "b", "c", "d", "e"]})
    joined = joined_reasons(problems)
    assert joined.to_dict() == {7: "a; c", 3: "b; d", 9: "e"}
    reference = problems.groupby("index", sort=False)["reason"].agg("; ".join)
    assert joined.to_dict() == reference.to_dict()


def test_the_grade_distribution_counts_what_a_crosstab_counts() -> None:
    lb = pd.read_csv(DATA / "pilot_lb_extract.csv", dtype=str, keep_default_na=False)
    graded = grade_lab_frame(lb.replace("", None))
    parts = []
    for term, grade in (("TOXTERML", "TOXGRL"), ("TOXTERMH", "TOXGRH")):
        part = graded.loc[graded[term].notna()]
        parts.append(
            pd.DataFrame(
                {
                    "LBTESTCD": part["LBTESTCD"].to_numpy(),
                    "term": part[term].to_numpy(),
                    "grade": pd.array(part[grade], dtype="Int64").astype("string").fillna("NA"),
                }
            )
        )
    long = pd.concat(parts, ignore_index=True)
    crosstab = pd.crosstab([long["LBTESTCD"], long["term"]], long["grade"])
    ours = grade_distribution(graded).set_index(["LBTESTCD", "term"])
    assert len(ours) == len(crosstab) > 5
    for grade in crosstab.columns:
        assert list(ours[grade]) == list(crosstab[grade])
    assert list(ours["total"]) == list(crosstab.sum(axis=1))


@pytest.mark.parametrize("quoted_block", [0, 1, 2, None])
def test_blocks_with_and_without_quoted_cells_are_written_as_pandas_writes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quoted_block: int | None
) -> None:
    monkeypatch.setattr(csv_io, "BLOCK_ROWS", 4)
    rows = 11
    text = pd.Series([f"v{i}" if i % 3 else None for i in range(rows)], dtype="str")
    note = np.asarray([None if i % 2 else f"note {i}" for i in range(rows)], dtype=object)
    if quoted_block is not None:
        note[quoted_block * 4] = 'said "high", twice\nsecond line'
    grades = pd.array([i % 5 if i % 4 else None for i in range(rows)], dtype="Int64")
    frame = pd.DataFrame(
        {"USUBJID": text, "TOXGRL": grades, "TOXNOTE": pd.Series(note, dtype=object)}
    )
    write_csv(frame, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == frame.to_csv(index=False).encode()


def test_the_pilot_extract_read_through_arrow_grades_like_plain_pandas_text() -> None:
    arrow = csv_io.read_text_csv(DATA / "pilot_lb_extract.csv")
    plain = arrow.astype(object).where(arrow.notna(), None)
    ours, theirs = grade_lab_frame(arrow), grade_lab_frame(plain)
    for column in ("TOXTERML", "TOXGRL", "TOXTERMH", "TOXGRH", "TOXNOTE"):
        assert ours[column].astype(object).fillna("-").tolist() == (
            theirs[column].astype(object).fillna("-").tolist()
        )


def _signif_one(x: float, digits: int = 15) -> float:
    """R's signif for one number, written out: scale by an exact power of ten."""
    if not np.isfinite(x) or x == 0:
        return x
    exponent = digits - 1 - int(np.floor(np.log10(abs(x))))
    with np.errstate(over="ignore", invalid="ignore"):  # subnormals: 10**330 is inf
        if exponent >= 0:
            scale = np.power(10.0, exponent)
            return float(np.round(x * scale) / scale)
        scale = np.power(10.0, -exponent)
        return float(np.round(x / scale) * scale)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([0.0, -0.0, 3 * 1.2, 3.6, 1e15, 9.99999999999999e14, 5e-324]),
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=1, max_value=60),
)
def test_signif_of_an_array_is_signif_of_each_number(values: list[float], repeat: int) -> None:
    from aewatch.ctcae.numeric import signif

    x = np.asarray(values * repeat, dtype=np.float64)
    one_by_one = np.asarray([_signif_one(v) for v in x], dtype=np.float64)
    assert np.array_equal(signif(x), one_by_one, equal_nan=True)
    assert np.array_equal(np.signbit(signif(x)), np.signbit(one_by_one))
