"""`aewatch counts`, `aewatch subject` and `aewatch report dsmb` through a CLI runner."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from aewatch.commands import reports as report_commands
from aewatch.commands import status as status_commands
from aewatch.models import Subject
from aewatch.runtime import Runtime
from reports.conftest import Builder, ae_version


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch,
    engine: Any,
    sessions: Any,
    settings: Any,
    clock: Any,
    small_trial: Any,
) -> Any:
    """Run a command against the test database; returns (exit code, stdout)."""
    runtime = Runtime(settings=settings, engine=engine, sessions=sessions, clock=clock)
    monkeypatch.setattr(runtime, "close", lambda: None)
    monkeypatch.setattr(report_commands, "_open_runtime", lambda: runtime)
    monkeypatch.setattr(report_commands, "_settings", lambda: settings)
    monkeypatch.setattr(report_commands, "clock_now", clock.now)
    monkeypatch.setattr("aewatch.cli.load_settings_or_exit", lambda: settings)
    monkeypatch.setattr("aewatch.cli.open_runtime", lambda **_: runtime)
    app = typer.Typer()
    app.callback()(lambda: None)
    report_commands.register(app)
    status_commands.register(app)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout

    return run


def test_counts_by_term_prints_the_documented_json(cli: Any) -> None:
    code, out = cli("counts", "--by", "term", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["safety_population"] == 4
    fatigue = next(r for r in document["counts"] if r["term"] == "Fatigue")
    assert fatigue == {
        "soc": "General disorders and administration site conditions",
        "term": "Fatigue",
        "patients": 1,
        "patients_by_worst_grade": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0},
        "patients_grade3plus": 0,
        "events": 2,
    }
    assert len(document["counts"]) == 5


def test_counts_by_site_keys_rows_by_site(cli: Any) -> None:
    _, out = cli("counts", "--by", "site", "--format", "json")
    rows = json.loads(out)["counts"]
    assert [(r["site"], r["patients"], r["events"]) for r in rows] == [("S01", 2, 3), ("S02", 2, 3)]


def test_counts_as_of_a_day_before_the_upgrade(cli: Any) -> None:
    _, out = cli("counts", "--as-of", "2026-02-10", "--format", "json")
    alt = next(
        r for r in json.loads(out)["counts"] if r["term"] == "Alanine aminotransferase increased"
    )
    assert alt["patients_by_worst_grade"]["2"] == 1


def test_grade_3_related_counts_as_csv(cli: Any) -> None:
    code, out = cli("counts", "--min-grade", "3", "--related", "rt", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["term"]: r["G>=3"] for r in rows} == {
        "Alanine aminotransferase increased": "1",
        "Gastric hemorrhage": "1",
        "Hepatic failure": "1",
    }


def test_piped_table_output_is_plain_text(cli: Any) -> None:
    _, out = cli("counts", "--by", "soc")
    assert out.startswith("# Safety population: 4 patients")
    assert "Investigations\t2\t0\t0\t2\t0\t0\t2\t2" in out


def test_an_unknown_by_value_is_refused(cli: Any) -> None:
    code, _ = cli("counts", "--by", "colour")
    assert code == 2


def test_subject_timeline_shows_the_grade_history(cli: Any) -> None:
    code, out = cli("subject", "P01", "--format", "json")
    assert code == 0
    document = json.loads(out)
    alt = next(a for a in document["adverse_events"] if a["ae_key"] == "AE-1")
    assert (alt["grade"], alt["grade_history"], alt["version"]) == (3, "2→3", 2)
    assert [c["course_key"] for c in document["rt_courses"]] == ["P01-L1"]
    assert {lab["test_code"] for lab in document["labs"]} == {"ALT", "BILI", "ALB", "INR"}


def test_subject_json_gives_dates_as_iso_days_and_unknown_ones_as_null(cli: Any) -> None:
    _, out = cli("subject", "P04", "--format", "json")
    subject = json.loads(out)["subject"]
    assert (subject["enrolled_on"], subject["died_on"]) == ("2026-01-22", "2026-02-25")
    assert subject["withdrawn_on"] is None and subject["left_on"] is None


def test_a_correction_that_moves_the_onset_earlier_is_the_current_version(
    cli: Any, sessions: Any, small_trial: Any
) -> None:
    """The site first dated the nausea 02-10, then corrected it to 01-20: the timeline
    shows the corrected version (2, grade 2), not the version it replaced."""
    with sessions() as session, session.begin():
        b = Builder(session, small_trial.trial_pk)
        b.subjects["P02"] = session.scalars(select(Subject).filter_by(subject_id="P02")).one()
        b.ae(
            "P02",
            "AE-9",
            [
                ae_version("Nausea", "Gastrointestinal disorders", 1, "2026-02-10", "2026-02-12"),
                ae_version("Nausea", "Gastrointestinal disorders", 2, "2026-01-20", "2026-02-15"),
            ],
        )
    _, out = cli("subject", "P02", "--format", "json")
    nausea = next(a for a in json.loads(out)["adverse_events"] if a["ae_key"] == "AE-9")
    assert (nausea["version"], nausea["grade"], nausea["onset_on"]) == (2, 2, "2026-01-20")
    assert nausea["grade_history"] == "1→2"


def test_an_unknown_subject_exits_with_an_error(cli: Any) -> None:
    code, _ = cli("subject", "P99")
    assert code == 1


def test_report_dsmb_writes_both_parts(cli: Any, tmp_path: Any) -> None:
    code, out = cli("report", "dsmb", "--month", "2026-02", "--out", str(tmp_path / "r"))
    assert code == 0
    for part in ("open", "closed"):
        assert (tmp_path / "r" / f"dsmb-NCT06261047-2026-02-{part}.html").is_file()
    assert "tables sha256:" in out


def test_report_dsmb_writes_only_the_part_asked_for(cli: Any, tmp_path: Any) -> None:
    code, _ = cli("report", "dsmb", "--month", "2026-02", "--part", "open", "--out", str(tmp_path))
    assert code == 0
    assert (tmp_path / "dsmb-NCT06261047-2026-02-open.html").is_file()
    assert not (tmp_path / "dsmb-NCT06261047-2026-02-closed.html").exists()
    assert cli("report", "dsmb", "--month", "2026-02", "--part", "secret")[0] == 2


def test_counts_take_the_clinical_cut_and_the_knowledge_time(cli: Any) -> None:
    """The P01 ALT AE (onset 01-25) was upgraded to grade 3 on 02-20: cut at January's end
    it counts, at grade 2 as known then and at grade 3 as known now."""

    def alt(*options: str) -> dict[str, Any] | None:
        _, out = cli("counts", "--format", "json", *options)
        rows = json.loads(out)["counts"]
        return next((r for r in rows if r["term"] == "Alanine aminotransferase increased"), None)

    january_now = alt("--cut", "2026-01-31")
    january_then = alt("--cut", "2026-01-31", "--as-of", "2026-02-05")
    assert january_now is not None and january_now["patients_by_worst_grade"]["3"] == 1
    assert january_then is not None and january_then["patients_by_worst_grade"]["2"] == 1
    assert alt("--cut", "2026-01-20") is None  # onset after the cut: not in the period


def test_status_states_the_cut_and_where_a_rule_crossed(cli: Any) -> None:
    _, out = cli("status", "--format", "json", "--cut", "2026-02-28")
    document = json.loads(out)
    assert document["clinical_cut"] == "2026-02-28"
    rule = next(r for r in document["rules"] if r["rule"] == "grade3-rt-related")
    assert {"crossed_at_n", "crossed_on", "pending_n"} <= set(rule)


def test_status_as_known_at_an_earlier_time_sees_only_what_was_recorded_then(cli: Any) -> None:
    """By 02-10 only P01's grade 2 ALT was recorded (its upgrade to 3 came on 02-20, the
    gastric hemorrhage on 02-11): nothing toxic then; as known now the rule crossed."""

    def grade3(*options: str) -> dict[str, Any]:
        _, out = cli("status", "--format", "json", "--cut", "2026-02-28", *options)
        return next(r for r in json.loads(out)["rules"] if r["rule"] == "grade3-rt-related")

    then = grade3("--as-of", "2026-02-10T12:00:00")
    now = grade3()
    assert (then["state"], then["toxic_n"]) == ("ok", 0)
    assert (now["state"], now["crossed_at_n"], now["crossed_on"]) == ("crossed", 2, "2026-02-10")
