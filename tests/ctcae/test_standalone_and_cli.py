"""Grading an LB file end to end, and the two CLI commands, on a small CDISC pilot extract."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import typer
from typer.testing import CliRunner

from aewatch.commands.grading import register
from aewatch.ctcae.standalone import OUTPUT_COLUMNS, grade_lab_file, read_sdtm


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer()
    register(application)
    return application


def test_graded_csv_repeats_every_input_row_and_adds_the_tox_columns(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "lb_graded.csv"
    summary = grade_lab_file(
        data_dir / "pilot_lb_extract.csv", data_dir / "pilot_dm_extract.csv", out_path=out
    )
    original = pd.read_csv(data_dir / "pilot_lb_extract.csv", dtype=str, keep_default_na=False)
    graded = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(graded.columns) == list(original.columns) + OUTPUT_COLUMNS
    pd.testing.assert_frame_equal(graded[original.columns], original)
    assert summary.rows == len(original) == 704
    assert set(graded["TOXGRL"]) <= {"", "0", "1", "2", "3", "4"}
    assert set(graded["TOXGRH"]) <= {"", "0", "1", "2", "3", "4"}


def test_every_row_is_graded_or_has_a_reason(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "lb.csv"
    summary = grade_lab_file(
        data_dir / "pilot_lb_extract.csv", data_dir / "pilot_dm_extract.csv", out_path=out
    )
    graded = pd.read_csv(out, dtype=str, keep_default_na=False)
    ungraded = graded[(graded["TOXGRL"] == "") & (graded["TOXGRH"] == "")]
    assert (ungraded["TOXNOTE"] != "").all()
    assert summary.graded + sum(n for _, n in summary.not_gradable) == summary.rows
    assert summary.not_gradable_rows == len(ungraded)


def test_summary_distribution_counts_rows_per_test_term_and_grade(
    data_dir: Path, tmp_path: Path
) -> None:
    summary = grade_lab_file(
        data_dir / "pilot_lb_extract.csv",
        data_dir / "pilot_dm_extract.csv",
        out_path=tmp_path / "x.csv",
    )
    dist = summary.distribution.set_index(["LBTESTCD", "term"])
    assert list(summary.distribution.columns) == [
        "LBTESTCD",
        "term",
        "0",
        "1",
        "2",
        "3",
        "4",
        "NA",
        "total",
    ]
    hgb = dist.loc[("HGB", "Anemia")]
    assert hgb["total"] == hgb[["0", "1", "2", "3", "4", "NA"]].sum()
    assert ("GLUC", "Hyperglycemia") not in dist.index


@pytest.mark.parametrize("suffix", [".xlsx", ".xpt"])
def test_output_format_follows_the_extension(data_dir: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"lb{suffix}"
    grade_lab_file(data_dir / "pilot_lb_extract.csv", out_path=out)
    back = pd.read_excel(out) if suffix == ".xlsx" else pyreadstat.read_xport(str(out))[0]
    assert len(back) == 704
    assert set(OUTPUT_COLUMNS) <= set(back.columns)


def test_without_dm_the_lbblfl_records_give_the_baseline(data_dir: Path, tmp_path: Path) -> None:
    with_dm = grade_lab_file(
        data_dir / "pilot_lb_extract.csv",
        data_dir / "pilot_dm_extract.csv",
        out_path=tmp_path / "a.csv",
    )
    without = grade_lab_file(data_dir / "pilot_lb_extract.csv", out_path=tmp_path / "b.csv")
    assert with_dm.rows == without.rows
    assert with_dm.graded == without.graded


def test_xpt_input_is_read_and_blank_strings_become_missing(data_dir: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(data_dir / "pilot_lb_extract.csv", dtype=str, keep_default_na=False)
    frame["LBSTRESN"] = pd.to_numeric(frame["LBSTRESN"], errors="coerce")
    for column in ("LBSTNRLO", "LBSTNRHI"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    xpt = tmp_path / "lb.xpt"
    pyreadstat.write_xport(frame, str(xpt), file_format_version=5, table_name="LB")
    back = read_sdtm(xpt)
    assert back["LBBLFL"].isna().sum() == (frame["LBBLFL"] == "").sum()
    summary = grade_lab_file([xpt], out_path=tmp_path / "out.csv")
    assert summary.rows == 704


def test_unknown_input_format_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "lb.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match=r"expected a \.xpt or \.csv"):
        grade_lab_file(bad, out_path=tmp_path / "x.csv")


def test_grade_labs_command_prints_the_distribution_and_writes_the_file(
    app: typer.Typer, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "graded.csv"
    result = CliRunner().invoke(
        app,
        [
            "grade-labs",
            str(data_dir / "pilot_lb_extract.csv"),
            "--dm",
            str(data_dir / "pilot_dm_extract.csv"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "grade distribution" in result.output
    assert "rows: 704" in result.output
    assert "Not gradable, by reason" in result.output
    assert out.exists()


def test_grade_labs_as_a_process_prints_everything_and_writes_the_same_file_before_leaving(
    app: typer.Typer, data_dir: Path, tmp_path: Path
) -> None:
    """The console command leaves without the interpreter's teardown once its files are
    closed: its output, piped, must still be whole, its file the same as in process, and
    a failing run must still say why and exit 2."""
    import os
    import subprocess
    import sys

    args = ["grade-labs", str(data_dir / "pilot_lb_extract.csv")]
    args += ["--dm", str(data_dir / "pilot_dm_extract.csv")]
    code = "import sys; from aewatch.cli import main; sys.argv[0] = 'aewatch'; main()"
    wide = {**os.environ, "COLUMNS": "1000"}  # rich wraps long paths at 80 columns
    done = subprocess.run(
        [sys.executable, "-c", code, *args, "--out", str(tmp_path / "process.csv")],
        capture_output=True,
        text=True,
        env=wide,
    )
    assert done.returncode == 0, done.stderr
    assert "rows: 704" in done.stdout
    assert done.stdout.rstrip().endswith(f"written: {tmp_path / 'process.csv'}")
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "in_process.csv")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "process.csv").read_bytes() == (tmp_path / "in_process.csv").read_bytes()
    failed = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "grade-labs",
            str(tmp_path / "missing.csv"),
            "--out",
            str(tmp_path / "x.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 2
    assert "missing.csv" in failed.stdout + failed.stderr


def test_grade_labs_help_is_written_for_a_data_manager_with_an_example(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["grade-labs", "--help"])
    assert result.exit_code == 0
    assert "aewatch grade-labs lb.xpt --dm dm.xpt --out lb_graded.csv" in result.output
    assert "RFXSTDTC" in result.output


def test_ctcae_command_shows_a_term_by_name_or_code(app: typer.Typer) -> None:
    by_name = CliRunner().invoke(app, ["ctcae", "alanine aminotransferase increased"])
    by_code = CliRunner().invoke(app, ["ctcae", "10001551"])
    for result in (by_name, by_code):
        assert result.exit_code == 0
        assert "Alanine aminotransferase increased" in result.output
        assert "10001551" in result.output
        assert "Investigations" in result.output
        assert "not defined" in result.output  # grade 5


def test_ctcae_command_suggests_close_terms_and_exits_1(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["ctcae", "Alanin aminotransferase"])
    assert result.exit_code == 1
    assert "Did you mean" in result.output
    assert "Alanine aminotransferase increased" in result.output


def test_ctcae_command_explains_a_v4_term(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["ctcae", "External ear inflammation"])
    assert result.exit_code == 0
    assert "Otitis externa" in result.output


def test_command_module_does_not_import_pandas_at_import_time() -> None:
    import subprocess
    import sys

    code = (
        "import sys, aewatch.commands.grading; "
        "print('pandas' in sys.modules, 'aewatch.ctcae.labs' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


MALFORMED = (
    "STUDYID,USUBJID,LBSEQ,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"
    "S,01,1,PLAT,200,10^9/L,150,400,2025-01-01\n"
    "S,01,2,PLAT,-50,10^9/L,150,400,2025-02-01\n"
    "S,01,3,PLAT,20,10^9/L,150,400,2025-02-02,extra\n"
    "S,01,4,ALT,abc,U/L,0,40,2025-02-03\n"
    "S,01,5,ALT,1e400,U/L,0,40,2025-02-04\n"
    "S,01,6,ALT,900,U/L,40,0,2025-02-05\n"
    "S,01,7,ALT,900,U/L,0,40,2025-02-06\n"
)


def test_grade_labs_grades_every_readable_row_and_lists_the_rest_with_reasons(
    tmp_path: Path,
) -> None:
    lb = tmp_path / "lb.csv"
    lb.write_text(MALFORMED, encoding="utf-8")
    summary = grade_lab_file(lb, out_path=tmp_path / "out.csv")
    assert (summary.rows, summary.rejected) == (6, 5)
    assert summary.rejects_path == tmp_path / "out.rejects.csv"
    rejects = pd.read_csv(summary.rejects_path, dtype=str, keep_default_na=False)
    assert rejects[["row", "field", "reason"]].values.tolist() == [
        [
            "2",
            "LBSTRESN",
            "result LBSTRESN '-50' 10^9/L is not a plausible PLAT result "
            "(plausible: 0 to 5000 10^9/L)",
        ],
        [
            "3",
            "",
            "row has 10 fields but the header has 9: check for an unquoted delimiter "
            "or a missing value",
        ],
        ["4", "LBSTRESN", "result LBSTRESN 'abc' is not a number"],
        ["5", "LBSTRESN", "result LBSTRESN '1e400' is not a finite number"],
        [
            "6",
            "LBSTNRLO",
            "reference range LBSTNRLO '40' to LBSTNRHI '0' is inverted (the lower "
            "limit is above the upper)",
        ],
    ]
    graded = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert graded["TOXGRH"].tolist() == ["", "", "", "", "", "4"]
    assert graded["TOXGRL"].tolist() == ["0", "", "", "", "", ""]
    assert graded.loc[1, "TOXNOTE"].startswith("not graded: result LBSTRESN '-50'")


def test_an_implausible_result_is_never_a_baseline(tmp_path: Path) -> None:
    lb = tmp_path / "lb.csv"
    lb.write_text(
        "USUBJID,LBSEQ,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC,LBBLFL\n"
        "01,1,ALT,-30,U/L,0,40,2025-01-01,Y\n"
        "01,2,ALT,90,U/L,0,40,2025-02-01,\n",
        encoding="utf-8",
    )
    grade_lab_file(lb, out_path=tmp_path / "out.csv")
    graded = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert graded.loc[1, "TOXNOTE"] == "no baseline for ALT; graded on ULN rules"


def test_a_result_with_an_implausible_range_is_never_a_baseline(tmp_path: Path) -> None:
    lb, dm = tmp_path / "lb.csv", tmp_path / "dm.csv"
    lb.write_text(
        "USUBJID,LBSEQ,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC,LBBLFL\n"
        "01,1,ALT,30,U/L,0,40,2024-12-20,\n"
        "01,2,ALT,95,U/L,40,0,2025-01-01,Y\n"
        "01,3,ALT,90,U/L,0,40,2025-02-01,\n",
        encoding="utf-8",
    )
    dm.write_text("USUBJID,RFXSTDTC\n01,2025-01-05\n", encoding="utf-8")
    grade_lab_file(lb, dm, out_path=tmp_path / "out.csv")
    graded = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert graded.loc[1, "TOXNOTE"].startswith("not graded: reference range LBSTNRLO '40'")
    assert graded.loc[1, "TOXGRH"] == ""
    # the baseline is the plausible result of 20 December, which was normal
    assert graded.loc[2, "TOXNOTE"] == ""
    assert graded.loc[2, "TOXGRH"] == "1"


def test_grade_labs_command_says_how_many_rows_it_rejected_and_where(
    app: typer.Typer, tmp_path: Path
) -> None:
    lb = tmp_path / "lb.csv"
    lb.write_text(MALFORMED, encoding="utf-8")
    rejects = tmp_path / "bad_rows.csv"
    result = CliRunner().invoke(
        app, ["grade-labs", str(lb), "--out", str(tmp_path / "o.csv"), "--rejects", str(rejects)]
    )
    assert result.exit_code == 0, result.output
    assert "rejected (malformed or implausible, not graded): 5 rows" in result.output
    assert len(pd.read_csv(rejects)) == 5


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("lb.csv", "USUBJID,LBTESTCD\n01,Fi\xe8vre\n".encode("latin-1"), "not UTF-8 text"),
        (
            "lb.xpt",
            b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!" + b"\x00" * 40,
            "cannot be read",
        ),
    ],
)
def test_grade_labs_fails_only_when_the_input_cannot_be_read(
    name: str, content: bytes, message: str, app: typer.Typer, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = CliRunner().invoke(app, ["grade-labs", str(path), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert message in result.output
