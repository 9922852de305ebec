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


def test_links_are_off_by_default_and_the_server_listens_on_loopback() -> None:
    web = load_settings(CONFIG, env={}).web
    assert (web.base_url, web.host, web.link_days) == ("", "127.0.0.1", 14.0)


@pytest.mark.parametrize(
    ("base_url", "kept"),
    [
        ("https://aewatch.hospital.example/", "https://aewatch.hospital.example"),
        ("https://hospital.example/aewatch", "https://hospital.example/aewatch"),
        ("http://127.0.0.1:8470", "http://127.0.0.1:8470"),
    ],
)
def test_a_base_url_is_https_or_this_machine(base_url: str, kept: str) -> None:
    env = {"AEWATCH_WEB__BASE_URL": base_url}
    assert load_settings(CONFIG, env=env).web.base_url == kept


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("base_url", "http://aewatch.hospital.example", "expected an https:// address"),
        ("base_url", "https://hospital.example/?next=x", "scheme, host and an optional path"),
        ("base_url", "aewatch.hospital.example", "expected an https:// address"),
        ("link_days", "0", "link_days: expected more than 0"),
        ("link_days", "365", "at most 90 days"),
        ("session_minutes", "0", "session_minutes: expected more than 0"),
        ("token_checks_per_minute", "0", "token_checks_per_minute: expected at least 1"),
    ],
)
def test_a_bad_web_setting_is_refused_with_what_was_expected(
    key: str, value: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says) as error:
        load_settings(CONFIG, env={f"AEWATCH_WEB__{key.upper()}": value})
    assert "[web]" in str(error.value)


def test_the_link_secret_is_never_read_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[trial]\nid = "X"\n[web]\nsecret = "in the file"\n')
    with pytest.raises(ConfigError, match="AEWATCH_WEB_SECRET"):
        load_settings(path, env={})
    ignored = load_settings(CONFIG, env={"AEWATCH_WEB__SECRET": "x" * 40})
    assert "x" * 40 not in str(ignored)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("max_bed_gy = 50.0", r"max_bed_gy \(50.0\) must be above min_bed_gy \(60.0\)"),
        ("course_gap_days = 0", r"course_gap_days must be at least 1 day, got 0"),
        ("max_dose_per_fraction_gy = -1", r"max_dose_per_fraction_gy must be > 0"),
    ],
)
def test_radiotherapy_limits_that_cannot_work_stop_start_up(
    tmp_path: Path, section: str, message: str
) -> None:
    path = write(tmp_path, f'[trial]\nid = "X"\n[radiotherapy]\n{section}\n')
    with pytest.raises(ConfigError, match=message) as error:
        load_settings(path, env={})
    assert str(error.value).startswith(str(path))


def test_exposure_words_extend_the_vocabularies_from_the_config(tmp_path: Path) -> None:
    text = (
        '[trial]\nid = "X"\n[radiotherapy]\ntreatments = ["TOMO"]\nliver_sites = ["hilum"]\n'
        '[systemic_therapy]\ntreatments = ["rivoceranib"]\n'
    )
    settings = load_settings(write(tmp_path, text), env={})
    assert settings.radiotherapy.treatments == ("TOMO",)
    assert settings.radiotherapy.liver_sites == ("hilum",)
    assert settings.systemic_therapy.treatments == ("rivoceranib",)
    assert settings.radiotherapy.course_gap_days == 14


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
