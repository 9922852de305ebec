"""Disposition at the data cut (safety_domain §4.2 item 4), from DM and the DS domain.

Each patient of the safety population has one status, the first that applies: died,
lost to follow-up, withdrew, on second-line therapy, progressed, completed, on study.
Deaths and withdrawals come from DM or DS, whichever recorded them (a death in one
domain only still counts; the listing says where it was recorded). Pure pandas.
"""

from __future__ import annotations

import pandas as pd

from aewatch.ingest.vocab import DISPOSITION_EVENT

STATUSES = (
    "died",
    "lost to follow-up",
    "withdrew",
    "on second-line therapy",
    "progressed",
    "completed",
    "on study",
)
# DS disposition → the status it puts a patient in (deaths and withdrawals via DM+DS dates).
DS_STATUS = {
    "second-line therapy": "on second-line therapy",
    "progression": "progressed",
    "completed": "completed",
}


def patient_status(
    population: pd.DataFrame, dispositions: pd.DataFrame, fatal: set[str] | None = None
) -> pd.DataFrame:
    """One row per patient: status at the cut and where a death was recorded. ``fatal``:
    patients with a fatal AE (grade 5 or the death criterion), dead even when neither DM
    nor DS has the date yet ("AE only")."""
    frame = population[["subject_id", "site", "died_on", "withdrawn_on"]].copy()
    for column in ("lost_on", "death_recorded_in"):
        frame[column] = population.get(column, None)
    mine = dispositions[dispositions["subject_id"].isin(frame["subject_id"])]
    kinds = mine.groupby("subject_id")["disposition"].agg(set)
    has = frame["subject_id"].map(kinds).map(lambda k: k if isinstance(k, set) else set())
    frame["status"] = "on study"
    for disposition in ("completed", "progression", "second-line therapy"):
        frame.loc[has.map(lambda k, d=disposition: d in k), "status"] = DS_STATUS[disposition]
    frame.loc[frame["withdrawn_on"].notna(), "status"] = "withdrew"
    frame.loc[frame["lost_on"].notna(), "status"] = "lost to follow-up"
    fatal_only = frame["subject_id"].isin(fatal or set()) & frame["died_on"].isna()
    frame.loc[fatal_only, "death_recorded_in"] = "AE only"
    frame.loc[frame["died_on"].notna() | fatal_only, "status"] = "died"
    return frame[["subject_id", "site", "status", "death_recorded_in"]].reset_index(drop=True)


def status_counts(status: pd.DataFrame, population_n: int) -> pd.DataFrame:
    """Open part: patients per status, in the fixed order, with % of the population."""
    counts = status["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    table = counts.rename_axis("status").reset_index(name="patients")
    table["percent"] = (table["patients"] * 100.0 / max(population_n, 1)).round(1)
    return table


def event_counts(dispositions: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Open part: patients with each recorded disposition event (DS), by term."""
    events = dispositions[
        (dispositions["category"] == DISPOSITION_EVENT)
        & dispositions["subject_id"].isin(population["subject_id"])
    ]
    if events.empty:
        return pd.DataFrame(columns=["disposition", "term", "patients"])
    table = (
        events.groupby(["disposition", "decoded_term"])["subject_id"]
        .nunique()
        .rename("patients")
        .reset_index()
        .rename(columns={"decoded_term": "term"})
    )
    return table.sort_values(["patients", "disposition"], ascending=[False, True]).reset_index(
        drop=True
    )


def death_sources(status: pd.DataFrame) -> pd.DataFrame:
    """Open part: deaths by the domain that recorded them (DM, DS, both): a death in one
    domain only is a reconciliation query for the data manager."""
    died = status[status["status"] == "died"]
    counts = died["death_recorded_in"].value_counts()
    order = ["DM and DS", "DM", "DS", "AE only"]
    table = counts.reindex(order, fill_value=0).rename_axis("recorded_in").reset_index()
    return table.rename(columns={"count": "deaths"})


def listing(
    status: pd.DataFrame, dispositions: pd.DataFrame, population: pd.DataFrame
) -> pd.DataFrame:
    """Closed part: each patient not on study, with the study day of each DS event."""
    events = dispositions.merge(population[["subject_id", "first_rt_on"]], on="subject_id")
    delta = (events["start_on"] - events["first_rt_on"]).dt.days
    events["day"] = delta.where(delta < 0, delta + 1).astype("Int64")
    events = events[events["category"] == DISPOSITION_EVENT].sort_values(["subject_id", "day"])
    events["text"] = [
        f"{d} (day {day})" if pd.notna(day) else str(d)
        for d, day in zip(events["disposition"], events["day"], strict=True)
    ]
    text = events.groupby("subject_id")["text"].agg("; ".join)
    out = status[status["status"] != "on study"].copy()
    out["ds_events"] = [text.get(subject, "") for subject in out["subject_id"]]
    return out.sort_values(["status", "subject_id"]).reset_index(drop=True)
