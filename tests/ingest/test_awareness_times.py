"""AEAWDTC read to the minute: its own UTC offset wins, else the site's zone; a date alone
is the start of the site's day; a wall time a DST change repeats or skips is its earliest
instant. And the zones themselves are checked when aewatch starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from aewatch.config import ConfigError, load_settings
from aewatch.ingest.dates import awareness_utc, earliest_awareness_utc, parse_iso_moments


def utc(texts: list[str], zones: list[str]) -> list[datetime | None]:
    parsed = parse_iso_moments(pd.Series(texts))
    placed = awareness_utc(parsed["moment"], parsed["offset_minutes"], pd.Series(zones))
    return [None if pd.isna(t) else t.to_pydatetime() for t in placed]


def test_a_local_time_is_read_in_the_sites_zone_and_an_offset_wins() -> None:
    texts = [
        "2026-11-27T15:00",
        "2026-11-27T15:00:30",
        "2026-11-27T15:00Z",
        "2026-11-27T15:00+08:00",
        "2026-11-27T15:00-0530",
        "2026-11-27",
        "2026-11",
        "",
    ]
    assert utc(texts, ["Asia/Shanghai"] * len(texts)) == [
        datetime(2026, 11, 27, 7, 0, tzinfo=UTC),
        datetime(2026, 11, 27, 7, 0, 30, tzinfo=UTC),
        datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 27, 7, 0, tzinfo=UTC),
        datetime(2026, 11, 27, 20, 30, tzinfo=UTC),
        datetime(2026, 11, 26, 16, 0, tzinfo=UTC),  # the start of the site's day
        datetime(2026, 10, 31, 16, 0, tzinfo=UTC),  # the start of the site's month
        None,
    ]


def test_a_wall_time_a_daylight_saving_change_repeats_or_skips_is_its_earliest_instant() -> None:
    # Berlin: 02:30 happens twice on 2026-10-25 (CEST then CET) and not at all on 2026-03-29.
    assert utc(["2026-10-25T02:30", "2026-03-29T02:30"], ["Europe/Berlin"] * 2) == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    "text",
    ["2026-11-27T24:00", "2026-11-27T15:60", "2026-11-27T15:00:61", "2026-11-27T15:00+15:00"],
)
def test_a_time_or_offset_that_cannot_exist_is_invalid(text: str) -> None:
    parsed = parse_iso_moments(pd.Series([text]))
    assert parsed["invalid"].tolist() == [True]
    assert parsed["moment"].isna().tolist() == [True]


def test_a_site_not_known_yet_is_read_in_the_trials_zone_that_makes_it_earliest() -> None:
    parsed = parse_iso_moments(pd.Series(["2026-11-27T15:00", "2026-11-27T15:00Z"]))
    placed = earliest_awareness_utc(
        parsed["moment"], parsed["offset_minutes"], ("UTC", "Asia/Shanghai", "America/Lima")
    )
    assert placed.tolist() == [
        pd.Timestamp("2026-11-27T07:00Z"),  # Shanghai is the earliest reading
        pd.Timestamp("2026-11-27T15:00Z"),  # an offset is an instant wherever the site is
    ]


@hypothesis_settings(derandomize=True, max_examples=150, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31)),
    offset=st.integers(min_value=-14 * 60, max_value=14 * 60),
    with_colon=st.booleans(),
    seconds=st.booleans(),
)
def test_any_written_time_and_offset_is_that_instant(
    moment: datetime, offset: int, with_colon: bool, seconds: bool
) -> None:
    moment = moment.replace(microsecond=0, second=moment.second if seconds else 0)
    sign, hours, minutes = "-" if offset < 0 else "+", abs(offset) // 60, abs(offset) % 60
    zone = f"{sign}{hours:02d}{':' if with_colon else ''}{minutes:02d}"
    text = moment.strftime("%Y-%m-%dT%H:%M:%S" if seconds else "%Y-%m-%dT%H:%M") + zone
    expected = moment.replace(tzinfo=timezone(timedelta(minutes=offset))).astimezone(UTC)
    assert utc([text], ["Asia/Shanghai"]) == [expected]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trial.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ('timezone = "Asia/Shangai"', "[trial].timezone"),
        ('site_timezones = { "01" = "Mars/Olympus" }', "[trial].site_timezones.01"),
        ('site_timezones = { "01" = "America" }', "[trial].site_timezones.01"),
        ('site_timezones = "Asia/Shanghai"', "[trial].site_timezones"),
    ],
)
def test_an_unknown_time_zone_stops_aewatch_at_start_up(
    tmp_path: Path, line: str, where: str
) -> None:
    path = write(tmp_path, f'[trial]\nid = "X"\n{line}\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path, env={})
    assert str(path) in str(error.value) and where in str(error.value)


def test_a_sites_zone_overrides_the_trials_and_can_come_from_the_environment(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, '[trial]\nid = "X"\ntimezone = "Asia/Shanghai"\n')
    env = {"AEWATCH_TRIAL__SITE_TIMEZONES": '{"07": "Asia/Hong_Kong"}'}
    trial = load_settings(path, env=env).trial
    assert (trial.timezone_of("07"), trial.timezone_of("01"), trial.timezone_of(None)) == (
        "Asia/Hong_Kong",
        "Asia/Shanghai",
        "Asia/Shanghai",
    )
