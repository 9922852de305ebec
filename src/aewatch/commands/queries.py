"""`aewatch quarantine resolve`: a person answers a query no corrected export can answer.
Thin: the work is in ``aewatch.store.resolutions``."""

from __future__ import annotations

from typing import Annotated

import typer

from aewatch.commands.alerts import _runtime


def register(app: typer.Typer) -> None:
    from aewatch.cli import quarantine_app

    quarantine_app.command("resolve")(quarantine_resolve)


def quarantine_resolve(
    entry_id: Annotated[int, typer.Argument(help="The entry id from `aewatch quarantine list`")],
    by: Annotated[str, typer.Option("--by", help="Your name, recorded in the audit trail")],
    note: Annotated[str, typer.Option(help="What you established, and from which source")],
) -> None:
    """Resolve an open query by hand, when no corrected export can answer it (audited).

    For a death recorded in DM without a fatal AE: confirm it was not caused by an AE (the
    derived grade 5 Death NOS stops counting). For a re-export that emptied a death:
    confirm the removal (the death is removed). A query resolved by hand is not raised
    again.

    Example: aewatch quarantine resolve 17 --by "Dr Li" --note "HCC progression (site PI)"
    """
    from aewatch.store.resolutions import ResolutionRefused, resolve_by_hand

    runtime = _runtime()
    try:
        with runtime.sessions() as session, session.begin():
            entry, effect = resolve_by_hand(session, entry_id, by, note, runtime.clock.now())
            line = f"resolved query {entry.id} ({entry.subject_id}, {entry.field}): {effect}"
    except ResolutionRefused as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(1) from exc
    finally:
        runtime.close()
    typer.echo(line)
