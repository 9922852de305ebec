"""`aewatch status` and `aewatch rules`: where each stopping rule stands, and what it is."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from types import SimpleNamespace
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        what_if: Annotated[
            int | None,
            typer.Option("--what-if", help="Would this many more toxic patients cross a rule?"),
        ] = None,
        cut: Annotated[
            str | None,
            typer.Option("--cut", help="clinical cut: events dated on or before DATE"),
        ] = None,
        as_of: Annotated[
            str | None,
            typer.Option("--as-of", help="knowledge: data as recorded by DATE or TIME (UTC)"),
        ] = None,
        fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    ) -> None:
        """Each stopping rule at the data cut: state (ok / approaching / crossed), evaluable
        patients, patients with a qualifying toxicity, the boundary at this number, how
        many more toxicities are allowed (cushion), where a crossed rule crossed
        (crossed_at_n, crossed_on: the day that patient became evaluable), and when the
        state last changed. Default cut: today, everything recorded.

        Example: aewatch status --what-if 2;  aewatch status --cut 2026-10-31
        """
        from aewatch.cli import load_settings_or_exit
        from aewatch.commands import reports
        from aewatch.output import emit
        from aewatch.safety.rules import check_boundaries

        settings = load_settings_or_exit()
        try:  # read back what the daemon built; build what it has not
            check_boundaries(settings.stopping_rules, cache=settings.boundary_cache)
        except ValueError as exc:
            typer.secho(f"configuration error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from exc
        clock = SimpleNamespace(now=reports.clock_now)
        chosen = reports.data_cut(cut, as_of, clock.now())
        rows = current_status(SimpleNamespace(settings=settings, clock=clock), what_if, chosen)
        columns = [
            "rule",
            "state",
            "evaluable_n",
            "toxic_n",
            "stop_at",
            "cushion",
            "crossed_at_n",
            "crossed_on",
            "pending_n",
            "last_change",
            "toxic_subjects",
        ]
        if what_if is not None:
            columns.append("what_if")
        if fmt == "table":
            rows_out = [{**r, "toxic_subjects": ", ".join(r["toxic_subjects"])} for r in rows]
            emit(rows_out, columns, fmt="table", title=f"stopping rules. {chosen.describe()}")
        else:
            document = {
                "clinical_cut": chosen.clinical_day.isoformat() if chosen.clinical_day else None,
                "known_at": chosen.known_at.isoformat() if chosen.known_at else None,
                "rules": rows,
            }
            emit(rows, columns, fmt=fmt, json_document=document)

    @app.command()
    def rules(
        fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    ) -> None:
        """The configured stopping rules: which events count, the window, the method and its
        parameters, the full boundary table and the operating characteristics at p0 and p1.

        Example: aewatch rules --format json
        """
        from aewatch.cli import load_settings_or_exit
        from aewatch.safety.rules import check_boundaries

        settings = load_settings_or_exit()
        try:  # read back what the daemon built; build what it has not
            check_boundaries(settings.stopping_rules, cache=settings.boundary_cache)
        except ValueError as exc:
            typer.secho(f"configuration error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from exc
        documents = [rule_document(rule) for rule in settings.stopping_rules]
        if fmt == "json":
            from aewatch.output import emit

            emit([], fmt="json", json_document={"rules": documents})
            return
        from aewatch.output import table

        for document in documents:
            typer.echo(f"\n{document['name']}: {document['description']}")
            definition = {k: v for k, v in document["definition"].items() if v not in (None, [])}
            typer.echo("  " + "; ".join(f"{k}={v}" for k, v in definition.items()))
            table(document["boundary_table"], ["evaluable", "rule"])
            table(document["oc"], ["p", "p_stop", "expected_n"])


def rule_document(rule: Any) -> dict[str, Any]:
    from aewatch.commands.rules import boundary_table_rows
    from aewatch.safety.operating import operating_characteristics

    boundary = rule.boundary()
    rates = sorted(set(rule.reference_rates()))
    oc = operating_characteristics(boundary, rates) if rates else []
    definition = {
        f.name: _plain(getattr(rule, f.name))
        for f in dataclasses.fields(rule)
        if f.name not in ("name", "description")
    }
    return {
        "name": rule.name,
        "description": rule.description,
        "definition": definition,
        "boundary": [
            {"n": n, "stop_at": b} for n, b in zip(boundary.looks, boundary.stop_at, strict=True)
        ],
        "boundary_table": boundary_table_rows(boundary),
        "oc": [
            {"p": o.p, "p_stop": round(o.p_stop, 4), "expected_n": round(o.expected_n, 2)}
            for o in oc
        ],
    }


def current_status(
    runtime: Any, what_if: int | None = None, cut: Any = None
) -> list[dict[str, Any]]:
    """Evaluate each rule at the data cut (read-only; default: today, everything
    recorded) on the same inputs as the ingest and the DSMB report, with its last change.

    ``runtime`` needs ``settings`` and ``clock``: the data is read through the DB-API
    driver (``store.status_reads``) and evaluated without pandas, so the command starts
    fast.
    """
    return status_rows(evaluate_statuses(runtime, cut), what_if)


def evaluate_statuses(runtime: Any, cut: Any = None) -> list[tuple[Any, str | None]]:
    """Each configured rule's ``RuleStatus`` at the cut, and when its stored state last
    changed (as known at the cut's knowledge time)."""
    from aewatch.dbapi import connect
    from aewatch.reports.datacut import DataCut
    from aewatch.safety.evaluation import evaluate_rows
    from aewatch.safety.rules import lowest_counted_grade
    from aewatch.store import status_reads

    settings = runtime.settings
    now = runtime.clock.now()
    cut = cut or DataCut.at(None, None, now)
    known_at = cut.known_at
    rules = settings.stopping_rules
    with connect(settings.database_url) as db:
        trial = status_reads.trial_pk(db, settings.trial.id)
        patients = status_reads.load_patients(db, trial, known_at) if trial is not None else []
        events = (
            status_reads.load_events(db, trial, lowest_counted_grade(rules), known_at)
            if trial is not None
            else []
        )
        history = status_reads.load_history(db, trial, known_at) if trial is not None else []
    evaluated = []
    for rule in rules:
        onsets = [
            (e["subject_id"], e["onset"], e["ae_key"]) for e in events if rule.matches_event(e)
        ]
        state = evaluate_rows(rule, patients, onsets, cut.clinical_end or now)
        changes = [h for h in history if h[0] == rule.name and h[1] != h[2]]
        evaluated.append((state, _iso(changes[-1][3]) if changes else None))
    return evaluated


def status_rows(
    evaluated: list[tuple[Any, str | None]], what_if: int | None = None
) -> list[dict[str, Any]]:
    """The rows `aewatch status` prints (``status_row`` plus the last change and the
    toxic and pending subjects)."""
    from aewatch.safety.evaluation import status_row
    from aewatch.safety.evaluation import what_if as would_cross

    rows = []
    for state, last_change in evaluated:
        row: dict[str, Any] = {
            **status_row(state),
            "last_change": last_change,
            "toxic_subjects": list(state.toxic_subjects),
            "pending_subjects": list(state.pending_subjects),
        }
        if what_if is not None:
            row["what_if"] = (
                f"{what_if} more would cross"
                if would_cross(state, what_if)
                else f"{what_if} more would not cross"
            )
        rows.append(row)
    return rows


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)
