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


def test_the_plausibility_settings_are_read_and_extend_the_lab_ranges(tmp_path: Path) -> None:
    shipped = load_settings(CONFIG, env={}).plausibility
    assert (shipped.first_enrolment, shipped.history_margin_days) == ("2024-01-01", 3650)
    assert shipped.future_tolerance_days == 1
    path = write(
        tmp_path,
        '[trial]\nid = "X"\n[plausibility]\nfirst_enrolment = "2012-07-09"\n'
        'lab_ranges = [{ analyte = "PLAT", unit = "10^9/L", low = 0, high = 3000 }]\n',
    )
    settings = load_settings(path, env={"AEWATCH_PLAUSIBILITY__FUTURE_TOLERANCE_DAYS": "2"})
    assert settings.plausibility.first_enrolment_date.isoformat() == "2012-07-09"
    assert settings.plausibility.future_tolerance_days == 2
    (entry,) = settings.plausibility.lab_ranges
    assert (entry.analyte, entry.unit, entry.low, entry.high) == ("PLAT", "10^9/L", 0.0, 3000.0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('first_enrolment = "2024-13-01"', "first_enrolment: expected an ISO date (YYYY-MM-DD)"),
        ("history_margin_days = -1", "history_margin_days: must be 0 or more"),
        (
            'lab_ranges = [{ analyte = "PLAT", low = 5, high = 3 }]',
            "lab_ranges[0] (PLAT): need finite low < high, got 5.0 to 3.0",
        ),
        ('lab_ranges = [{ analyte = "PLAT", lo = 5, high = 3 }]', "unknown key(s) ['lo']"),
    ],
)
def test_a_wrong_plausibility_setting_stops_start_up_with_a_clear_message(
    table: str, message: str, tmp_path: Path
) -> None:
    path = write(tmp_path, f'[trial]\nid = "X"\n[plausibility]\n{table}\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path, env={})
    assert message in str(error.value) and "[plausibility]" in str(error.value)
