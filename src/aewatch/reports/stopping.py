"""The stopping rules at the report's data cut, told as they happened (pure pandas).

Each rule is evaluated at the clinical cut on the inputs `aewatch status` and the ingest
use (``aewatch.store.rule_inputs`` as known at the knowledge time), so the report, the
status table and the alerts cannot disagree. A crossed rule stays crossed at the n where
it crossed (stopping_rules.md pitfall 12): the trajectory is the cumulative toxic count
against evaluable patients *in the rule's order*, one step per patient, so a crossing at
n = 2 followed by clean patients is drawn at n = 2, above the boundary, not joined to
later snapshots below it.

Open part: the state, the trajectory (no subject, no date per patient), definition,
method, boundary and operating characteristics. Closed part: the counted events and
the pending patients with the day each becomes evaluable.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from aewatch.safety.evaluation import RuleStatus, evaluate_rule, status_row

OC_RATES = (0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40)
STATUS_COLUMNS = [
    "rule",
    "state",
    "evaluable_n",
    "toxic_n",
    "stop_at",
    "cushion",
    "crossed_at_n",
    "crossed_on",
    "pending_n",
]


def evaluate_rules(
    rules: tuple[Any, ...], patients: pd.DataFrame, events: pd.DataFrame, cut_end: Any
) -> dict[str, RuleStatus]:
    """Every configured rule at the end of the clinical cut's day."""
    return {rule.name: evaluate_rule(rule, patients, events, cut_end) for rule in rules}


def status_table(statuses: dict[str, RuleStatus]) -> pd.DataFrame:
    rows = [status_row(status) for _, status in sorted(statuses.items())]
    return pd.DataFrame(rows, columns=STATUS_COLUMNS)


def trajectory(status: RuleStatus) -> pd.DataFrame:
    """The chart's data: for the n-th evaluable patient, toxic or not, the cumulative
    toxic count, the boundary checked there, and whether the rule crossed there."""
    crossed_at = status.crossed_at_n
    return pd.DataFrame(
        {
            "n": [step.n for step in status.history],
            "toxic": [step.toxic for step in status.history],
            "toxic_n": [step.toxic_n for step in status.history],
            "stop_at": pd.array([step.stop_at for step in status.history], dtype="Int64"),
            "crossed_here": [step.n == crossed_at for step in status.history],
        },
        columns=["n", "toxic", "toxic_n", "stop_at", "crossed_here"],
    )


def counted_events(
    status: RuleStatus, events: pd.DataFrame, population: pd.DataFrame
) -> pd.DataFrame:
    """Closed part: each toxic patient's qualifying event (the first in the window)."""
    toxic = [step for step in status.history if step.toxic]
    columns = ["n", "subject_id", "ctcae_term", "grade", "onset_day"]
    if not toxic:
        return pd.DataFrame(columns=columns)
    steps = pd.DataFrame(
        {
            "n": [s.n for s in toxic],
            "subject_id": [s.subject_id for s in toxic],
            "ae_key": [s.event_key for s in toxic],
            "evaluable_on": [pd.Timestamp(s.evaluable_on).tz_localize(None) for s in toxic],
        }
    )
    found = events.assign(subject_id=events["subject_id"].astype(str))
    found = found[["subject_id", "ae_key", "ctcae_term", "grade", "onset"]]
    steps = steps.merge(found, on=["subject_id", "ae_key"], how="left")
    steps = steps.drop_duplicates(["n"]).merge(
        population[["subject_id", "first_rt_on"]], on="subject_id", how="left"
    )
    onset = pd.to_datetime(steps["onset"], utc=True).dt.tz_localize(None).dt.floor("D")
    steps["onset_day"] = _study_day(onset, steps["first_rt_on"])
    steps["grade"] = pd.to_numeric(steps["grade"], errors="coerce").astype("Int64")
    return steps[columns].sort_values("n").reset_index(drop=True)


def pending_patients(status: RuleStatus, population: pd.DataFrame) -> pd.DataFrame:
    """Closed part: patients at risk whose outcome is not known yet, with the day each
    becomes evaluable if followed without toxicity (RT end + window). A day already past
    means the window ended but no contact after it is recorded: follow-up data awaited."""
    columns = ["subject_id", "evaluable_on", "evaluable_day", "days_from_cut", "waiting_for"]
    if not status.pending_subjects:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(
        {
            "subject_id": list(status.pending_subjects),
            "evaluable_on": [
                None if on is None else pd.Timestamp(on).tz_localize(None).normalize()
                for on in status.pending_evaluable_on
            ],
        },
        columns=["subject_id", "evaluable_on"],
    )
    frame["evaluable_on"] = pd.to_datetime(frame["evaluable_on"])
    cut = pd.Timestamp(status.as_of).tz_localize(None).normalize()
    frame["days_from_cut"] = (frame["evaluable_on"] - cut).dt.days.astype("Int64")
    frame = frame.merge(population[["subject_id", "first_rt_on"]], on="subject_id", how="left")
    frame["evaluable_day"] = _study_day(frame["evaluable_on"], frame["first_rt_on"])
    past = frame["days_from_cut"].fillna(1) <= 0
    frame["waiting_for"] = "end of window"
    frame.loc[past, "waiting_for"] = "a follow-up record after the window"
    frame.loc[frame["evaluable_on"].isna(), "waiting_for"] = "RT end date"
    return frame[columns].sort_values(["evaluable_on", "subject_id"]).reset_index(drop=True)


def definition(rule: Any) -> list[tuple[str, str]]:
    """What counts, over which window, who is evaluable, and the method with parameters."""
    rows: list[tuple[str, str]] = [("Description", rule.description or rule.name)]
    if rule.derived and not rule.site_reported:
        rows.append(("Counts", "derived events: " + ", ".join(rule.derived)))
    else:
        counts = f"CTCAE grade ≥ {rule.min_grade}"
        if rule.attribution_to:
            to = {"rt": "RT", "systemic": "systemic therapy"}.get(
                rule.attribution_to, rule.attribution_to
            )
            counts += f", attributed to {to} as {', '.join(rule.attribution)}"
            if rule.missing_attribution == "related":
                counts += " (not yet assessed counts as related)"
        if rule.terms:
            counts += "; terms: " + ", ".join(rule.terms)
        if rule.socs:
            counts += "; SOCs: " + ", ".join(rule.socs)
        if rule.serious_only:
            counts += "; serious only"
        if rule.derived:
            counts += "; and derived: " + ", ".join(rule.derived)
        rows.append(("Counts", counts))
    rows.append(
        (
            "Window",
            f"onset from the first RT day to {rule.window_days} days after the end of RT",
        )
    )
    evaluable = (
        "toxic (on the onset day), or followed through the window without toxicity; "
        "patients who died or withdrew early without toxicity are "
        + ("counted as non-toxic" if rule.evaluability == "include" else "left out")
        + "; same-day ties: toxic first"
    )
    rows.append(("Evaluable", evaluable))
    rows.append(("Method", f"{rule.method}: {_parameters(rule)}"))
    rows.append(
        (
            "Approaching",
            f"at most {rule.approaching_margin} more toxic patient(s) "
            "allowed, or the next toxic patient would cross",
        )
    )
    return rows


def operating_characteristics(rule: Any) -> pd.DataFrame:
    """Exact P(declared too toxic), P(stopped early) and expected n at true rates."""
    from aewatch.safety.operating import operating_characteristics as oc

    rates = sorted({*rule.reference_rates(), *OC_RATES})
    rows = [
        {
            "p": o.p,
            "p_stop": round(o.p_stop, 3),
            "p_early": round(o.p_early, 3),
            "expected_n": round(o.expected_n, 1),
        }
        for o in oc(rule.boundary(), rates)
    ]
    return pd.DataFrame(rows, columns=["p", "p_stop", "p_early", "expected_n"])


def _parameters(rule: Any) -> str:
    names = {
        "pocock": ("p0", "p1", "alpha", "every"),
        "obf": ("p0", "p1", "alpha", "every"),
        "bayes": ("prior", "p_max", "threshold", "min_n", "every"),
        "fixed": ("k", "m"),
    }.get(rule.method, ())
    parts = [f"N = {rule.n_max}"]
    for name in names:
        value = getattr(rule, name, None)
        if value is not None:
            parts.append(f"{name} = {value if not isinstance(value, tuple) else list(value)}")
    return ", ".join(parts)


def _study_day(on: pd.Series, first_rt_on: pd.Series) -> pd.Series:
    delta = (pd.to_datetime(on) - pd.to_datetime(first_rt_on)).dt.days
    return delta.where(delta < 0, delta + 1).astype("Int64")
