"""Monitoring tables: stopping-rule boundaries, alerts sent, data quality (pure pandas).

A rule's *status* in the report is evaluated at the data cut (``reports.stopping``); the
stored ``rule_status`` history is what the ingest decided at each file. The boundary table
comes from the configured rule when ``aewatch.safety`` is installed, else from the
stored ``stop_at`` values.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

RULE_COLUMNS = [
    "rule_name",
    "evaluated_at",
    "evaluable_n",
    "toxic_n",
    "stop_at",
    "cushion",
    "state",
    "previous_state",
]


def latest_rule_status(rule_status: pd.DataFrame) -> pd.DataFrame:
    """The last evaluation the ingest stored for each rule, as known at the cut."""
    if rule_status.empty:
        return pd.DataFrame(columns=RULE_COLUMNS)
    latest = rule_status.sort_values("id").groupby("rule_name").tail(1)
    return latest.sort_values("rule_name")[RULE_COLUMNS].reset_index(drop=True)


def boundary_rows(settings: Any, rule_status: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """rule name → (evaluable n, stop at ≥ toxic) rows of its boundary."""
    configured = _configured_boundaries(settings)
    out: dict[str, pd.DataFrame] = {}
    for name in sorted(set(rule_status.get("rule_name", pd.Series(dtype=str))) | set(configured)):
        if name in configured:
            out[name] = configured[name]
            continue
        stored = rule_status[(rule_status["rule_name"] == name) & rule_status["stop_at"].notna()]
        table = stored.groupby("evaluable_n")["stop_at"].last().reset_index()
        out[name] = table.rename(columns={"evaluable_n": "n"}).astype(int)
    return out


def _configured_boundaries(settings: Any) -> dict[str, pd.DataFrame]:
    """Each configured rule's full boundary (``aewatch.safety``: ``rule.boundary()``)."""
    out: dict[str, pd.DataFrame] = {}
    for rule in getattr(settings, "stopping_rules", ()):
        boundary = rule.boundary() if hasattr(rule, "boundary") else None
        looks = getattr(boundary, "looks", None)
        stop_at = getattr(boundary, "stop_at", None)
        if looks is None or stop_at is None:
            continue
        frame = pd.DataFrame({"n": list(looks), "stop_at": list(stop_at)})
        frame["stop_at"] = frame["stop_at"].astype("Int64")
        out[rule.name] = frame
    return out


def alerts_in_period(alerts: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Alerts created in the period, with how long acknowledgement took."""
    created = alerts["created_at"]
    frame = alerts[(created >= pd.Timestamp(start)) & (created <= pd.Timestamp(end))].copy()
    hours = (frame["acknowledged_at"] - frame["sent_at"]).dt.total_seconds() / 3600
    frame["hours_to_ack"] = hours.round(1)
    frame["hours_to_send"] = (
        (frame["sent_at"] - frame["created_at"]).dt.total_seconds() / 3600
    ).round(1)
    columns = [
        "id",
        "kind",
        "subject_id",
        "status",
        "created_at",
        "sent_at",
        "requires_ack",
        "acknowledged_at",
        "hours_to_send",
        "hours_to_ack",
        "escalation_level",
    ]
    return frame[columns].reset_index(drop=True)


def alerts_by_kind(period_alerts: pd.DataFrame) -> pd.DataFrame:
    if period_alerts.empty:
        return pd.DataFrame(
            columns=[
                "kind",
                "queued",
                "sent",
                "acknowledged",
                "unacknowledged",
                "median_hours_to_ack",
            ]
        )
    grouped = period_alerts.groupby("kind")
    table = pd.DataFrame(
        {
            "queued": grouped.size(),
            "sent": grouped["sent_at"].count(),
            "acknowledged": grouped["acknowledged_at"].count(),
            "unacknowledged": grouped.apply(
                lambda g: int((g["requires_ack"] & g["acknowledged_at"].isna()).sum()),
                include_groups=False,
            ),
            "median_hours_to_ack": grouped["hours_to_ack"].median().round(1),
        }
    )
    return table.reset_index()


def quarantine_summary(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Rows by kind (rejected | pending | query) and state (open | applied | resolved)."""
    if quarantine.empty:
        return pd.DataFrame(columns=["kind", "open", "applied", "resolved"])
    table = pd.crosstab(quarantine["kind"], quarantine["state"])
    table = table.reindex(columns=["open", "applied", "resolved"], fill_value=0)
    table.columns.name = None
    return table.reset_index()


def silent_sites(sites: pd.DataFrame, cut: datetime, silence_days: int) -> pd.DataFrame:
    """Sites with no data for ``silence_days``: silence may hide unreported AEs."""
    limit = pd.Timestamp(cut - timedelta(days=silence_days))
    frame = sites[sites["last_data_at"] < limit].copy()
    frame["days_silent"] = (pd.Timestamp(cut) - frame["last_data_at"]).dt.days
    return frame[["site_code", "last_data_at", "days_silent"]].reset_index(drop=True)


def ae_completeness(ae: pd.DataFrame) -> dict[str, int]:
    """AEs the tables cannot place: no grade, no attribution, or no CTCAE term."""
    return {
        "ae_identities": len(ae),
        "missing_grade": int(ae["grade"].isna().sum()),
        "missing_rt_attribution": int(ae["rt_relation"].isna().sum()),
        "missing_systemic_attribution": int(ae["systemic_relation"].isna().sum()),
        "uncoded_term": int((ae["ctcae_term"] == "Uncoded term").sum()),
    }
