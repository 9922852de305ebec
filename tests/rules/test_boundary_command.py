"""`aewatch boundary` through a throwaway Typer app (no database, no config)."""

from __future__ import annotations

import csv
import io
import json

import pytest
import typer
from typer.testing import CliRunner

from aewatch.commands.rules import boundary_table_rows, register
from aewatch.safety.boundaries import fixed, pocock

TRIAL = ["boundary", "--p0", "0.15", "--p1", "0.30", "--n", "36", "--alpha", "0.10"]


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keeps "boundary" a subcommand, as in the real CLI
        """Throwaway root."""

    return app


def _run(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_json_has_one_boundary_entry_per_look_and_the_oc_grid(app: typer.Typer) -> None:
    code, out = _run(app, *TRIAL, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert set(document) == {"boundary", "oc"}
    assert document["boundary"][:3] == [
        {"n": 1, "stop_at": None},
        {"n": 2, "stop_at": 2},
        {"n": 3, "stop_at": 3},
    ]
    assert document["boundary"][-1] == {"n": 36, "stop_at": 11}
    assert len(document["boundary"]) == 36
    assert [row["p"] for row in document["oc"]] == [0.15, 0.30]
    assert set(document["oc"][0]) == {"p", "p_stop", "expected_n"}
    assert round(document["oc"][0]["p_stop"], 3) == 0.099


def test_oc_grid_adds_oc_at_rates_sorted_without_duplicates(app: typer.Typer) -> None:
    code, out = _run(app, *TRIAL, "--oc-at", "0.4,0.05,0.30,0.2", "-f", "json")
    assert code == 0
    assert [row["p"] for row in json.loads(out)["oc"]] == [0.05, 0.15, 0.2, 0.3, 0.4]


def test_every_k_gives_cohort_looks_ending_at_n(app: typer.Typer) -> None:
    code, out = _run(app, *TRIAL, "--every", "5", "-f", "json")
    assert code == 0
    looks = [row["n"] for row in json.loads(out)["boundary"]]
    assert looks == [5, 10, 15, 20, 25, 30, 35, 36]


def test_bayesian_design_from_the_command_line(app: typer.Typer) -> None:
    code, out = _run(
        app, "boundary", "--method", "bayes", "--prior", "0.6,2.4", "--pmax", "0.2",
        "--threshold", "0.9630823", "--n", "30", "--oc-at", "0.2", "-f", "json",
    )  # fmt: skip
    assert code == 0
    document = json.loads(out)
    assert document["boundary"][6] == {"n": 7, "stop_at": 4}
    assert round(document["oc"][0]["p_stop"], 4) == 0.1044


def test_fixed_rule_with_two_pairs(app: typer.Typer) -> None:
    code, out = _run(
        app, "boundary", "--method", "fixed", "--k", "3,5", "--m", "6,12", "--n", "12",
        "--every", "6", "--oc-at", "0.2", "-f", "json",
    )  # fmt: skip
    assert code == 0
    document = json.loads(out)
    assert document["boundary"] == [{"n": 6, "stop_at": 3}, {"n": 12, "stop_at": 5}]
    assert round(document["oc"][0]["expected_n"], 5) == 11.40672


def test_csv_is_one_table_with_a_section_column(app: typer.Typer) -> None:
    code, out = _run(app, *TRIAL, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {row["section"] for row in rows} == {"boundary", "oc"}
    assert sum(row["section"] == "boundary" for row in rows) == 36
    oc = [row for row in rows if row["section"] == "oc"]
    assert [float(row["p"]) for row in oc] == [0.15, 0.30]


def test_piped_table_is_plain_text_with_the_boundary_runs(app: typer.Typer) -> None:
    code, out = _run(app, *TRIAL)
    assert code == 0
    assert "3–5\t3\tstop if >= 3 toxic" in out
    assert "36\t11\tstop if >= 11 toxic" in out
    assert "0.150\t0.0986" in out
    assert "clinfun lo.bdry differs at 1 look(s)" in out
    assert "\x1b[" not in out  # no terminal colour codes when piped


def test_options_the_method_does_not_use_are_refused(app: typer.Typer) -> None:
    code, out = _run(app, *TRIAL, "--threshold", "0.9")
    assert code == 2
    assert "--threshold not used by --method pocock" in out


def test_missing_design_inputs_are_reported(app: typer.Typer) -> None:
    code, out = _run(app, "boundary", "--method", "bayes", "--n", "36", "--pmax", "0.2")
    assert code == 2
    assert "needs --prior" in out


def test_help_is_written_for_a_statistician_with_an_example(app: typer.Typer) -> None:
    code, out = _run(app, "boundary", "--help")
    assert code == 0
    assert "aewatch boundary --method pocock --p0 0.15" in out
    assert "expected_n" in out


def test_table_rows_collapse_runs_and_list_cohort_looks() -> None:
    rows = boundary_table_rows(pocock(0.15, 0.30, 36, 0.10))
    assert rows[0] == {
        "evaluable": "1", "from_n": 1, "to_n": 1, "stop_at": None, "max_acceptable": 1,
        "rule": "cannot stop",
    }  # fmt: skip
    assert rows[2]["evaluable"] == "3–5"
    assert rows[2]["max_acceptable"] == 2
    cohort = boundary_table_rows(fixed([3, 5], [6, 18], 18, every=6))
    assert [r["evaluable"] for r in cohort] == ["6", "12, 18"]
