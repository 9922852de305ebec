"""Data queries a trial monitor expects on seriousness, attribution and deaths.

Each is a query, not a rejection: the record is kept and counts as the rules say (a
missing attribution counts as each rule's ``missing_attribution`` decides; an AE with a
criterion or a death is serious whatever AESER says, ICH E2A), and the site is told what
to correct. The texts are what the data manager pastes into the query.

* ``adverse_event_queries``: per AE (after log-form merging): AEREL missing, AESER = Y
  without any criterion, AESER = N with a criterion or with a death, a serious AE without
  its awareness date AEAWDTC (the sponsor's 24-hour clock then runs from receipt, ICH
  E2A / E6 4.11.1: later than it should).
* ``death_queries``: DM and AE disagree on whether a subject died. DM and AE often come
  in different files, so this runs on stored data inside the ingest transaction
  (``pipeline.reconcile``); it is the one place where deaths recorded in one domain only
  are found, and the base for a reconciled view of deaths.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

CRITERIA = (
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "medically_important",
)
CRITERIA_VARIABLES = "AESDTH, AESLIFE, AESHOSP, AESDISAB, AESCONG, AESMIE"


@dataclass(frozen=True)
class DataQuery:
    """One query: ``index`` is the row label of the AE table (or the subject id)."""

    index: Any
    field: str
    value: str | None
    reason: str
    check: str


def adverse_event_queries(
    frame: pd.DataFrame, missing_counts_as: Iterable[tuple[str, str]] = ()
) -> list[DataQuery]:
    """Seriousness and attribution queries on coded AE rows.

    ``frame`` holds ``rt_relation``, ``aeser`` (Y / N / None as sent), the criterion
    flags, ``reported_grade`` and ``outcome``. ``missing_counts_as`` gives, for each
    stopping rule judged on attribution to RT, (rule name, "related" / "unrelated").
    """
    queries: list[DataQuery] = []
    counted = _missing_attribution_effect(missing_counts_as)
    missing = frame["rt_relation"].isna()
    for label in frame.index[missing.to_numpy(dtype=bool)]:
        queries.append(
            DataQuery(
                label,
                "AEREL",
                None,
                "AEREL (relationship to radiotherapy) is missing: ask the investigator to "
                "assess it as unrelated, unlikely, possible, probable or definite" + counted,
                "attribution-missing",
            )
        )
    criterion = frame[list(CRITERIA)].fillna(False).astype(bool).any(axis=1)
    said = frame["aeser"].astype("object") if "aeser" in frame else pd.Series(None, frame.index)
    grade = pd.to_numeric(frame["reported_grade"], errors="coerce")
    fatal = grade.eq(5).fillna(False) | frame["outcome"].eq("FATAL").fillna(False)
    checks = (
        (
            said.eq("Y") & ~criterion & ~fatal,
            "AESER is Y but no seriousness criterion is Y: give the criterion that makes "
            f"the AE serious ({CRITERIA_VARIABLES}); it is needed for expedited reporting",
            "serious-without-criterion",
        ),
        (
            said.eq("N") & criterion,
            "AESER is N but a seriousness criterion is Y: treated as serious; confirm with "
            "the site and correct AESER or the criterion",
            "criterion-without-serious",
        ),
        (
            said.eq("N") & fatal & ~criterion,
            "AESER is N but the AE is fatal (AETOXGR 5 or AEOUT FATAL): treated as serious; "
            "correct AESER to Y and set AESDTH to Y",
            "fatal-not-serious",
        ),
    )
    for mask, reason, check in checks:
        for label in frame.index[mask.fillna(False).to_numpy(dtype=bool)]:
            queries.append(DataQuery(label, "AESER", str(said[label]), reason, check))
    for label in frame.index[_awareness_missing(frame, fatal).to_numpy(dtype=bool)]:
        queries.append(DataQuery(label, "AEAWDTC", None, AWARENESS_MISSING, "awareness-missing"))
    return sorted(queries, key=lambda q: (_order(frame, q.index), q.field))


AWARENESS_MISSING = (
    "AEAWDTC (when the site became aware of this serious AE) is missing: give the date and "
    "time, e.g. 2026-11-27T15:00 in the site's local time; until then the 24-hour "
    "reporting clock runs from when the file was received"
)


def _awareness_missing(frame: pd.DataFrame, fatal: pd.Series) -> pd.Series:
    """Serious AEs whose export left AEAWDTC empty (one written but implausible has its
    own query). ``aware_given``: AEAWDTC was written; else ``aware_on`` is known."""
    if "aware_given" in frame:
        given = frame["aware_given"].astype("boolean").fillna(False)
    elif "aware_on" in frame:
        given = frame["aware_on"].notna()
    else:
        return pd.Series(False, index=frame.index)
    said = frame["serious"] if "serious" in frame else pd.Series(False, index=frame.index)
    serious = said.astype("boolean").fillna(False) | fatal
    return (serious & ~given).astype(bool)


def _missing_attribution_effect(rules: Iterable[tuple[str, str]]) -> str:
    by_effect: dict[str, list[str]] = {}
    for name, effect in rules:
        by_effect.setdefault(effect, []).append(name)
    parts = [
        f"counts as {effect} in the stopping rule{'s' if len(names) > 1 else ''} "
        + ", ".join(names)
        for effect, names in sorted(by_effect.items())
    ]
    return ("; until then it " + " and ".join(parts)) if parts else ""


def _order(frame: pd.DataFrame, label: Any) -> int:
    return int(frame.at[label, "ROW"]) if "ROW" in frame else 0


# --------------------------------------------------------------------------- deaths


# The queries that ask whether a death without a fatal AE was caused by an AE at all: a
# person resolving one of them by hand confirms it was not (aewatch quarantine resolve).
NOT_CAUSED_BY_AE_KEYS = ("DEATH:DM", "DEATH:DS:NO-FATAL-AE")


@dataclass(frozen=True)
class DeathQuery:
    """A death recorded in one domain only, about one subject (and one AE on the AE side)."""

    subject_id: str
    domain: str  # DM: a death in DM without a fatal AE; AE: a fatal AE without a DM death
    key: str  # stable per finding, so a re-run finds the same query open
    field: str
    value: str | None
    reason: str
    ae_pk: int | None = None


def death_queries(
    subjects: pd.DataFrame, events: pd.DataFrame, ds: pd.DataFrame | None = None
) -> list[DeathQuery]:
    """DM, DS and AE must agree on deaths.

    ``subjects``: subject_id, died_on (date or None), death_flag (DTHFL: True / False /
    None). ``events``: the current AE versions of those subjects with subject_id, ae_pk,
    ae_key, ctcae_term, grade, outcome, death (AESDTH). A fatal AE is one graded 5, with
    outcome FATAL or AESDTH = Y (CTCAE v5.0: a death caused by an AE is grade 5 of it).
    ``ds``: DS death records (subject_id, start_on).
    """
    if subjects.empty:
        return []
    ds = ds if ds is not None else pd.DataFrame(columns=["subject_id", "start_on"])
    ds_day = ds.dropna(subset=["start_on"]).groupby("subject_id")["start_on"].min().to_dict()
    in_ds = set(ds["subject_id"])
    fatal = events[
        pd.to_numeric(events["grade"], errors="coerce").eq(5).fillna(False)
        | events["outcome"].eq("FATAL").fillna(False)
        | events["death"].fillna(False).astype(bool)
    ]
    with_fatal = set(fatal["subject_id"])
    died_on = subjects["died_on"]
    flag = subjects["death_flag"].astype("object")
    dm_death = died_on.notna() | flag.eq(True)
    out: list[DeathQuery] = []
    counted = (
        "; until then it counts as a grade 5 Death NOS of unknown attribution in every "
        "table and stopping rule"
    )
    for row in subjects[dm_death].itertuples(index=False):
        if row.subject_id in with_fatal:
            continue
        dated = row.died_on is not None and not pd.isna(row.died_on)
        field, value = ("DTHDTC", _day(row.died_on)) if dated else ("DTHFL", "Y")
        out.append(
            DeathQuery(
                str(row.subject_id),
                "DM",
                NOT_CAUSED_BY_AE_KEYS[0],
                field,
                value,
                f"DM records a death ({field} {value}) but no AE of this subject is fatal "
                "(AETOXGR 5, AEOUT FATAL): report the AE that caused the death as grade 5, "
                "or confirm that the death was not caused by an AE (e.g. disease progression)"
                + counted,
            )
        )
    dead = set(subjects.loc[dm_death, "subject_id"])
    for subject in sorted(in_ds - dead):
        day = ds_day.get(subject)
        value = _day(day) if day is not None else None
        out.append(
            DeathQuery(
                str(subject),
                "DS",
                "DEATH:DS",
                "DSDECOD",
                "DEATH",
                f"DS records a death{f' on {value}' if value else ''} but DM does not: send "
                "DM with DTHFL Y and the date of death DTHDTC",
            )
        )
        if subject not in with_fatal:
            out.append(
                DeathQuery(
                    str(subject),
                    "DS",
                    NOT_CAUSED_BY_AE_KEYS[1],
                    "DSDECOD",
                    "DEATH",
                    f"DS records a death{f' on {value}' if value else ''} but no AE of this "
                    "subject is fatal (AETOXGR 5, AEOUT FATAL): report the AE that caused the "
                    "death as grade 5, or confirm that the death was not caused by an AE (e.g. "
                    "disease progression)" + counted,
                )
            )
    dead |= in_ds
    for row in fatal.itertuples(index=False):
        if row.subject_id in dead:
            continue
        grade = pd.to_numeric(pd.Series([row.grade]), errors="coerce").iat[0]
        field, value = (
            ("AETOXGR", "5")
            if grade == 5
            else (("AEOUT", "FATAL") if row.outcome == "FATAL" else ("AESDTH", "Y"))
        )
        term = row.ctcae_term or "uncoded term"
        out.append(
            DeathQuery(
                str(row.subject_id),
                "AE",
                f"DEATH:AE:{row.ae_key}",
                field,
                value,
                f"AE {row.ae_key} ({term}) is fatal ({field} {value}) but DM records no death "
                "for this subject: send DM with DTHFL Y and the date of death DTHDTC, or "
                "correct the AE",
                ae_pk=int(row.ae_pk),
            )
        )
    return out


def _day(value: Any) -> str:
    return value.isoformat()[:10] if hasattr(value, "isoformat") else str(value)
