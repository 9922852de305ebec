"""`aewatch status` and `aewatch rules`: where each stopping rule stands, and what it is."""

from __future__ import annotations

import dataclasses
from datetime import datetime
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
        from aewatch.cli import open_runtime
        from aewatch.commands.reports import data_cut
        from aewatch.output import emit

        runtime = open_runtime()
        chosen = data_cut(cut, as_of, runtime.clock.now())
        rows = current_status(runtime, what_if, chosen)
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
        from aewatch.cli import open_runtime

        runtime = open_runtime()
        documents = [rule_document(rule) for rule in runtime.settings.stopping_rules]
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
    recorded) on the same inputs as the ingest and the DSMB report, with its last change."""
    import pandas as pd
    from sqlalchemy import select

    from aewatch.models import RuleStatusRecord
    from aewatch.reports.datacut import DataCut
    from aewatch.safety.evaluation import evaluate_rule, status_row
    from aewatch.safety.evaluation import what_if as would_cross
    from aewatch.store.rule_inputs import load_events, load_patients

    now = runtime.clock.now()
    cut = cut or DataCut.at(None, None, now)
    rows = []
    with runtime.sessions() as session, session.begin():
        trial_pk = runtime.trial_pk(session)
        patients = load_patients(session, trial_pk, cut.known_at)
        events = load_events(session, trial_pk, cut.known_at)
        query = (
            select(
                RuleStatusRecord.rule_name,
                RuleStatusRecord.state,
                RuleStatusRecord.previous_state,
                RuleStatusRecord.evaluated_at,
            )
            .where(RuleStatusRecord.trial_pk == trial_pk)
            .order_by(RuleStatusRecord.id)
        )
        if cut.known_at is not None:
            query = query.where(RuleStatusRecord.evaluated_at <= cut.known_at)
        history = session.execute(query).all()
    for rule in runtime.settings.stopping_rules:
        state = evaluate_rule(rule, patients, events, pd.Timestamp(cut.clinical_end or now))
        changes = [h for h in history if h.rule_name == rule.name and h.state != h.previous_state]
        row: dict[str, Any] = {
            **status_row(state),
            "last_change": _iso(changes[-1].evaluated_at) if changes else None,
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
