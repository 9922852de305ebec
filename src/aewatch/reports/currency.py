"""Is the data current and were SAEs reported on time? Per site and per SAE (pure pandas).

* **Data currency per site**: the day aewatch last received data from the site (any
  domain), its open data queries, rejected and held rows, and SAE reporting clocks due
  by the end of the cut day and not acknowledged by the knowledge time — silence or a
  backlog may hide unreported AEs. All as known at the knowledge time, and none of it
  counted *to* that time, so regenerating the report later on the same data gives the
  same tables.
* **SAE timeliness**: hours from awareness to the first serious version aewatch
  recorded. Where the site gave no awareness date (AEAWDTC), aewatch's receipt time
  stands in for it and the delay would read 0 h: such SAEs are marked "awareness date
  not supplied" and left out of the delay figures rather than counted as on time.
* **Protocol deviations**: lesions below the protocol BED, EX records rejected or
  queried, SAEs recorded later than the sponsor-notification clock after awareness.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from aewatch.safety.emergence import WORSENED_SUFFIX

SAE_KINDS = ("sae-initial", "sae-followup", "death")
AWARENESS = {True: "site-supplied", False: "not supplied (receipt time used)"}


def data_currency(
    subjects: pd.DataFrame,
    received: pd.DataFrame,
    quarantine: pd.DataFrame,
    alerts: pd.DataFrame,
    at: datetime,
) -> pd.DataFrame:
    """One row per site. ``received``: (site, received_at) of every stored record; ``at``:
    the end of the clinical cut day, by which a clock is due."""
    sites = sorted({*subjects["site"].fillna("").replace("", "(none)")})
    site_of = dict(zip(subjects["subject_id"], subjects["site"].replace("", "(none)"), strict=True))
    now = pd.Timestamp(at)
    last = received.groupby("site")["received_at"].max()
    open_rows = quarantine[quarantine["state"] == "open"].copy()
    open_rows["site"] = [site_of.get(s, "(unknown subject)") for s in open_rows["subject_id"]]
    by_kind = open_rows.groupby(["site", "kind"]).size()
    due = alerts[
        alerts["kind"].isin(SAE_KINDS)
        & alerts["report_due_at"].notna()
        & (alerts["report_due_at"] <= now)
        & alerts["acknowledged_at"].isna()
    ].copy()
    due["site"] = [site_of.get(s) for s in due["subject_id"]]
    overdue = due.groupby("site").size()
    patients = subjects.assign(site=subjects["site"].replace("", "(none)")).groupby("site").size()
    extra = sorted(set(open_rows["site"]) - set(sites))
    rows = []
    for site in [*sites, *extra]:
        seen = last.get(site)
        rows.append(
            {
                "site": site,
                "patients": int(patients.get(site, 0)),
                "last_data_received": None if seen is None or pd.isna(seen) else seen.date(),
                "open_queries": int(by_kind.get((site, "query"), 0)),
                "open_rejected": int(by_kind.get((site, "rejected"), 0)),
                "held_rows": int(by_kind.get((site, "pending"), 0)),
                "sae_clocks_overdue": int(overdue.get(site, 0)),
            }
        )
    return pd.DataFrame(rows)


def received_records(
    ae_history: pd.DataFrame,
    subjects: pd.DataFrame,
    labs: pd.DataFrame,
    exposure: pd.DataFrame,
    dispositions: pd.DataFrame,
) -> pd.DataFrame:
    """(site, received_at) of every record aewatch stored, from every domain (EX: the
    records as sent, radiotherapy and systemic alike)."""
    site_of = subjects.set_index("subject_id")["site"].replace("", "(none)")
    parts = [
        ae_history[["subject_id", "recorded_at"]].rename(columns={"recorded_at": "received_at"}),
        subjects[["subject_id", "created_at"]].rename(columns={"created_at": "received_at"}),
        labs[["subject_id", "created_at"]].rename(columns={"created_at": "received_at"}),
        exposure[["subject_id", "created_at"]].rename(columns={"created_at": "received_at"}),
        dispositions[["subject_id", "created_at"]].rename(columns={"created_at": "received_at"}),
    ]
    frame = (
        pd.concat([p for p in parts if not p.empty], ignore_index=True)
        if any(not p.empty for p in parts)
        else pd.DataFrame(columns=["subject_id", "received_at"])
    )
    frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True)
    frame["site"] = frame["subject_id"].map(site_of)
    return frame.dropna(subset=["received_at", "site"])[["site", "received_at"]]


def sae_timeliness(
    ae_history: pd.DataFrame, population: pd.DataFrame, clock_hours: float
) -> pd.DataFrame:
    """Closed part: each SAE's first serious version, awareness → recorded, and whether
    the awareness date was supplied (site-reported AEs of the safety population)."""
    columns = [
        "subject_id",
        "site",
        "ctcae_term",
        "grade",
        "onset_day",
        "awareness",
        "hours_aware_to_recorded",
        "within_clock",
    ]
    history = ae_history[
        ae_history["serious"].astype(bool)
        & (ae_history["origin"] == "site")
        & ae_history["subject_id"].isin(population["subject_id"])
    ]
    if history.empty:
        return pd.DataFrame(columns=columns)
    first = history.sort_values(["ae_pk", "version"]).drop_duplicates("ae_pk").copy()
    # A worsening split off an AE that was already reported serious is the same SAE report:
    # its timeliness is the original's (its versions are recorded when RT became known).
    if "ae_key" in first:
        parent = first["ae_key"].astype(str).str.removesuffix(WORSENED_SUFFIX)
        split = first["ae_key"].astype(str).str.endswith(WORSENED_SUFFIX)
        reported = set(zip(first["subject_id"], first["ae_key"], strict=True))
        already = [(s, p) in reported for s, p in zip(first["subject_id"], parent, strict=True)]
        first = first[~(split & pd.Series(already, index=first.index))]
    first = first.merge(population[["subject_id", "first_rt_on"]], on="subject_id", how="left")
    delta = (first["onset_on"] - first["first_rt_on"]).dt.days
    first["onset_day"] = delta.where(delta < 0, delta + 1).astype("Int64")
    supplied = first.get("aware_at_supplied", None)
    first["awareness"] = (
        supplied.map(AWARENESS).fillna("not recorded") if supplied is not None else "not recorded"
    )
    hours = (first["recorded_at"] - first["aware_at"]).dt.total_seconds() / 3600
    known = first["awareness"] == AWARENESS[True]
    first["hours_aware_to_recorded"] = hours.where(known).round(1)
    within = pd.Series(pd.NA, index=first.index, dtype="boolean")
    within[known] = (hours[known] <= clock_hours).to_numpy()
    first["within_clock"] = within
    first["grade"] = pd.to_numeric(first["grade"], errors="coerce").astype("Int64")
    return first.sort_values(["subject_id", "onset_day"])[columns].reset_index(drop=True)


def timeliness_summary(timeliness: pd.DataFrame, clock_hours: float) -> pd.DataFrame:
    """Open part: how many SAEs, how many with an awareness date, how fast."""
    known = timeliness[timeliness["awareness"] == AWARENESS[True]]
    hours = known["hours_aware_to_recorded"].dropna()
    rows = [
        ("SAEs (first serious version)", len(timeliness)),
        ("awareness date supplied by the site", len(known)),
        (
            "awareness date not supplied (receipt time used; delay unknown)",
            int((timeliness["awareness"] == AWARENESS[False]).sum()),
        ),
        (
            "awareness not recorded (before aewatch kept it)",
            int((timeliness["awareness"] == "not recorded").sum()),
        ),
        (f"recorded within {clock_hours:g} h of awareness", int(known["within_clock"].sum())),
        (
            f"recorded later than {clock_hours:g} h after awareness",
            int((~known["within_clock"].astype(bool)).sum()),
        ),
        (
            "median hours awareness → recorded (supplied dates only)",
            round(float(hours.median()), 1) if len(hours) else None,
        ),
    ]
    return pd.DataFrame(rows, columns=["measure", "value"])


def deviations(
    exposure: pd.DataFrame,
    quarantine: pd.DataFrame,
    timeliness: pd.DataFrame,
    min_bed_gy: float,
    clock_hours: float,
) -> pd.DataFrame:
    """Closed part: one row per deviation (subject, kind, detail)."""
    rows: list[dict[str, object]] = []
    for lesion in exposure[exposure["deviation"]].to_dict("records"):
        rows.append(
            {
                "subject_id": lesion["subject_id"],
                "deviation": f"BED₁₀ below {min_bed_gy:g} Gy",
                "detail": f"{lesion.get('lesion') or 'lesion'}: {lesion.get('schedule') or ''}"
                f" = {lesion['bed_gy']:g} Gy₁₀"
                if pd.notna(lesion.get("bed_gy"))
                else "BED not computable",
            }
        )
    courses = quarantine[
        (quarantine["domain"] == "EX")
        & (quarantine["state"] == "open")
        & quarantine["kind"].isin(["query", "rejected"])
    ]
    for row in courses.to_dict("records"):
        rows.append(
            {
                "subject_id": row["subject_id"],
                # EX holds the systemic drugs too: the detail names the field and reason.
                "deviation": "exposure (EX) record queried"
                if row["kind"] == "query"
                else "exposure (EX) record rejected",
                "detail": f"{row['field'] or ''}: {str(row['reason'])[:120]}",
            }
        )
    late = timeliness[timeliness["within_clock"].eq(False).fillna(False).astype(bool)]
    for row in late.to_dict("records"):
        rows.append(
            {
                "subject_id": row["subject_id"],
                "deviation": f"SAE recorded > {clock_hours:g} h after awareness",
                "detail": f"{row['ctcae_term']}: {row['hours_aware_to_recorded']:g} h",
            }
        )
    frame = pd.DataFrame(rows, columns=["subject_id", "deviation", "detail"])
    return frame.sort_values(["deviation", "subject_id"]).reset_index(drop=True)


def deviation_counts(deviations_frame: pd.DataFrame) -> pd.DataFrame:
    """Open part: records and patients per kind of deviation."""
    if deviations_frame.empty:
        return pd.DataFrame(columns=["deviation", "records", "patients"])
    grouped = deviations_frame.groupby("deviation")
    return pd.DataFrame(
        {"records": grouped.size(), "patients": grouped["subject_id"].nunique()}
    ).reset_index()
