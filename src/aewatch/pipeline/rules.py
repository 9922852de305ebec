"""Stage 8, evaluate rules: every stopping rule on the data as this file left it.

The boundary mathematics and the evaluable-patient logic are pure
(aewatch.safety.evaluation); this stage persists each rule's status history and asks
for a threshold alert when a rule's state changes (an "approaching" state only once
enough patients are evaluable). Re-processing the same data gives the same status, so it
writes nothing and alerts nobody twice. The alert joins the email thread of the event
that caused it (the crossing patient's toxicity).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from aewatch import audit
from aewatch.pipeline.context import FileContext, Touched
from aewatch.store.locks import lock_trial
from aewatch.store.rule_inputs import load_events, load_patients
from aewatch.store.rule_status import add_status, last_status


def evaluate_rules(ctx: FileContext, so_far: Touched) -> Touched:
    settings = ctx.settings
    if not so_far.subjects or not settings.stopping_rules:
        return Touched()
    from aewatch.alerts.rules import threshold_alert
    from aewatch.safety.evaluation import evaluate_rule, status_row
    from aewatch.safety.rules import lowest_counted_grade

    # Files of other subjects may be in their store/grade/derive stages right now; the
    # trial's lock, held from here to commit, makes evaluations (and commits) one at a
    # time, so the data read below cannot change under this evaluation.
    lock_trial(ctx.session, ctx.trial_pk)
    patients = load_patients(ctx.session, ctx.trial_pk)
    lowest = lowest_counted_grade(settings.stopping_rules)
    events = load_events(ctx.session, ctx.trial_pk, min_grade=lowest)
    statuses = [
        (rule, evaluate_rule(rule, patients, events, pd.Timestamp(ctx.now)))
        for rule in settings.stopping_rules
    ]
    table = [status_row(status) for _, status in statuses]
    touched = Touched()
    for rule, status in statuses:
        last = last_status(ctx.session, ctx.trial_pk, rule.name)
        snapshot = (status.evaluable_n, status.toxic_n, status.state)
        if last is not None and (last.evaluable_n, last.toxic_n, last.state) == snapshot:
            continue
        previous_state = last.state if last else None
        previous_n = last.evaluable_n if last else None
        add_status(
            ctx.session,
            ctx.trial_pk,
            rule.name,
            ctx.now,
            status,
            previous_state,
            status_detail(status),
        )
        if previous_state != status.state:
            audit.record(
                ctx.session,
                at=ctx.now,
                actor=ctx.actor,
                action="rule status changed",
                entity="stopping_rule",
                entity_id=rule.name,
                detail={
                    "from": previous_state,
                    "to": status.state,
                    "evaluable_n": status.evaluable_n,
                    "toxic_n": status.toxic_n,
                },
                config_hash=settings.config_hash,
            )
        request = threshold_alert(
            rule.name,
            previous_state,
            status.state,
            table,
            list(status.toxic_subjects),
            settings,
            ctx.now,
            previous_n=previous_n,
            thread=cause_thread(settings.trial.id, status),
        )
        if request is not None:
            touched.rule_alerts.append(request)
    return touched


def cause_thread(trial_id: str, status: Any) -> str | None:
    """The email thread of the event behind a state: the crossing patient's toxicity, or
    the latest toxicity for "approaching"; none for "ok"."""
    from aewatch.alerts.rules import event_thread

    if status.state == "crossed":
        step = status.crossing
    elif status.state == "approaching":
        step = next((s for s in reversed(status.history) if s.toxic), None)
    else:
        step = None
    if step is None or step.event_key is None:
        return None
    return event_thread(trial_id, step.subject_id, step.event_key)


def status_detail(status: Any) -> dict[str, Any]:
    return {
        "toxic_subjects": list(status.toxic_subjects),
        "evaluable_subjects": list(status.evaluable_subjects),
        "pending_subjects": list(status.pending_subjects),
        "crossed_at_n": getattr(status, "crossed_at_n", None),
        "crossed_on": status.crossed_on.date().isoformat() if status.crossed_on else None,
    }
