"""Toxicity counting: the one implementation behind `aewatch counts`, alerts and the DSMB report.

Conventions (safety_domain.md §5, DESIGN invariant 6):
* the denominator is the safety population (config ``trial.safety_population``);
* an AE counts if it is treatment-emergent: onset on or after the patient's first RT,
  or an unknown onset (a partial date that could fall after RT counts, §5);
* by patient: each patient once per term, per SOC and in "any AE", at the worst grade;
  by event: every AE identity once, at its current (latest-version) grade;
* related tables filter to related records *first*, then take the worst grade.
Functions are pure: DataFrames in, DataFrames out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from aewatch.safety.relatedness import RELATED

GRADES = (1, 2, 3, 4, 5)
RELATION_COLUMNS = {"rt": ("rt_relation",), "systemic": ("systemic_relation",)}
RELATION_COLUMNS["any"] = RELATION_COLUMNS["rt"] + RELATION_COLUMNS["systemic"]
TREATMENT_CHANGES = ("DRUG WITHDRAWN", "DOSE REDUCED", "DRUG INTERRUPTED")
COUNT_KEYS: dict[str, tuple[str, ...]] = {
    "term": ("ctcae_soc", "ctcae_term"),
    "soc": ("ctcae_soc",),
    "grade": ("grade",),
    "subject": ("subject_id",),
    "site": ("site",),
}
KEY_NAMES = {"ctcae_soc": "soc", "ctcae_term": "term"}


@dataclass(frozen=True)
class EventFilter:
    """What `counts` narrows to; the related filter applies before the worst grade."""

    min_grade: int | None = None
    related: str | None = None  # rt | systemic | any
    serious: bool = False
    since: date | None = None


def safety_population(
    subjects: pd.DataFrame, rt_courses: pd.DataFrame, definition: str = "rt_started"
) -> pd.DataFrame:
    """Subjects in the denominator, with their first RT start and last RT end."""
    courses = rt_courses.groupby("subject_id").agg(
        first_rt_on=("start_on", "min"), last_rt_end_on=("end_on", "max")
    )
    population = subjects.merge(courses, left_on="subject_id", right_index=True, how="left")
    if definition == "rt_started":
        population = population[population["subject_id"].isin(rt_courses["subject_id"])]
    return population.sort_values("subject_id").reset_index(drop=True)


def countable_events(ae: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Graded, treatment-emergent AEs of safety-population patients.

    Derived syndromes (RILD, Hy's law) are left out: they summarise lab AEs that are
    already counted, and are listed on their own in the liver-safety section. An
    ``emergent`` column computed upstream (the SQL fast path of `aewatch counts`) is
    used as is; otherwise onset is compared with the first RT day here.
    """
    if "origin" in ae:
        ae = ae[ae["origin"] != "syndrome"]
    merged = ae.merge(population[["subject_id", "first_rt_on"]], on="subject_id", how="inner")
    if "emergent" in merged:
        emergent = merged["emergent"].astype(bool)
    else:
        onset = merged["onset_on"]
        emergent = merged["first_rt_on"].isna() | onset.isna() | (onset >= merged["first_rt_on"])
    graded = merged["grade"].notna() & merged["grade"].between(1, 5)
    kept = merged[emergent & graded].copy()
    kept["grade"] = kept["grade"].astype(int)
    return kept.reset_index(drop=True)


def related_mask(events: pd.DataFrame, to: str) -> pd.Series:
    """Related = possible, probable or definite, to RT, to systemic therapy, or to either."""
    if to not in RELATION_COLUMNS:
        raise ValueError(f"related must be one of {sorted(RELATION_COLUMNS)}, got {to!r}")
    mask = pd.Series(False, index=events.index)
    for column in RELATION_COLUMNS[to]:
        mask |= events[column].isin(RELATED)
    return mask


def filter_events(events: pd.DataFrame, selection: EventFilter) -> pd.DataFrame:
    keep = pd.Series(True, index=events.index)
    if selection.min_grade is not None:
        keep &= events["grade"] >= selection.min_grade
    if selection.related:
        keep &= related_mask(events, selection.related)
    if selection.serious:
        keep &= events["serious"].astype(bool)
    if selection.since is not None:
        keep &= events["onset_on"] >= pd.Timestamp(selection.since)
    return events[keep]


def worst_grade_per_patient(events: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    """One row per patient and key at the worst grade, with the patient's event count."""
    columns = [*keys, "subject_id"] if "subject_id" not in keys else list(keys)
    return (
        events.groupby(columns, dropna=False)
        .agg(worst_grade=("grade", "max"), events=("grade", "size"))
        .reset_index()
    )


def count_by(events: pd.DataFrame, by: str) -> pd.DataFrame:
    """Patients by worst grade and events per key; ``grade``: patients at their worst grade."""
    if by not in COUNT_KEYS:
        raise ValueError(f"by must be one of {sorted(COUNT_KEYS)}, got {by!r}")
    if by == "grade":
        per_patient = worst_grade_per_patient(events, ("subject_id",))
        per_patient["grade"] = per_patient["worst_grade"]
        event_counts = events.groupby("grade").size()
        keys: tuple[str, ...] = ("grade",)
    else:
        keys = COUNT_KEYS[by]
        per_patient = worst_grade_per_patient(events, keys)
        event_counts = per_patient.groupby(list(keys))["events"].sum()
    names = [KEY_NAMES.get(k, k) for k in keys]
    columns = [*names, "patients", *[f"grade_{g}" for g in GRADES], "patients_grade3plus", "events"]
    if per_patient.empty and by != "grade":
        return pd.DataFrame(columns=columns)
    table = pd.crosstab(
        [per_patient[k].rename(k) for k in keys], per_patient["worst_grade"]
    ).reindex(columns=list(GRADES), fill_value=0)
    if by == "grade":
        table = table.reindex(pd.Index(list(GRADES), name="grade"), fill_value=0)
    table.columns = [f"grade_{g}" for g in GRADES]
    table["patients"] = table.sum(axis=1)
    table["patients_grade3plus"] = table[["grade_3", "grade_4", "grade_5"]].sum(axis=1)
    table["events"] = event_counts.reindex(table.index).fillna(0).astype(int)
    table = table.reset_index().rename(columns=KEY_NAMES)
    order = ["patients", *names] if by in {"subject", "site"} else [*names]
    ascending = [False, *[True] * len(names)] if by in {"subject", "site"} else True
    if by == "term":
        order, ascending = ["soc", "patients", "term"], [True, False, True]
    table = table.sort_values(order, ascending=ascending, kind="stable").reset_index(drop=True)
    return table[columns]


def counts_document(table: pd.DataFrame, population_n: int, by: str) -> dict[str, object]:
    """The JSON shape of `aewatch counts` (field names are a public contract)."""
    names = [KEY_NAMES.get(k, k) for k in COUNT_KEYS[by]]
    rows = []
    for record in table.to_dict("records"):
        row: dict[str, object] = {n: _plain(record[n]) for n in names}
        row["patients"] = int(record["patients"])
        row["patients_by_worst_grade"] = {str(g): int(record[f"grade_{g}"]) for g in GRADES}
        row["patients_grade3plus"] = int(record["patients_grade3plus"])
        row["events"] = int(record["events"])
        rows.append(row)
    return {"safety_population": int(population_n), "counts": rows}


def grade_table(events: pd.DataFrame, unit: str = "patients") -> pd.DataFrame:
    """SOC/term × grade 1–5, ≥ 3, any: an "Any AE" row, then each SOC and its terms.

    ``unit="patients"`` counts each patient once per row at the worst grade in that row;
    ``unit="events"`` counts every AE at its grade.
    """
    blocks = [_grade_rows(events, (), unit).assign(level="any", soc="Any adverse event", term="")]
    if not events.empty:
        socs = _grade_rows(events, ("ctcae_soc",), unit).assign(level="soc", term="")
        terms = _grade_rows(events, ("ctcae_soc", "ctcae_term"), unit).assign(level="term")
        socs = socs.rename(columns={"ctcae_soc": "soc"})
        terms = terms.rename(columns={"ctcae_soc": "soc", "ctcae_term": "term"})
        body = pd.concat([socs, terms], ignore_index=True)
        body["is_term"] = body["level"] == "term"
        body["soc_total"] = body["soc"].map(socs.set_index("soc")["any"])
        body = body.sort_values(
            ["soc_total", "soc", "is_term", "any", "term"],
            ascending=[False, True, True, False, True],
            kind="stable",
        )
        blocks.append(body.drop(columns=["is_term", "soc_total"]))
    columns = ["level", "soc", "term", *[f"g{g}" for g in GRADES], "g3plus", "any"]
    return pd.concat(blocks, ignore_index=True)[columns]


def _grade_rows(events: pd.DataFrame, keys: tuple[str, ...], unit: str) -> pd.DataFrame:
    if unit == "patients":
        frame = worst_grade_per_patient(events, keys).rename(columns={"worst_grade": "g"})
    else:
        frame = events.assign(g=events["grade"])
    group = list(keys) if keys else (lambda _: 0)
    table = frame.groupby(group)["g"].value_counts().unstack(fill_value=0)
    table = table.reindex(columns=list(GRADES), fill_value=0)
    if not keys and table.empty:
        table = pd.DataFrame([[0] * 5], columns=list(GRADES))
    table.columns = [f"g{g}" for g in GRADES]
    table["g3plus"] = table[["g3", "g4", "g5"]].sum(axis=1)
    table["any"] = table[[f"g{g}" for g in GRADES]].sum(axis=1)
    return table.reset_index(drop=not keys)


def ae_overview(events: pd.DataFrame, population_n: int) -> pd.DataFrame:
    """Patients with at least one AE of each kind (n, % of the safety population)."""
    rows = [
        ("Any adverse event", events),
        ("Grade ≥ 3", events[events["grade"] >= 3]),
        ("Grade 5 (fatal)", events[events["grade"] == 5]),
        ("Serious adverse event", events[events["serious"].astype(bool)]),
        ("RT-related (possible or more)", events[related_mask(events, "rt")]),
        ("Systemic-therapy related", events[related_mask(events, "systemic")]),
        (
            "Related grade ≥ 3 (RT or systemic)",
            events[related_mask(events, "any") & (events["grade"] >= 3)],
        ),
        ("Led to systemic-therapy change", treatment_changes(events)),
    ]
    table = pd.DataFrame(
        [(label, frame["subject_id"].nunique(), len(frame)) for label, frame in rows],
        columns=["category", "patients", "events"],
    )
    table["percent"] = _percent(table["patients"], population_n)
    return table


def treatment_changes(events: pd.DataFrame) -> pd.DataFrame:
    action = events["action_taken"].fillna("").str.upper().str.strip()
    return events[action.isin(TREATMENT_CHANGES)]


def study_day(on: pd.Series, first_rt_on: pd.Series) -> pd.Series:
    """Day 1 = first RT day (CDISC: no day 0); exact dates stay inside the system (§7)."""
    delta = (on - first_rt_on).dt.days
    return delta.where(delta < 0, delta + 1).astype("Int64")


# As the SAE alert says it: without AEAWDTC the reporting clock ran from receipt.
LISTED_AWARENESS = {True: "site", False: "not supplied — clock from receipt"}


def sae_listing(events: pd.DataFrame) -> pd.DataFrame:
    """SAEs with both attributions, criteria and the awareness-to-record delay."""
    sae = events[events["serious"].astype(bool)].copy()
    criteria = [
        c
        for c in (
            "death",
            "life_threatening",
            "hospitalisation",
            "disability",
            "congenital_anomaly",
            "medically_important",
        )
        if c in sae
    ]
    sae["criteria"] = (
        sae[criteria].apply(
            lambda row: ", ".join(c.replace("_", " ") for c in criteria if row[c]), axis=1
        )
        if not sae.empty
        else pd.Series(dtype=str)
    )
    sae["onset_day"] = study_day(sae["onset_on"], sae["first_rt_on"])
    hours = (sae["recorded_at"] - sae["aware_at"]).dt.total_seconds() / 3600
    # No awareness date from the site: aware_at is the receipt time and "0 h" would lie.
    supplied = sae.get("aware_at_supplied", pd.Series(None, index=sae.index, dtype=object))
    sae["awareness"] = supplied.map(LISTED_AWARENESS).fillna("not recorded")
    sae["hours_aware_to_recorded"] = hours.where(sae["awareness"] == "site").round(1)
    columns = [
        "subject_id",
        "site",
        "ctcae_term",
        "grade",
        "onset_day",
        "criteria",
        "rt_relation",
        "systemic_relation",
        "outcome",
        "awareness",
        "hours_aware_to_recorded",
    ]
    listing = sae.sort_values(["subject_id", "onset_day", "ctcae_term"]).reset_index(drop=True)
    listing["onset_day"] = onset_day_text(listing)
    return listing[columns]


def onset_day_text(events: pd.DataFrame) -> pd.Series:
    """The onset study day, saying when it was imputed from a partial date: a month-only
    onset is shown ``1 (imputed; onset known to the month)``, never as an exact day."""
    days = events["onset_day"].astype(object).where(events["onset_day"].notna(), None)
    if "onset_precision" not in events:
        return days
    partial = events["onset_precision"].isin(["month", "year"]).fillna(False) & days.notna()
    note = " (imputed; onset known to the " + events["onset_precision"].astype(str) + ")"
    return days.where(~partial, days.astype(str) + note)


def deaths(population: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Each death with its study day, the fatal AE (cause) and its attributions."""
    died = population[population["died_on"].notna()].copy()
    fatal = events[(events["grade"] == 5) | events["death"].astype(bool)]
    fatal = fatal.sort_values(["subject_id", "grade"], ascending=[True, False])
    fatal = fatal.drop_duplicates("subject_id")
    fatal_cols = ["subject_id", "ctcae_term", "rt_relation", "systemic_relation"]
    died = died.merge(fatal[fatal_cols], on="subject_id", how="outer")
    if died.empty:
        return pd.DataFrame(
            columns=[
                "subject_id",
                "study_day",
                "cause",
                "days_after_rt_end",
                "within_30_days_of_rt",
                "within_90_days_of_rt",
                "rt_relation",
                "systemic_relation",
                "recorded_in",
            ]
        )
    died = died.merge(
        population[["subject_id", "first_rt_on", "last_rt_end_on"]],
        on="subject_id",
        how="left",
        suffixes=("_x", ""),
    )
    died["study_day"] = study_day(died["died_on"], died["first_rt_on"])
    after = (died["died_on"] - died["last_rt_end_on"]).dt.days.astype("Int64")
    died["days_after_rt_end"] = after
    died["within_30_days_of_rt"] = after <= 30
    died["within_90_days_of_rt"] = after <= 90
    died["cause"] = died["ctcae_term"].fillna("not reported as an AE")
    recorded = died.get("death_recorded_in")
    died["recorded_in"] = "AE only" if recorded is None else recorded.fillna("AE only")
    return (
        died[
            [
                "subject_id",
                "study_day",
                "cause",
                "days_after_rt_end",
                "within_30_days_of_rt",
                "within_90_days_of_rt",
                "rt_relation",
                "systemic_relation",
                "recorded_in",
            ]
        ]
        .sort_values("subject_id")
        .reset_index(drop=True)
    )


def _percent(n: pd.Series, population_n: int) -> pd.Series:
    if population_n <= 0:
        return pd.Series(0.0, index=n.index)
    return (n * 100.0 / population_n).round(1)


def _plain(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()  # type: ignore[union-attr]
    return value
