"""`make run`'s path: `aewatch init`, `aewatch demo`, `aewatch run --once` build and email
last month's DSMB report automatically. That report must agree with `aewatch counts`,
`aewatch status` and `aewatch subject` at the same data cut — the AE overview, the deaths
and the rule states — instead of the "0 AEs, no rule evaluation" a cut by recording
time gave (AEs entered after the month end were left out of the month).

Only the clock is fixed (5 November 2026, 06:00 UTC): everything else is the real
command line on a real SQLite file, inbox and outbox.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from aewatch.clock import ManualClock
from support import cli_env

NOW = datetime(2026, 11, 5, 6, 0, tzinfo=UTC)
CUT = "2026-10-31"


@pytest.fixture
def aewatch(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `aewatch …` as `make run` does, at NOW; returns (exit code, stdout)."""
    for name, value in {**cli_env(tmp_path, sqlite_url), "AEWATCH_REPORTS__PDF": "false"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("aewatch.runtime.SystemClock", lambda: ManualClock(NOW))
    from aewatch.cli import app

    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout

    return run


def json_of(aewatch: Any, *args: str) -> Any:
    code, out = aewatch(*args, "--format", "json")
    assert code == 0, out
    return json.loads(out)


def test_the_automatic_monthly_report_agrees_with_counts_status_and_subjects(
    aewatch: Any, tmp_path: Path, sqlite_url: str
) -> None:
    for command in (("init",), ("demo",), ("run", "--once")):
        code, out = aewatch(*command)
        assert code == 0, out

    from aewatch.db import make_engine, session_factory
    from aewatch.models import Alert, Report

    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        rows = {
            r.kind: r for r in session.scalars(select(Report).where(Report.period == "2026-10"))
        }
        emails = sorted(session.scalars(select(Alert.dedup_key).where(Alert.kind == "dsmb-report")))
    engine.dispose()
    assert set(rows) == {"dsmb-open", "dsmb-closed"}
    assert emails == [
        "dsmb-report:NCT06261047:2026-10:closed",
        "dsmb-report:NCT06261047:2026-10:open",
    ]
    facts = rows["dsmb-open"].summary["facts"]
    known_at = rows["dsmb-open"].summary["known_at"]
    assert known_at == NOW.isoformat()
    cut = ("--cut", CUT, "--as-of", known_at)

    # AE overview: the same patients as `aewatch counts` at the same cut, and not zero.
    by_grade = json_of(aewatch, "counts", "--by", "grade", *cut)
    patients = {row["grade"]: row["patients"] for row in by_grade["counts"]}
    assert by_grade["safety_population"] == facts["safety_population"] == 36
    assert sum(patients.values()) == facts["overview"]["Any adverse event"] > 0
    assert patients[3] + patients[4] + patients[5] == facts["overview"]["Grade ≥ 3"] > 0
    serious = json_of(aewatch, "counts", "--by", "subject", "--serious", *cut)
    assert len(serious["counts"]) == facts["sae_patients"] > 0

    # Rule states: `aewatch status` at the same cut, crossing included.
    status = json_of(aewatch, "status", *cut)
    assert {r["rule"]: r["state"] for r in status["rules"]} == facts["rule_states"]
    closed = rows["dsmb-closed"].html_path
    tables = Path(closed).with_name("dsmb-NCT06261047-2026-10-closed-tables")
    with (tables / "rule_status.csv").open() as handle:
        report_rules = {r["rule"]: r for r in csv.DictReader(handle)}
    for rule in status["rules"]:
        shown = report_rules[rule["rule"]]
        assert (int(shown["evaluable_n"]), int(shown["toxic_n"])) == (
            rule["evaluable_n"],
            rule["toxic_n"],
        )
        assert (shown["crossed_on"] or None) == rule["crossed_on"]

    # Deaths: each patient the report lists as dead is dead in `aewatch subject`.
    with (tables / "deaths.csv").open() as handle:
        deaths = list(csv.DictReader(handle))
    assert len(deaths) == facts["deaths"] == 1
    for death in deaths:
        subject = json_of(aewatch, "subject", death["subject_id"], *cut)
        fatal = [a for a in subject["adverse_events"] if a["grade"] == 5]
        assert subject["subject"]["died_on"] is not None and subject["subject"]["died_on"] <= CUT
        assert [a["ctcae_term"] for a in fatal] == [death["cause"]]
    # ... and every SAE of the listing is in the patient's own timeline.
    with (tables / "sae_listing.csv").open() as handle:
        for sae in csv.DictReader(handle):
            subject = json_of(aewatch, "subject", sae["subject_id"], *cut)
            assert any(
                a["ctcae_term"] == sae["ctcae_term"] and a["serious"]
                for a in subject["adverse_events"]
            )
