"""The `aewatch` command. Thin: parse options, call the library, print.

Heavy libraries (pandas, SQLAlchemy, matplotlib) are imported inside commands so
`aewatch --help` and quick queries start fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="aewatch",
    help=(
        "Safety monitoring for the NCT06261047 radiotherapy trial: reads site exports, "
        "grades adverse events and labs with CTCAE v5.0, watches the toxicity stopping "
        "rules and emails the safety officer about SAEs and thresholds."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
quarantine_app = typer.Typer(
    help="Rows that could not be taken as sent: rejected, held for an unknown subject, or queried.",
    no_args_is_help=True,
)
app.add_typer(quarantine_app, name="quarantine")

FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="table (for people), json or csv (for scripts)")
]


@app.callback()
def _global(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Trial config file (default: $AEWATCH_CONFIG or config/nct06261047.toml)",
            envvar="AEWATCH_CONFIG",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every step.")] = False,
) -> None:
    if config is not None:
        os.environ["AEWATCH_CONFIG"] = str(config)
    import logging

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def load_settings_or_exit() -> Any:
    """The settings alone (no database, no SQLAlchemy), config errors as one line (exit 2)."""
    from aewatch.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        typer.secho(f"configuration error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


def open_runtime(*, migrate: bool = False) -> Any:
    """Settings + database, with config errors shown as one clear line (exit 2)."""
    from aewatch.runtime import open_runtime as _open

    runtime = _open(settings=load_settings_or_exit())
    if migrate:  # commands that write data: also build every stopping boundary now
        from aewatch.migrate import upgrade
        from aewatch.safety.rules import check_boundaries

        try:
            check_boundaries(
                runtime.settings.stopping_rules, cache=runtime.settings.boundary_cache, write=True
            )
        except ValueError as exc:
            typer.secho(
                f"configuration error: {runtime.settings.source_path}: {exc}",
                err=True,
                fg=typer.colors.RED,
            )
            raise typer.Exit(2) from exc
        upgrade(runtime.engine)
    return runtime


@app.command()
def init() -> None:
    """Create or upgrade the database and the inbox folders. Safe to run any number of times.

    Example: aewatch init
    """
    from aewatch.ingest.inbox import Inbox
    from aewatch.migrate import current_revision

    runtime = open_runtime(migrate=True)
    with runtime.sessions() as session, session.begin():
        runtime.trial_pk(session)
    Inbox(runtime.settings.inbox, "init").ensure()
    Path(runtime.settings.alerts.outbox_dir).mkdir(parents=True, exist_ok=True)
    from aewatch.config import _hide_password

    typer.echo(f"trial:     {runtime.settings.trial.id}")
    typer.echo(
        f"database:  {_hide_password(runtime.settings.database_url)} "
        f"(schema {current_revision(runtime.engine)})"
    )
    typer.echo(f"inbox:     {runtime.settings.inbox}")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Export files (.csv, .json, .xpt, .xlsx)")],
    fmt: FormatOption = "table",
) -> None:
    """Ingest export files now, exactly as the daemon would, and print what happened to each.

    The originals are left where they are. Every row is accounted for: accepted, held
    (subject not in DM yet) or quarantined with a reason (see `aewatch quarantine list`).

    Example: aewatch ingest site12/ae.csv site12/lb.xpt --format json
    """
    from aewatch.pipeline import Pipeline
    from aewatch.worker import default_worker_id

    missing = [p for p in paths if not p.is_file()]
    if missing:
        typer.secho(f"not a file: {', '.join(map(str, missing))}", err=True, fg="red")
        raise typer.Exit(2)
    runtime = open_runtime(migrate=True)
    # Its own processing folder: the daemon on this host must not adopt these copies.
    worker_id = f"{default_worker_id()}-ingest-{os.getpid()}"
    pipeline = Pipeline(runtime.settings, runtime.sessions, runtime.clock, worker_id)
    outcomes = pipeline.ingest_paths(paths)
    from aewatch.output import emit

    rows = [o.as_dict() for o in outcomes]
    columns = [
        "path",
        "status",
        "rows",
        "accepted",
        "versions",
        "quarantined",
        "pending",
        "queries",
        "alerts",
        "reason",
    ]
    emit(rows, columns, fmt=fmt, title="ingest", json_document={"files": rows})
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


@app.command()
def run(
    once: Annotated[
        bool, typer.Option("--once", help="Do one full cycle (ingest, rules, send) and exit.")
    ] = False,
) -> None:
    """Run the safety daemon: poll the inbox, grade, check stopping rules, send alerts.

    Stops cleanly on Ctrl-C or SIGTERM after finishing the file in hand.

    Example: aewatch run            (keeps running)
             aewatch run --once     (one cycle, e.g. from cron or a test)
    """
    from aewatch.alerts.links import secret_problem
    from aewatch.worker import Worker

    runtime = open_runtime(migrate=True)
    problem = secret_problem(runtime.settings)  # [web].base_url puts signed links in emails
    if problem:
        typer.secho(
            f"configuration error: [web].base_url is set but {problem}",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2)
    worker = Worker(runtime.settings, runtime.sessions, runtime.clock)
    worker.run(once=once)


@app.command()
def demo(
    inbox: Annotated[
        Path | None, typer.Option(help="Where to write the files (default: the configured inbox)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data")] = 6,
) -> None:
    """Write a realistic synthetic export for this trial into the inbox.

    36 patients over 18 months from 4 sites: DM, radiotherapy courses (EX), adverse
    events with a liver-radiotherapy toxicity profile, labs, disposition events (DS), a
    few SAEs and some deliberately bad rows, so you can watch the daemon quarantine them.

    Example: aewatch demo && aewatch run --once && aewatch alerts list
    """
    from aewatch.config import ConfigError, load_settings
    from aewatch.demo import write_demo_export

    try:
        settings = load_settings()
    except ConfigError as exc:
        typer.secho(f"configuration error: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc
    target = inbox or settings.inbox
    files = write_demo_export(target, seed=seed, trial_id=settings.trial.id)
    for path in files:
        typer.echo(str(path))


@quarantine_app.command("list")
def quarantine_list(
    kind: Annotated[
        str | None, typer.Option(help="rejected, pending (subject not in DM yet) or query")
    ] = None,
    state: Annotated[str, typer.Option(help="open, applied, resolved or all")] = "open",
    file: Annotated[str | None, typer.Option(help="Only rows from this file name")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many rows")] = 500,
    fmt: FormatOption = "table",
) -> None:
    """Show quarantined rows with file, row, field, value and the reason to fix.

    Example: aewatch quarantine list --kind pending
    """
    from aewatch.dbapi import connect
    from aewatch.output import emit

    settings = load_settings_or_exit()
    where, params = [], {"limit": limit}
    for column, value in (("kind", kind), ("file_name", file)):
        if value:
            where.append(f"{column} = :{column}")
            params[column] = value
    if state != "all":
        where.append("state = :state")
        params["state"] = state
    sql = (
        "SELECT id, kind, state, file_name, row_number, domain, subject_id, field, value,"
        " reason FROM quarantine"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY id LIMIT :limit"
    )
    names = ["id", "kind", "state", "file", "row", "domain", "subject", "field", "value", "reason"]
    with connect(settings.database_url) as db:  # the driver alone: no ORM start-up
        rows = [dict(zip(names, row, strict=True)) for row in db.rows(sql, params)]
    emit(
        rows,
        ["id", "kind", "state", "file", "row", "domain", "subject", "field", "value", "reason"],
        fmt=fmt,
        title="quarantine",
        json_document={"entries": rows},
    )


@app.command("config")
def show_config(fmt: FormatOption = "json") -> None:
    """Check the trial configuration and print the settings in force (no secrets).

    Example: AEWATCH_SMTP__PORT=2525 aewatch config
    """
    from aewatch.config import describe
    from aewatch.output import emit

    settings = load_settings_or_exit()
    view = describe(settings)
    view["stopping_rules"] = [getattr(r, "name", str(r)) for r in settings.stopping_rules]
    emit([], fmt="json", json_document=view)


def _register_feature_commands() -> None:
    """Each feature module adds its own commands; a missing one must not break the rest."""
    import importlib

    for name in ("grading", "rules", "status", "alerts", "queries", "reports", "web"):
        try:
            module = importlib.import_module(f"aewatch.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"aewatch.commands.{name}":
                raise
            continue
        module.register(app)


_register_feature_commands()


def main() -> None:
    """Console entry point: database problems become one line a person can act on."""
    try:
        app()
    except SystemExit as done:
        from aewatch.process_exit import exit_now_if_asked

        exit_now_if_asked(done.code)
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("sqlalchemy", "sqlite3", "psycopg", "aewatch.dbapi")):
            hint = (
                "run `aewatch init` first"
                if "no such table" in str(exc)
                or "does not exist" in str(exc)
                or "no database at" in str(exc)
                else "check AEWATCH_DATABASE_URL and the server"
            )
            sys.stderr.write(f"database error: {str(exc).splitlines()[0]} ({hint})\n")
            raise SystemExit(2) from exc
        raise


if __name__ == "__main__":
    main()
