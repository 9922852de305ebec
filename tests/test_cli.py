"""The command line, as a user runs it: through the Typer app and the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aewatch.cli import app
from support import cli_env


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> dict[str, str]:
    return cli_env(tmp_path, db_url)


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_init_is_safe_to_run_twice(env: dict[str, str], tmp_path: Path) -> None:
    first = invoke(env, "init")
    second = invoke(env, "init")
    assert first[0] == second[0] == 0
    assert "NCT06261047" in second[1]
    assert (tmp_path / "inbox" / "done").is_dir()


def test_ingest_json_accounts_for_every_row(env: dict[str, str], tmp_path: Path) -> None:
    dm = tmp_path / "dm.csv"
    dm.write_text("USUBJID,SITEID\n01-001,01\n01-001,01\n")
    ae = tmp_path / "ae.csv"
    ae.write_text(
        "USUBJID,AESPID,AETERM,AETOXGR,AEREL\n01-001,1,NAUSEA,2,NONE\n09-999,2,RASH,1,NONE\n"
    )
    code, output = invoke(env, "ingest", str(dm), str(ae), "--format", "json")
    assert code == 0
    files = json.loads(output)["files"]
    assert [(f["status"], f["rows"], f["accepted"], f["quarantined"], f["pending"])
            for f in files] == [("done", 2, 1, 1, 0), ("done", 2, 1, 0, 1)]
    for f in files:
        assert f["accepted"] + f["quarantined"] + f["pending"] == f["rows"]
    code, output = invoke(env, "quarantine", "list", "--format", "json")
    entries = json.loads(output)["entries"]
    assert sorted(e["kind"] for e in entries if e["kind"] != "query") == ["pending", "rejected"]
    queries = [e for e in entries if e["kind"] == "query"]
    assert [q["value"] for q in queries] == ["RASH"], "RASH is not a CTCAE v5.0 term: review"


def test_a_config_error_is_one_clear_line_and_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[trial]\nid = "X"\nplanned_enrolment = "lots"\n')
    result = CliRunner().invoke(app, ["init"], env={**env, "AEWATCH_CONFIG": str(bad)})
    assert result.exit_code == 2
    assert "planned_enrolment: expected an integer" in result.output


def test_the_console_script_starts_without_heavy_imports() -> None:
    """`aewatch --help` must not import pandas or SQLAlchemy (start-up speed)."""
    code = (
        "import sys; from aewatch.cli import app; "
        "heavy = [m for m in ('pandas', 'sqlalchemy', 'matplotlib', 'scipy') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


READ_ONLY = [
    ["boundary", "--method", "pocock", "--p0", "0.15", "--p1", "0.3", "--n", "36",
     "--alpha", "0.1"],
    ["rules"],
    ["config"],
    ["status"],
    ["alerts", "list"],
    ["alerts", "show", "1"],
    ["counts", "--by", "term"],
    ["quarantine", "list"],
    ["subject", "01-001"],
    ["subject", "01-001", "--format", "json", "--cut", "2026-01-31"],
]  # fmt: skip
# One irradiated patient with a serious AE (alert 1) and a grade 3 lab: every command reads rows.
SMALL_TRIAL = {
    "dm.csv": "USUBJID,SITEID,RFXSTDTC\n01-001,01,2026-01-05\n",
    "ex.csv": "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC\n"
    "01-001,RT1,SBRT,10,Gy,5,LIVER,2026-01-05,2026-01-12\n",
    "ae.csv": "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEREL,AESTDTC\n"
    "01-001,AE-1,NAUSEA,Nausea,3,Y,Y,PROBABLE,2026-01-20\n",
    "lb.csv": "USUBJID,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"
    "01-001,ALT,250,U/L,0,40,2026-01-26\n",
}


HEAVY = ("pandas", "scipy", "numpy", "matplotlib", "sqlalchemy", "pydantic")


def run_noting_modules(
    env: dict[str, str], args: list[str], modules: tuple[str, ...]
) -> subprocess.CompletedProcess[str]:
    """Run an aewatch command in a fresh interpreter; its stderr ends with "LOADED:" and
    those of ``modules`` it imported."""
    code = (
        "import atexit, sys\n"
        f"watched = {modules!r}\n"
        "atexit.register(lambda: sys.stderr.write('LOADED:' + ','.join("
        "m for m in watched if m in sys.modules) + '\\n'))\n"
        "from aewatch.cli import main\n"
        f"sys.argv = ['aewatch', *{args!r}]\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}
    )


@pytest.mark.parametrize("args", READ_ONLY, ids=lambda a: " ".join(a[:3]))
def test_read_only_commands_import_no_heavy_library(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    """What a person types to look at the trial starts fast: no pandas, SciPy, NumPy,
    matplotlib or SQLAlchemy on its path (the database is read through the driver)."""
    assert invoke(env, "init")[0] == 0
    files = []
    for name, text in SMALL_TRIAL.items():
        (tmp_path / name).write_text(text)
        files.append(str(tmp_path / name))
    assert invoke(env, "ingest", *files)[0] == 0
    done = run_noting_modules(env, args, HEAVY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "the command printed nothing"
    assert "LOADED:\n" in done.stderr, done.stderr[-500:]


def test_ingest_into_an_up_to_date_database_does_not_load_alembic(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Every command that writes data checks the schema; at head that is one SELECT."""
    assert invoke(env, "init")[0] == 0
    (tmp_path / "dm.csv").write_text(SMALL_TRIAL["dm.csv"])
    done = run_noting_modules(env, ["ingest", str(tmp_path / "dm.csv")], ("alembic",))
    assert done.returncode == 0, done.stderr
    assert "LOADED:\n" in done.stderr, done.stderr[-500:]
