"""Load the trial's TOML config into typed, validated, frozen settings.

A wrong key, type or value fails at start-up with the file, the key and what was
expected: a safety daemon that starts with a typo in its recipient list is worse
than one that refuses to start. Secrets never live in the file; they come from
environment variables only. Every setting can be overridden from the environment
as ``AEWATCH_<SECTION>__<KEY>`` (e.g. ``AEWATCH_SMTP__PORT=2525``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

ENV_PREFIX = "AEWATCH_"
DEFAULT_CONFIG = Path("config/nct06261047.toml")


class ConfigError(ValueError):
    """A configuration problem, phrased for the person who edits the file."""


@dataclass(frozen=True)
class TrialSettings:
    id: str
    title: str = ""
    planned_enrolment: int = 36
    ctcae_version: str = "5.0"
    # SDTM STUDYID values accepted as this trial (sites and test exports may use others).
    studies: tuple[str, ...] = ()
    # Who is in the safety population (denominator): subjects with at least one RT course.
    safety_population: str = "rt_started"
    # The time zone a site's clock times are in when they carry no UTC offset (AEAWDTC
    # 2026-11-27T15:00): the trial's, or the site's own (keyed by DM SITEID). IANA names.
    timezone: str = "UTC"
    site_timezones: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_zone(self.timezone, "[trial].timezone")
        if not isinstance(self.site_timezones, Mapping):
            raise ConfigError(
                "[trial].site_timezones: expected a table of SITEID = time zone, e.g. "
                f'{{ "01" = "Asia/Shanghai" }}, got {self.site_timezones!r}'
            )
        for site, zone in self.site_timezones.items():
            _check_zone(zone, f"[trial].site_timezones.{site}")

    def timezone_of(self, site: str | None) -> str:
        """The IANA time zone of a site's local times (the trial's unless configured)."""
        return self.site_timezones.get(site or "", self.timezone)

    @property
    def timezones(self) -> tuple[str, ...]:
        """Every zone a site of the trial may be in (for a site not known yet)."""
        return tuple(dict.fromkeys([self.timezone, *self.site_timezones.values()]))


def _check_zone(name: Any, where: str) -> None:
    """An unknown zone would misplace every clock time of its site: refuse to start."""
    from zoneinfo import ZoneInfo

    known = isinstance(name, str) and bool(name)
    if known:
        try:
            ZoneInfo(name)
        except (KeyError, ValueError, OSError):  # not found, not a zone key, a directory
            known = False
    if not known:
        raise ConfigError(
            f"{where}: {name!r} is not a known time zone; use an IANA name such as "
            '"UTC", "Asia/Shanghai" or "Europe/Berlin"'
        )


@dataclass(frozen=True)
class RadiotherapySettings:
    alpha_beta_gy: float = 10.0
    min_bed_gy: float = 60.0
    # EX records to one lesion at most this many days apart are one course (docs/exposure.md).
    course_gap_days: int = 14
    # Plausibility: above these a course is queried and kept out of the deviation check.
    max_dose_per_fraction_gy: float = 25.0
    max_bed_gy: float = 200.0
    # Words added to the shipped vocabularies (aewatch/exposure/data/).
    treatments: tuple[str, ...] = ()
    liver_sites: tuple[str, ...] = ()
    other_sites: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.alpha_beta_gy <= 0:
            raise ConfigError(f"[radiotherapy].alpha_beta_gy must be > 0, got {self.alpha_beta_gy}")
        if self.course_gap_days < 1:
            raise ConfigError(
                f"[radiotherapy].course_gap_days must be at least 1 day, got {self.course_gap_days}"
            )
        if self.max_dose_per_fraction_gy <= 0:
            raise ConfigError(
                "[radiotherapy].max_dose_per_fraction_gy must be > 0, "
                f"got {self.max_dose_per_fraction_gy}"
            )
        if self.max_bed_gy <= self.min_bed_gy:
            raise ConfigError(
                f"[radiotherapy].max_bed_gy ({self.max_bed_gy}) must be above min_bed_gy "
                f"({self.min_bed_gy}): a compliant course would be called implausible"
            )


@dataclass(frozen=True)
class SystemicTherapySettings:
    # EXTRT words for first-line systemic drugs, added to the shipped list.
    treatments: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkerSettings:
    inbox: str = "var/inbox"
    data_dir: str = "var/data"
    poll_seconds: float = 5.0
    # Leave a file alone until it has not changed for this long: for sites that upload
    # straight into the inbox instead of writing a .part file and renaming it.
    settle_seconds: float = 0.0
    # A lease longer than the slowest SMTP conversation, so a live sender keeps its claim.
    lease_seconds: float = 120.0
    # With files waiting, a worker stops ingesting at least this often to send the alerts
    # already queued (an SAE alert never waits behind a backlog), then goes on at once.
    send_every_seconds: float = 5.0
    worker_id: str = ""


@dataclass(frozen=True)
class GradingSettings:
    # Baseline for lab grading: last value on or before RT start, else DM.RFXSTDTC, else LBBLFL.
    baseline: str = "last_before_rt_start"
    lab_derived_ae_min_grade: int = 3
    # A site AE of the same CTCAE term whose onset-to-end period, widened by this many days
    # on each side, holds the lab-derived AE's day is the same event: the site's AE counts.
    lab_ae_link_days: int = 7
    rild_window_days: int = 90
    hys_law_window_days: int = 3


@dataclass(frozen=True)
class AlertSettings:
    sae: tuple[str, ...] = ()
    threshold: tuple[str, ...] = ()  # a stopping rule crossed (or a crossing retracted)
    # A rule approaching its boundary: the safety officer (empty: the ``sae`` list), and
    # not before this many evaluable patients (early looks approach on one toxicity).
    approaching: tuple[str, ...] = ()
    approaching_min_evaluable: int = 0
    dsmb: tuple[str, ...] = ()  # the DSMB: the closed part of the monthly report
    dsmb_open: tuple[str, ...] = ()  # the open part (empty: the ``dsmb`` list)
    fallback: tuple[str, ...] = ()
    escalation_chain: tuple[str, ...] = ()
    from_address: str = "aewatch@localhost"
    ack_escalate_after_hours: float = 24.0
    reminder_every_hours: float = 12.0
    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    site_silence_days: int = 30
    outbox_dir: str = "var/outbox"


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    port: int = 587
    starttls: bool = True
    implicit_tls: bool = False
    verify_certificates: bool = True
    username: str = ""
    timeout_seconds: float = 30.0
    ca_file: str = ""


@dataclass(frozen=True)
class ClockSettings:
    """Expedited reporting clocks (ICH E2A; all configurable because the trial's are UNKNOWN)."""

    sponsor_notification_hours: float = 24.0
    susar_fatal_days: int = 7
    susar_fatal_followup_days: int = 15
    susar_other_days: int = 15


EXPECTED_OUTCOMES = ("fatal", "life-threatening")


@dataclass(frozen=True)
class ExpectedEvent:
    """One term of the reference safety information and the severity it lists (ICH E2A
    II.C: an event more severe than the RSI lists is unexpected).

    A bare term (the short form, ``"Nausea"``) states no severity: any grade and outcome
    of it is expected. A table states it: ``max_grade`` is the highest expected grade
    (None: any), and a fatal or life-threatening event is expected only when
    ``outcomes`` lists it."""

    term: str
    max_grade: int | None = None
    outcomes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.term.strip():
            raise ConfigError("term: expected a CTCAE term, got an empty one")
        if self.max_grade is not None and not 1 <= self.max_grade <= 5:
            raise ConfigError(f"{self.term}: max_grade: expected 1-5, got {self.max_grade}")
        listed = tuple(o.strip().lower() for o in self.outcomes or ())
        unknown = sorted(set(listed) - set(EXPECTED_OUTCOMES))
        if unknown:
            raise ConfigError(
                f"{self.term}: outcomes: unknown {unknown}; "
                f"expected some of {list(EXPECTED_OUTCOMES)}"
            )
        if self.max_grade == 5 and "fatal" not in listed:
            raise ConfigError(
                f'{self.term}: max_grade 5 is death; list "fatal" in outcomes to expect it'
            )
        if self.outcomes is not None or self.max_grade is not None:
            # A stated severity: what it does not list is not expected.
            object.__setattr__(self, "outcomes", listed)


@dataclass(frozen=True)
class ExpectedEvents:
    """CTCAE terms expected for each treatment: the reference for expectedness (SUSAR).

    Each entry is a bare term or a table ``{ term, max_grade, outcomes }``
    (``ExpectedEvent``)."""

    radiotherapy: tuple[ExpectedEvent, ...] = ()
    systemic: tuple[ExpectedEvent, ...] = ()

    def __post_init__(self) -> None:
        for name in ("radiotherapy", "systemic"):
            entries = tuple(
                ExpectedEvent(e) if isinstance(e, str) else e for e in getattr(self, name)
            )
            object.__setattr__(self, name, entries)


@dataclass(frozen=True)
class ReportSettings:
    dsmb_day_of_month: int = 5
    out_dir: str = "var/reports"
    pdf: bool = True
    # An AE is acute when its onset is at most this many days after the start of the
    # latest RT course before it, late after that (safety_domain §5: 90 days).
    acute_days: int = 90


@dataclass(frozen=True)
class WebSettings:
    """`aewatch serve`: acknowledgement links in emails and the read-only safety board."""

    # The public HTTPS address of `aewatch serve` behind the site's reverse proxy; empty
    # means no links in emails (acknowledge with `aewatch alerts ack` only).
    base_url: str = ""
    host: str = "127.0.0.1"  # the server listens on loopback; the proxy faces the network
    port: int = 8470
    link_days: float = 14.0  # a link in an email stops working this long after sending
    session_minutes: float = 30.0  # a safety-board session lasts this long
    token_checks_per_minute: int = 20  # per client address; more get "429 try later"


@dataclass(frozen=True)
class LabRangeSetting:
    """A trial's own plausibility range for one analyte (on top of the shipped table)."""

    analyte: str
    low: float
    high: float
    unit: str = ""  # "" = any unit (a ratio such as INR)


@dataclass(frozen=True)
class PlausibilitySettings:
    """What a plausible value is, before anything is graded (docs/ingest.md)."""

    # The trial's first enrolment (ISO date; "" = unknown). Dates more than
    # history_margin_days before it are implausibly early.
    first_enrolment: str = ""
    history_margin_days: int = 3650
    # A date later than the file's receipt time plus this many days is in the future.
    future_tolerance_days: int = 1
    lab_ranges: tuple[LabRangeSetting, ...] = ()

    @property
    def first_enrolment_date(self) -> date | None:
        return date.fromisoformat(self.first_enrolment) if self.first_enrolment else None


@dataclass(frozen=True)
class SourceMapping:
    """How one site's or EDC's export maps onto SDTM variables."""

    name: str
    match: tuple[str, ...] = ("*",)
    domain: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    site: str = ""


@dataclass(frozen=True)
class Settings:
    trial: TrialSettings
    radiotherapy: RadiotherapySettings
    systemic_therapy: SystemicTherapySettings
    worker: WorkerSettings
    grading: GradingSettings
    alerts: AlertSettings
    smtp: SmtpSettings
    clocks: ClockSettings
    expected: ExpectedEvents
    reports: ReportSettings
    sources: tuple[SourceMapping, ...]
    plausibility: PlausibilitySettings
    stopping_rules: tuple[Any, ...]
    database_url: str
    source_path: str
    config_hash: str
    web: WebSettings = field(default_factory=WebSettings)

    @property
    def smtp_password(self) -> str:
        """Read at use, never stored in the settings object or the audit log."""
        return os.environ.get(f"{ENV_PREFIX}SMTP_PASSWORD", "")

    @property
    def web_secret(self) -> str:
        """The key that signs links and sessions: from the environment only, like the
        SMTP password, so it is never in the config file, its hash or the audit log."""
        return os.environ.get(f"{ENV_PREFIX}WEB_SECRET", "")

    @property
    def inbox(self) -> Path:
        return Path(self.worker.inbox)

    @property
    def data_dir(self) -> Path:
        return Path(self.worker.data_dir)

    @property
    def boundary_cache(self) -> Path:
        """Where built stopping boundaries are kept (``aewatch.safety.boundary_cache``)."""
        return self.data_dir / "boundaries"


_SECTIONS: dict[str, type] = {
    "trial": TrialSettings,
    "radiotherapy": RadiotherapySettings,
    "systemic_therapy": SystemicTherapySettings,
    "worker": WorkerSettings,
    "grading": GradingSettings,
    "alerts": AlertSettings,
    "smtp": SmtpSettings,
    "clocks": ClockSettings,
    "expected_events": ExpectedEvents,
    "reports": ReportSettings,
    "web": WebSettings,
    "plausibility": PlausibilitySettings,
}
_LIST_SECTIONS = ("stopping_rule",)
_TABLE_SECTIONS = ("sources",)
_SECRET_KEYS = {"password", "secret", "token"}


def load_settings(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read config from ``path`` (or ``AEWATCH_CONFIG``), apply env overrides, validate."""
    env = os.environ if env is None else env
    config_path = Path(path or env.get(f"{ENV_PREFIX}CONFIG") or DEFAULT_CONFIG)
    if not config_path.is_file():
        raise ConfigError(
            f"{config_path}: config file not found; set AEWATCH_CONFIG to the trial's TOML file"
        )
    raw_bytes = config_path.read_bytes()
    try:
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: not valid TOML: {exc}") from exc
    return settings_from_mapping(data, source=str(config_path), env=env)


def settings_from_mapping(
    data: Mapping[str, Any], source: str = "<memory>", env: Mapping[str, str] | None = None
) -> Settings:
    env = os.environ if env is None else env
    data = _apply_env_overrides(dict(data), env, source)
    unknown = set(data) - set(_SECTIONS) - set(_LIST_SECTIONS) - set(_TABLE_SECTIONS)
    if unknown:
        raise ConfigError(
            f"{source}: unknown section(s) {sorted(unknown)}; "
            f"expected one of {sorted([*_SECTIONS, *_LIST_SECTIONS, *_TABLE_SECTIONS])}"
        )
    if "trial" not in data:
        raise ConfigError(f"{source}: missing section [trial] (at least trial.id is required)")
    if isinstance(data.get("web"), Mapping) and "secret" in data["web"]:
        raise ConfigError(
            f"{source}: [web].secret: the link secret is never written in the config file; "
            f"set the environment variable {ENV_PREFIX}WEB_SECRET instead"
        )
    if isinstance(data.get("expected_events"), Mapping):
        data["expected_events"] = _expected_entries(data["expected_events"])
    built = {
        name: _build(cls, data.get(name, {}), f"{source}: [{name}]")
        for name, cls in _SECTIONS.items()
    }
    sources = tuple(
        _build_source(name, table, f"{source}: [sources.{name}]")
        for name, table in _expect_table(data.get("sources", {}), f"{source}: [sources]").items()
    )
    _check_ranges(built, source)
    trial: TrialSettings = built["trial"]
    web = _check_web(built["web"], f"{source}: [web]")
    _check_plausibility(built["plausibility"], f"{source}: [plausibility]")
    rules = _build_rules(data.get("stopping_rule", []), source, trial.planned_enrolment)
    worker: WorkerSettings = built["worker"]
    database_url = env.get(f"{ENV_PREFIX}DATABASE_URL") or default_database_url(worker)
    canonical = json.dumps(_redact(data), sort_keys=True, default=str).encode()
    return Settings(
        trial=trial,
        radiotherapy=built["radiotherapy"],
        systemic_therapy=built["systemic_therapy"],
        worker=worker,
        grading=built["grading"],
        alerts=built["alerts"],
        smtp=built["smtp"],
        clocks=built["clocks"],
        expected=built["expected_events"],
        reports=built["reports"],
        sources=sources,
        plausibility=built["plausibility"],
        stopping_rules=rules,
        database_url=database_url,
        source_path=source,
        config_hash=hashlib.sha256(canonical).hexdigest()[:16],
        web=web,
    )


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _check_web(web: WebSettings, where: str) -> WebSettings:
    """Links in emails must point at HTTPS (plain HTTP only on this machine, for trying it
    out), and the limits must be usable; the base URL is kept without a trailing slash."""
    from urllib.parse import urlsplit

    base = web.base_url.strip().rstrip("/")
    if base:
        parts = urlsplit(base)
        local_http = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        if parts.scheme != "https" and not local_http:
            raise ConfigError(
                f"{where}.base_url: expected an https:// address (the site's reverse proxy), "
                f"got {web.base_url!r}; http:// is accepted only for 127.0.0.1 or localhost"
            )
        if not parts.hostname or parts.query or parts.fragment or parts.username:
            raise ConfigError(
                f"{where}.base_url: expected scheme, host and an optional path only, "
                f"got {web.base_url!r}"
            )
    if not 0 < web.link_days <= 90:
        raise ConfigError(
            f"{where}.link_days: expected more than 0 and at most 90 days, got {web.link_days}"
        )
    if not 0 < web.session_minutes <= 24 * 60:
        raise ConfigError(
            f"{where}.session_minutes: expected more than 0 and at most 1440, "
            f"got {web.session_minutes}"
        )
    if web.token_checks_per_minute < 1:
        raise ConfigError(
            f"{where}.token_checks_per_minute: expected at least 1, "
            f"got {web.token_checks_per_minute}"
        )
    if not 0 < web.port < 65536:
        raise ConfigError(f"{where}.port: expected 1-65535, got {web.port}")
    return replace(web, base_url=base)


def _check_ranges(built: Mapping[str, Any], source: str) -> None:
    """Values a type check cannot judge, named by their key."""
    limits = (
        ("alerts", "approaching_min_evaluable", 0),
        ("reports", "acute_days", 1),
    )
    for section, key, minimum in limits:
        value = getattr(built[section], key)
        if value < minimum:
            raise ConfigError(
                f"{source}: [{section}].{key}: expected an integer >= {minimum}, got {value}"
            )


def default_database_url(worker: WorkerSettings) -> str:
    """The embedded default: a SQLite file in the data directory next to the inbox."""
    return f"sqlite:///{Path(worker.data_dir) / 'aewatch.sqlite'}"


def _build_rules(raw: Any, source: str, planned: int) -> tuple[Any, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: [[stopping_rule]] must be an array of tables")
    if not raw:
        return ()
    from aewatch.safety.rules import parse_rule  # only when rules are configured

    rules = []
    for index, table in enumerate(raw):
        try:
            rules.append(
                parse_rule(table, where=f"stopping_rule[{index}]", n_max=planned, build=False)
            )
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from exc
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: stopping_rule names must be unique, got {names}")
    return tuple(rules)


def _check_plausibility(settings: PlausibilitySettings, where: str) -> None:
    if settings.first_enrolment:
        try:
            date.fromisoformat(settings.first_enrolment)
        except ValueError as exc:
            raise ConfigError(
                f"{where}.first_enrolment: expected an ISO date (YYYY-MM-DD), "
                f"got {settings.first_enrolment!r}"
            ) from exc
    for key in ("history_margin_days", "future_tolerance_days"):
        if getattr(settings, key) < 0:
            raise ConfigError(f"{where}.{key}: must be 0 or more, got {getattr(settings, key)}")
    for index, entry in enumerate(settings.lab_ranges):
        if not entry.analyte.strip():
            raise ConfigError(f"{where}.lab_ranges[{index}]: analyte is empty")
        if not (math.isfinite(entry.low) and math.isfinite(entry.high) and entry.low < entry.high):
            raise ConfigError(
                f"{where}.lab_ranges[{index}] ({entry.analyte}): need finite low < high, "
                f"got {entry.low!r} to {entry.high!r}"
            )


def _build_source(name: str, table: Any, where: str) -> SourceMapping:
    table = _expect_table(table, where)
    allowed = {"match", "domain", "columns", "values", "site"}
    _reject_unknown(table, allowed, where)
    match = table.get("match", ["*"])
    if isinstance(match, str):
        match = [match]
    columns = _expect_table(table.get("columns", {}), f"{where}.columns")
    values = _expect_table(table.get("values", {}), f"{where}.values")
    for variable, mapping in values.items():
        _expect_table(mapping, f"{where}.values.{variable}")
    return SourceMapping(
        name=name,
        match=tuple(_coerce(str, m, f"{where}.match") for m in match),
        domain=str(table.get("domain", "")).upper(),
        columns={str(k): str(v).upper() for k, v in columns.items()},
        values={
            str(var).upper(): {str(k): str(v) for k, v in mapping.items()}
            for var, mapping in values.items()
        },
        site=str(table.get("site", "")),
    )


def _expected_entries(section: Mapping[str, Any]) -> dict[str, Any]:
    """The short form of an expected event (a bare term) as its table ``{ term = ... }``."""
    out = dict(section)
    for name, entries in section.items():
        if isinstance(entries, str):  # from an environment variable
            entries = _parse_env_list(entries)
        if isinstance(entries, list | tuple):
            out[name] = [{"term": e} if isinstance(e, str) else e for e in entries]
    return out


def _build(cls: type, raw: Any, where: str) -> Any:
    raw = _expect_table(raw, where)
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    _reject_unknown(raw, known, where)
    values = {}
    for f in fields(cls):
        if f.name in raw:
            values[f.name] = _coerce(hints[f.name], raw[f.name], f"{where}.{f.name}")
    try:
        return cls(**values)
    except ConfigError as exc:  # a value check of the section (__post_init__)
        raise ConfigError(f"{where.rsplit(': [', 1)[0]}: {exc}") from exc
    except TypeError as exc:
        missing = [f.name for f in fields(cls) if f.name not in values and _is_required(f)]
        raise ConfigError(f"{where}: missing required key(s) {missing}") from exc


def _is_required(f: Any) -> bool:
    from dataclasses import MISSING

    return f.default is MISSING and f.default_factory is MISSING


def _reject_unknown(raw: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; expected {sorted(known)}")


def _expect_table(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(raw).__name__} {raw!r}")
    return dict(raw)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """Check one value against its type hint; strings from env vars are parsed."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        if isinstance(value, str):
            value = _parse_env_list(value)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value, where)
    if origin is Mapping and isinstance(value, str):  # from the environment: a JSON object
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: expected a JSON object, got {value!r}: {exc}") from exc
    if origin in (types.UnionType, typing.Union):
        # ``X | None``: an optional key (TOML has no null, so a value is an X).
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return _coerce(args[0], value, where)
        raise ConfigError(f"{where}: unsupported type {hint}")  # pragma: no cover
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "1", "yes", "false", "0", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _parse_env_list(text: str) -> list[Any]:
    text = text.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"cannot parse list {text!r}: {exc}") from exc
        return list(parsed)
    return [part.strip() for part in text.split(",") if part.strip()]


def _apply_env_overrides(
    data: dict[str, Any], env: Mapping[str, str], source: str
) -> dict[str, Any]:
    """``AEWATCH_SMTP__PORT=2525`` sets [smtp].port; values are parsed by the key's type."""
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].partition("__")
        section, key = section.lower(), key.lower()
        if section not in _SECTIONS:
            raise ConfigError(
                f"environment variable {name}: unknown section {section!r}; "
                f"expected one of {sorted(_SECTIONS)}"
            )
        if key in _SECRET_KEYS:
            continue
        table = dict(data.get(section, {}))
        table[key] = value
        data[section] = table
    return data


def _redact(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {k: _redact(v) for k, v in data.items() if k not in _SECRET_KEYS}
    if isinstance(data, list):
        return [_redact(v) for v in data]
    return data


def describe(settings: Settings) -> dict[str, Any]:
    """A JSON-able view of the effective settings (no secrets), for `aewatch config`."""

    def plain(value: Any) -> Any:
        if is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    view = plain(settings)
    view["database_url"] = _hide_password(settings.database_url)
    return view


def _hide_password(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
