"""grade-labs reads and writes CSV through Arrow, and the bytes are pandas' bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from aewatch.ctcae.csv_io import read_text_csv, write_csv
from aewatch.ctcae.standalone import grade_lab_file, grade_lab_frame, read_sdtm

DATA = Path(__file__).parent / "data"


def _pandas_read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")


def test_the_pilot_extract_graded_through_arrow_is_byte_identical_to_pandas(
    tmp_path: Path,
) -> None:
    lb, dm = DATA / "pilot_lb_extract.csv", DATA / "pilot_dm_extract.csv"
    out = tmp_path / "graded.csv"
    grade_lab_file(lb, dm, out_path=out)
    reference = grade_lab_frame(_pandas_read(lb), _pandas_read(dm))
    reference.columns = [str(c).strip().upper() for c in reference.columns]
    assert out.read_bytes() == reference.to_csv(index=False).encode()
    assert out.read_bytes().count(b"\n") == len(reference) + 1


def test_awkward_cells_are_read_as_written(tmp_path: Path) -> None:
    source = tmp_path / "lb.csv"
    source.write_bytes(
        "\ufeffUSUBJID,LBTESTCD,LBORRES,LBSTRESN,COMMENT\n"
        '01-001,NA,"3,8",003.80,"said ""high"""\n'
        '01-002,SODIUM,,"",""\n'
        '01-003,K, 4.1 ,4.10,"two\nlines"\n'.encode()
    )
    ours, theirs = read_text_csv(source), _pandas_read(source)
    assert ours.equals(theirs)
    assert list(ours["LBTESTCD"]) == ["NA", "SODIUM", "K"]  # sodium's code is not missing
    assert list(ours["LBSTRESN"].fillna("-")) == ["003.80", "-", "4.10"]
    assert read_sdtm(source).columns[0] == "USUBJID"  # the BOM is not in the name


cell = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from('ab,"\n\r 1.-é'), max_size=6).filter(lambda s: s != ""),
)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.lists(st.tuples(cell, cell, st.one_of(st.none(), st.integers(0, 4))), min_size=1))
def test_the_arrow_writer_writes_exactly_what_pandas_writes(
    rows: list[tuple[str | None, str | None, int | None]],
) -> None:
    frame = pd.DataFrame(rows, columns=["A", "B,C", "TOXGRL"])
    frame["TOXGRL"] = pd.array(frame["TOXGRL"], dtype="Int64")
    frame["A"] = frame["A"].astype("str")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.csv"
        write_csv(frame, path)
        assert path.read_bytes() == frame.to_csv(index=False).encode()


def test_floats_from_sas_transport_are_printed_as_pandas_prints_them(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"LBSTRESN": [38.0, 1e-05, float("nan"), 4.125], "X": ["a", None, "b", "c"]}
    )
    write_csv(frame, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == frame.to_csv(index=False).encode()


def test_a_file_read_ahead_is_read_once_and_a_changed_one_is_read_again(tmp_path: Path) -> None:
    from aewatch.ctcae.csv_io import read_ahead

    source = tmp_path / "lb.csv"
    source.write_text("USUBJID,LBSTRESN\n01-001,3.8\n")
    read_ahead([source])
    assert read_text_csv(source)["LBSTRESN"].tolist() == ["3.8"]
    read_ahead([source])
    source.write_text("USUBJID,LBSTRESN\n01-001,3.8\n01-002,12.5\n")  # re-exported meanwhile
    assert read_text_csv(source)["LBSTRESN"].tolist() == ["3.8", "12.5"]


def test_a_ragged_file_read_ahead_still_lists_its_unsplit_rows(tmp_path: Path) -> None:
    from aewatch.ctcae.csv_io import read_ahead

    source = tmp_path / "lb.csv"
    source.write_text("USUBJID,LBTESTCD,LBSTRESN\n01-001,ALT,30\n01-002,ALT,30,extra\n")
    read_ahead([source])
    frame = read_sdtm(source)
    assert frame["USUBJID"].tolist() == ["01-001"]
    assert [row for row, _ in frame.attrs["rejects"]] == [2]
