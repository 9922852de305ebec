"""The trial config: real parameters, loud errors, environment overrides, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from aewatch.config import ConfigError, load_settings
from support import CONFIG


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trial.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_config_carries_the_trials_real_parameters() -> None:
    settings = load_settings(CONFIG, env={})
    assert settings.trial.id == "NCT06261047"
    assert settings.trial.planned_enrolment == 36
    assert settings.trial.ctcae_version == "5.0"
    assert settings.radiotherapy.alpha_beta_gy == 10.0
    assert settings.radiotherapy.min_bed_gy == 60.0
    assert settings.database_url == "sqlite:///var/data/aewatch.sqlite"


def test_an_unknown_key_names_the_file_the_key_and_what_was_expected(tmp_path: Path) -> None:
    path = write(tmp_path, '[trial]\nid = "X"\n[smtp]\nhots = "mail"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path, env={})
    message = str(error.value)
    assert str(path) in message and "[smtp]" in message and "hots" in message
    assert "host" in message


def test_a_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    path = write(tmp_path, '[trial]\nid = "X"\nplanned_enrolment = "many"\n')
    with pytest.raises(ConfigError, match=r"planned_enrolment: expected an integer, got 'many'"):
        load_settings(path, env={})


def test_a_missing_trial_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing required key"):
        load_settings(write(tmp_path, "[trial]\nplanned_enrolment = 3\n"), env={})


def test_environment_variables_override_any_setting(tmp_path: Path) -> None:
    env = {
        "AEWATCH_SMTP__PORT": "2525",
        "AEWATCH_WORKER__INBOX": "/data/inbox",
        "AEWATCH_ALERTS__SAE": "a@x.org, b@x.org",
        "AEWATCH_SMTP__STARTTLS": "false",
    }
    settings = load_settings(CONFIG, env=env)
    assert settings.smtp.port == 2525
    assert settings.worker.inbox == "/data/inbox"
    assert settings.alerts.sae == ("a@x.org", "b@x.org")
    assert settings.smtp.starttls is False


def test_a_bad_override_is_as_loud_as_a_bad_file() -> None:
    with pytest.raises(ConfigError, match=r"smtp\]\.port: expected an integer"):
        load_settings(CONFIG, env={"AEWATCH_SMTP__PORT": "abc"})
    with pytest.raises(ConfigError, match="unknown section 'smpt'"):
        load_settings(CONFIG, env={"AEWATCH_SMPT__PORT": "25"})


def test_config_and_database_are_chosen_by_environment(tmp_path: Path) -> None:
    env = {"AEWATCH_CONFIG": str(CONFIG), "AEWATCH_DATABASE_URL": "postgresql://u@h/db"}
    settings = load_settings(env=env)
    assert settings.database_url == "postgresql://u@h/db"


def test_the_smtp_password_comes_only_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[trial]\nid = "X"\n[smtp]\npassword = "hunter2"\n')
    with pytest.raises(ConfigError, match="password"):
        load_settings(path, env={})
    monkeypatch.setenv("AEWATCH_SMTP_PASSWORD", "s3cret")
    settings = load_settings(CONFIG, env={})
    assert settings.smtp_password == "s3cret"
    from aewatch.config import describe

    assert "s3cret" not in str(describe(settings))


def test_the_config_hash_changes_with_the_config(tmp_path: Path) -> None:
    a = load_settings(write(tmp_path, '[trial]\nid = "X"\n'), env={})
    b = load_settings(write(tmp_path, '[trial]\nid = "Y"\n'), env={})
    assert a.config_hash != b.config_hash


def test_report_parts_and_approaching_alerts_have_their_own_recipients() -> None:
    alerts = load_settings(CONFIG, env={}).alerts
    assert alerts.approaching == ("safety.officer@example.org",)
    assert "dsmb.chair@example.org" in alerts.threshold
    assert alerts.approaching_min_evaluable == 6
    assert "sponsor.safety@example.org" in alerts.dsmb_open
    assert "sponsor.safety@example.org" not in alerts.dsmb


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[alerts]\napproaching_min_evaluable = -1\n",
            r"\[alerts\]\.approaching_min_evaluable: expected an integer >= 0, got -1",
        ),
        ("[reports]\nacute_days = 0\n", r"\[reports\]\.acute_days: expected an integer >= 1"),
    ],
)
def test_values_a_type_cannot_judge_are_checked_at_start_up(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, '[trial]\nid = "X"\n' + text), env={})
