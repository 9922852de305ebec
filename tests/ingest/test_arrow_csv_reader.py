"""The Arrow CSV path reads every file it accepts exactly as Python's csv module does.

``aewatch.ingest.readers`` reads a regular CSV with Arrow (fast) and anything else with
``csv``; a site's file must give the same table of text, row numbers and problems
whichever path it took.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aewatch.ingest import readers
from aewatch.ingest.arrow_csv import read_regular_csv


def _python_path(path: Path) -> list:
    """The file read with the csv module only (the Arrow path refused)."""
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(readers, "read_regular_csv", lambda text, delimiter: None)
        return readers.read_tables(path)


def _same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert list(x.frame.columns) == list(y.frame.columns)
        pd.testing.assert_frame_equal(x.frame, y.frame, check_dtype=True)
        assert x.row_numbers.tolist() == y.row_numbers.tolist()
        assert x.problems == y.problems


CELL = st.text(alphabet=st.sampled_from([*'ab1 ,;"\t\r\n\x1c\xa0é-', "\u3000"]), max_size=6)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=6),
    raw=st.lists(st.text(alphabet=st.sampled_from(list('ab,"\n \r')), max_size=12), max_size=3),
)
def test_any_text_reads_alike_on_both_paths(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[list[str]],
    raw: list[str],
) -> None:
    """Quoted and unquoted cells, delimiters, quotes and line breaks inside cells, blank
    and ragged rows, odd whitespace: both readers give the same table, or both refuse."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["USUBJID", "AETERM", "AETOXGR"])
    for row in rows:
        writer.writerow(row)
    text = buffer.getvalue() + "".join(raw)
    path = tmp_path_factory.mktemp("csv") / "ae.csv"
    path.write_text(text, encoding="utf-8", newline="")
    outcomes = []
    for reader in (lambda: readers.read_tables(path), lambda: _python_path(path)):
        try:
            outcomes.append(("ok", reader()))
        except readers.UnreadableFile as error:
            outcomes.append(("error", str(error)))
    assert outcomes[0][0] == outcomes[1][0]
    if outcomes[0][0] == "ok":
        _same(outcomes[0][1], outcomes[1][1])
    else:
        assert outcomes[0][1] == outcomes[1][1]


REGULAR_CELL = st.text(alphabet=st.sampled_from(list('ab1 ,;"\t\r\né-')), max_size=6)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(REGULAR_CELL, min_size=3, max_size=3), max_size=6))
def test_regular_exports_read_alike_on_both_paths(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]]
) -> None:
    """Files that split cleanly (most take the Arrow path): the same table as csv's."""
    test_any_text_reads_alike_on_both_paths.hypothesis.inner_test(  # type: ignore[attr-defined]
        tmp_path_factory, rows, []
    )


def test_a_large_regular_export_takes_the_arrow_path(tmp_path: Path) -> None:
    """The fast path is really taken for a plain export (else the test above proves
    nothing about it): trimmed cells, blank rows dropped, numbers from 1."""
    text = 'USUBJID,AETERM\n 01-001 , Nausea \n,\n"01-002","Rash, macular"\n'
    found = read_regular_csv(text, ",")
    assert found is not None
    header, frame = found
    assert header == ["USUBJID", "AETERM"]
    assert frame.to_numpy().tolist() == [["01-001", "Nausea"], ["01-002", "Rash, macular"]]


def test_ragged_rows_fall_back_to_the_reader_that_reports_them(tmp_path: Path) -> None:
    path = tmp_path / "ae.csv"
    path.write_text("USUBJID,AETERM\n01-001,Nausea\n01-002,Rash,extra\n", encoding="utf-8")
    assert read_regular_csv(path.read_text(), ",") is None
    (table,) = readers.read_tables(path)
    assert table.frame["USUBJID"].tolist() == ["01-001"]
    assert table.problems == ((2, table.problems[0][1]),)
    assert "3 fields but the header has 2" in table.problems[0][1]
