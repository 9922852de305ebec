"""`aewatch alerts …`: what was sent to whom, and acknowledging it. Thin: the work is in
``aewatch.alerts``; heavy imports live inside the commands so `--help` starts fast."""

from __future__ import annotations

from typing import Annotated, Any

import typer

alerts_app = typer.Typer(
    help=(
        "Alerts to the safety officer, DSMB and trial office: list them, read one, "
        "acknowledge an SAE (stops reminders and escalation) or send one again.\n\n"
        "Example: aewatch alerts list --status unacknowledged"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

STATUSES = ("due", "sending", "sent", "failed", "unacknowledged", "all")
COLUMNS = ["id", "status", "priority", "kind", "subject_line", "created_at", "sent_at",
           "attempts", "acknowledged_by"]


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


def _runtime() -> Any:
    from aewatch.config import ConfigError
    from aewatch.runtime import open_runtime

    try:
        return open_runtime()
    except ConfigError as exc:
        typer.secho(f"configuration error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "priority": row.priority,
        "kind": row.kind,
        "subject_line": row.subject_line,
        "recipients": list(row.recipients),
        "created_at": _iso(row.created_at),
        "sent_at": _iso(row.sent_at),
        "attempts": row.attempts,
        "next_attempt_at": _iso(row.next_attempt_at),
        "last_error": row.last_error,
        "message_id": row.message_id,
        "dedup_key": row.dedup_key,
        "requires_ack": row.requires_ack,
        "acknowledged_at": _iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "ack_note": row.ack_note,
        "escalation_level": row.escalation_level,
        "parent_id": row.parent_pk,
        "report_due_at": _iso(row.report_due_at),
    }


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat(timespec="minutes")


@alerts_app.command("list")
def list_alerts(
    status: Annotated[str, typer.Option(
        "--status", "-s",
        help="due, sending, sent, failed, unacknowledged (SAE/death alerts nobody has "
             "acknowledged yet) or all")] = "all",
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. sae-initial, death")]
    = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 100,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table (for people) or json")]
    = "table",
) -> None:
    """List alerts, newest first.

    Example: aewatch alerts list --status unacknowledged
    """
    from aewatch.alerts.listing import list_alerts as read_alerts
    from aewatch.cli import load_settings_or_exit
    from aewatch.dbapi import connect
    from aewatch.output import emit

    if status not in STATUSES:
        typer.secho(f"--status must be one of {', '.join(STATUSES)}", err=True, fg="red")
        raise typer.Exit(2)
    settings = load_settings_or_exit()
    with connect(settings.database_url) as db:  # the driver alone: no ORM start-up
        rows = [_summary(row) for row in read_alerts(db, status, kind, limit)]
    emit(rows, COLUMNS, fmt=fmt, title=f"alerts ({status})")


@alerts_app.command("show")
def show(
    alert_id: Annotated[int, typer.Argument(help="The alert id from `aewatch alerts list`")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="text (for people) or json")]
    = "text",
) -> None:
    """Show one alert: its state, its history and the email text exactly as rendered.

    Example: aewatch alerts show 42
    """
    import json

    from aewatch.alerts.listing import alert_history, find_alert
    from aewatch.alerts.render import OutgoingAlert, render_message
    from aewatch.cli import load_settings_or_exit
    from aewatch.clock import SystemClock
    from aewatch.dbapi import connect

    settings = load_settings_or_exit()
    with connect(settings.database_url) as db:  # the driver alone: no ORM start-up
        row = find_alert(db, alert_id)
        if row is None:
            typer.secho(f"no alert with id {alert_id}", err=True, fg="red")
            raise typer.Exit(1)
        history = [{**a, "at": _iso(a["at"])} for a in alert_history(db, alert_id)]
    summary = _summary(row)
    message = render_message(OutgoingAlert.from_row(row, row.trial_id),
                             from_address=settings.alerts.from_address,
                             now=SystemClock().now())
    body = message.get_body(("plain",)).get_content()
    if fmt == "json":
        typer.echo(json.dumps({**summary, "history": history, "text": body}, indent=2,
                              default=str, ensure_ascii=False))
        return
    for key, value in summary.items():
        typer.echo(f"{key + ':':18} {'' if value is None else value}")
    typer.echo("\nhistory:")
    for entry in history:
        typer.echo(f"  {entry['at']}  {entry['action']:24} {entry['actor']}")
    typer.echo("\n" + body)


@alerts_app.command("ack")
def ack(
    alert_id: Annotated[int, typer.Argument(help="The alert id (a reminder's id works too)")],
    by: Annotated[str, typer.Option("--by", help="Your name, recorded in the audit trail")],
    note: Annotated[str | None, typer.Option(help="What you did, e.g. 'sponsor notified'")]
    = None,
) -> None:
    """Acknowledge an SAE or death alert: reminders and escalation stop.

    Acknowledging confirms you have read it; it does not report it to the sponsor.

    Example: aewatch alerts ack 42 --by "Dr Li" --note "sponsor notified 09:10"
    """
    from aewatch.alerts.ack import AlertNotFound, acknowledge

    runtime = _runtime()
    try:
        with runtime.sessions() as session, session.begin():
            root = acknowledge(session, alert_id, by, note, runtime.clock.now())
            line = f"acknowledged alert {root.id}: {root.subject_line}"
    except (AlertNotFound, ValueError) as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(1) from exc
    finally:
        runtime.close()
    typer.echo(line)


@alerts_app.command("resend")
def resend_alert(
    alert_id: Annotated[int, typer.Argument(help="The alert id from `aewatch alerts list`")],
) -> None:
    """Send an alert again, with the same Message-ID (one message in mail programs).

    Use it after fixing a recipient address or the SMTP settings; the daemon sends it on
    its next poll.

    Example: aewatch alerts resend 42
    """
    from aewatch.alerts.ack import AlertNotFound, resend

    runtime = _runtime()
    try:
        with runtime.sessions() as session, session.begin():
            row = resend(session, alert_id, runtime.clock.now(), by="cli")
            line = f"alert {row.id} queued again: {row.subject_line}"
    except AlertNotFound as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(1) from exc
    finally:
        runtime.close()
    typer.echo(line)
