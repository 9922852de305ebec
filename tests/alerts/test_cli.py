"""`aewatch alerts …` as the safety officer uses it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aewatch.alerts.outbox import enqueue
from aewatch.alerts.rules import ae_alerts
from support import CONFIG


@pytest.fixture
def cli(monkeypatch, db_url, tmp_path):
    from aewatch.cli import app

    monkeypatch.setenv("AEWATCH_CONFIG", str(CONFIG))
    monkeypatch.setenv("AEWATCH_DATABASE_URL", db_url)
    monkeypatch.setenv("AEWATCH_WORKER__DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["alerts", *args], catch_exceptions=False)


@pytest.fixture
def sae_id(sessions, settings, clock, trial_pk, make_facts) -> int:
    with sessions() as session, session.begin():
        enqueue(session, trial_pk, ae_alerts(None, make_facts(), settings, clock.now()),
                clock.now())
    return 1


def test_list_shows_the_unacknowledged_sae_as_json(cli, sae_id) -> None:
    result = cli("list", "--status", "unacknowledged", "--format", "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["subject_line"] == "[SAE][NCT06261047] 012-003 Grade 4 Hepatic failure"


def test_list_prints_plain_columns_when_piped(cli, sae_id) -> None:
    result = cli("list")
    assert result.output.splitlines()[1].startswith("id\tstatus\tpriority\tkind")


def test_show_prints_state_history_and_the_email_text(cli, sae_id) -> None:
    result = cli("show", str(sae_id))
    assert result.exit_code == 0, result.output
    assert "alert queued" in result.output and "Attribution to RT:" in result.output


def test_ack_then_the_alert_is_no_longer_unacknowledged(cli, sae_id) -> None:
    result = cli("ack", str(sae_id), "--by", "Dr Li", "--note", "sponsor notified")
    assert result.exit_code == 0 and "acknowledged alert 1" in result.output
    assert json.loads(cli("list", "-s", "unacknowledged", "-f", "json").output) == []


def test_resend_and_unknown_ids(cli, sae_id) -> None:
    assert "queued again" in cli("resend", str(sae_id)).output
    assert cli("ack", "999", "--by", "x").exit_code == 1
