"""CLI: `aewatch counts`, `aewatch subject ID`, `aewatch report dsmb --month YYYY-MM`.

Thin on purpose: parse options, call ``aewatch.reports``, print. pandas, SQLAlchemy and
the models are imported inside the commands, so `aewatch --help` and every other
command start fast. `counts` and `subject` import neither: the database aggregates
(``reports.sql_counts``), a patient's rows are few (``reports.timeline``), and the
driver is used directly (``aewatch.dbapi``).

Every command takes the same data cut (aewatch.reports.datacut): ``--cut DATE`` keeps
events dated on or before DATE (default: today), ``--as-of`` what was recorded by then
(default: everything); `report dsmb` cuts at the month's end.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import typer

BY_CHOICES = ("term", "soc", "grade", "subject", "site")
RELATED_CHOICES = ("rt", "systemic", "any")
PART_CHOICES = ("open", "closed", "both")
CUT_HELP = "clinical cut: events dated on or before DATE (default: today)"
AS_OF_HELP = "knowledge: data as recorded by DATE (end of day) or TIME, UTC (default: now)"


def register(app: typer.Typer) -> None:
    """Add the reporting commands to the main app."""
    app.command("counts")(counts)
    app.command("subject")(subject)
    report_app = typer.Typer(help="Generate reports (DSMB monthly safety report).")
    report_app.command("dsmb")(report_dsmb)
    app.add_typer(report_app, name="report")


def counts(
    by: str = typer.Option("term", "--by", help="term | soc | grade | subject | site"),
    min_grade: int | None = typer.Option(None, "--min-grade", min=1, max=5),
    related: str | None = typer.Option(None, "--related", help="rt | systemic | any"),
    serious: bool = typer.Option(False, "--serious", help="SAEs only"),
    since: str | None = typer.Option(None, "--since", help="onset on or after DATE"),
    cut: str | None = typer.Option(None, "--cut", help=CUT_HELP),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    fmt: str = typer.Option("table", "--format", help="table | csv | json"),
) -> None:
    """Toxicity counts over the safety population: patients at worst grade, and events,
    at the data cut (the same numbers as the DSMB report for that cut).

    Example: aewatch counts --by term --min-grade 3 --related rt --format json;
    aewatch counts --cut 2026-10-31 --as-of 2026-11-05T06:00
    """
    _check_choice("--by", by, BY_CHOICES)
    if related is not None:
        _check_choice("--related", related, RELATED_CHOICES)
    _check_choice("--format", fmt, ("table", "csv", "json"))
    from aewatch.dbapi import connect
    from aewatch.reports.sql_counts import counts_document

    since_day = _parse_day(since, "--since")
    chosen = data_cut(cut, as_of, clock_now())
    settings = _settings()
    with connect(settings.database_url) as db:
        document = counts_document(
            db,
            settings.trial.id,
            by=by,
            min_grade=min_grade,
            related=related,
            serious=serious,
            since=since_day,
            cut=chosen,
            safety_population=settings.trial.safety_population,
        )
    rows = [_flat_row(row) for row in document["counts"]]  # type: ignore[attr-defined]
    population_n = document["safety_population"]
    title = (
        f"Safety population: {population_n} patients (by patient at worst grade). "
        f"{chosen.describe()}"
    )
    _emit(rows, fmt, title=title, json_document=document)


def subject(
    subject_id: str = typer.Argument(..., help="the trial subject ID"),
    cut: str | None = typer.Option(None, "--cut", help=CUT_HELP),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    fmt: str = typer.Option("table", "--format", help="table | json"),
) -> None:
    """One patient's timeline at the data cut: RT courses and their fractions, systemic
    therapy, AEs with grade history, lab grades, disposition events, alerts.

    Example: aewatch subject 01-701-1015 --cut 2026-10-31
    """
    _check_choice("--format", fmt, ("table", "json"))
    from aewatch.dbapi import connect
    from aewatch.reports.timeline import subject_timeline
    from aewatch.store.status_reads import trial_pk

    chosen = data_cut(cut, as_of, clock_now())
    settings = _settings()
    with connect(settings.database_url) as db:
        trial = trial_pk(db, settings.trial.id)
        found = None if trial is None else subject_timeline(db, trial, subject_id, chosen)
    if found is None:
        typer.echo(f"unknown subject {subject_id!r}", err=True)
        raise typer.Exit(1)
    sections = found.sections()
    if fmt == "json":
        document = {
            "subject": _records([found.subject])[0],
            **{k: _records(v) for k, v in sections.items()},
        }
        _emit([], "json", json_document=document)
        return
    for name, rows in sections.items():
        _emit(_records(rows), "table", title=f"{subject_id}: {name.replace('_', ' ')}")


def report_dsmb(
    month: str = typer.Option(..., "--month", help="YYYY-MM: the month whose end is the cut"),
    part: str = typer.Option(
        "both", "--part", help="open (aggregates, no subject IDs) | closed (listings) | both"
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="knowledge time to replay (default: now, stated in the report)"
    ),
    out: str | None = typer.Option(None, "--out", help="output folder (default reports.out_dir)"),
    pdf: bool = typer.Option(False, "--pdf", help="also write the PDF (WeasyPrint)"),
    email: bool = typer.Option(
        False, "--email", help="queue each part to its recipients (alerts.dsmb_open, alerts.dsmb)"
    ),
) -> None:
    """Build the DSMB monthly safety report (HTML, optionally PDF) for one month.

    Clinical cut: the month's last day; knowledge: everything recorded now (or --as-of,
    e.g. the generation time a report states, to reproduce it).

    Example: aewatch report dsmb --month 2026-02 --part open --pdf
    """
    from pathlib import Path

    from aewatch.reports.dsmb import build_dsmb_report, parse_month
    from aewatch.reports.schedule import queue_report_email

    _check_choice("--part", part, PART_CHOICES)
    try:
        parse_month(month)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--month") from exc
    parts = ("open", "closed") if part == "both" else (part,)
    runtime = _open_runtime()
    try:
        out_dir = Path(out or runtime.settings.reports.out_dir)
        result = build_dsmb_report(
            runtime.sessions,
            runtime.settings,
            month,
            runtime.clock,
            out_dir,
            pdf or email,
            parts=parts,
            as_of=parse_as_of(as_of),
        )
        if email:
            queued = queue_report_email(
                runtime.sessions, runtime.settings, month, result, runtime.clock
            )
            for name in parts:
                typer.echo(
                    f"{name} part: email queued"
                    if name in queued
                    else f"{name} part: email already queued for this month"
                )
    finally:
        runtime.close()
    for name, files in result.parts.items():
        typer.echo(f"{name} HTML: {files.html_path}")
        if files.pdf_path:
            typer.echo(f"{name} PDF:  {files.pdf_path}")
    typer.echo(f"tables sha256: {result.tables_sha256}")
    typer.echo(result.summary_text)


def clock_now() -> datetime:
    """Now, for the default cut of the commands that open no runtime (`counts`, `subject`)."""
    from aewatch.clock import SystemClock

    return SystemClock().now()


def data_cut(cut: str | None, as_of: str | None, now: datetime) -> Any:
    """``--cut`` and ``--as-of`` as one DataCut (aewatch.reports.datacut): the clinical
    day (default: the day of ``--as-of``, else today) and the knowledge time."""
    from aewatch.reports.datacut import DataCut

    return DataCut.at(_parse_day(cut, "--cut"), parse_as_of(as_of), now)


def parse_as_of(value: str | None) -> datetime | None:
    """A day means the end of that UTC day; a full ISO timestamp is taken as given."""
    if value is None:
        return None
    if len(value) == 10:
        day = _parse_day(value, "--as-of")
        assert day is not None
        return datetime.combine(day, time.max, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"expected YYYY-MM-DD or an ISO timestamp, got {value!r}", param_hint="--as-of"
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}", param_hint=option) from exc


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=option)


def _flat_row(row: dict[str, Any]) -> dict[str, Any]:
    """Table/CSV view of a JSON count row: one column per worst grade."""
    flat = {k: v for k, v in row.items() if k != "patients_by_worst_grade"}
    events = flat.pop("events")
    g3 = flat.pop("patients_grade3plus")
    for grade, n in row["patients_by_worst_grade"].items():
        flat[f"G{grade}"] = n
    flat["G>=3"] = g3
    flat["events"] = events
    return flat


def _records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as JSON values: dates as ISO days, times as ISO timestamps."""
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _emit(
    rows: list[dict[str, Any]], fmt: str, *, title: str | None = None, json_document: Any = None
) -> None:
    from aewatch.output import emit

    columns = list(rows[0]) if rows else None
    emit(rows, columns, fmt=fmt, title=title, json_document=json_document)


def _settings() -> Any:
    """The trial settings alone: `counts` needs no SQLAlchemy engine."""
    from aewatch.cli import load_settings_or_exit

    return load_settings_or_exit()


def _open_runtime() -> Any:
    """The lead's runtime (settings, engine, sessions, clock, trial_pk)."""
    from aewatch.runtime import open_runtime

    return open_runtime()
