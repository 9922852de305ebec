"""`aewatch serve`: the acknowledgement pages and the safety board. Starlette and uvicorn
are imported inside the command, so every other command starts as fast as before."""

from __future__ import annotations

import logging
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (default [web].host, 127.0.0.1: behind the HTTPS proxy)"
        ),
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default [web].port, 8470)")] = None,
) -> None:
    """Serve the pages behind the links in alert emails: acknowledge an alert (the link
    opens a page; only its button acknowledges) and a read-only safety board (open
    alerts, stopping rules, counts, the latest DSMB report).

    Needs AEWATCH_WEB_SECRET (the same value as `aewatch run`) and the database the worker
    uses; put it behind the site's HTTPS reverse proxy at [web].base_url.

    Example: AEWATCH_WEB_SECRET=… aewatch serve --port 8470
    """
    from aewatch.alerts.links import secret_problem
    from aewatch.cli import open_runtime
    from aewatch.migrate import current_revision

    runtime = open_runtime()
    problem = secret_problem(runtime.settings, required=True)
    if problem:
        typer.secho(f"configuration error: {problem}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    if current_revision(runtime.engine) is None:
        typer.secho(
            "database error: no aewatch schema here (run `aewatch init` first)",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2)
    from aewatch.web.server import serve as run_server

    logging.getLogger("aewatch.web").setLevel(logging.INFO)
    run_server(
        runtime,
        runtime.settings.web_secret,
        host or runtime.settings.web.host,
        port or runtime.settings.web.port,
    )
