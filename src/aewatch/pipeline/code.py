"""Stage 4, code: what each row needs before it can be stored.

AEs: log-form records merged into one version, the term coded to CTCAE v5.0 (the coding
method is kept), the counting grade set, and coding doubts, reported-grade problems and the
seriousness and attribution queries a monitor expects (aewatch.safety.data_queries) raised
as data queries (the row is kept; nothing is silently changed). EX: each record read as
radiotherapy or a systemic drug, its dose in Gy and its target (liver or not), and what
the site must fix raised as data queries; the records are stored as sent and the courses
built from them in the exposure stage. Pure, so it runs before the transaction opens.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from aewatch.config import Settings
from aewatch.ingest.validate import Checked, Fault, collapse_log_form
from aewatch.pipeline.context import PreparedTable


def code(checked: Checked, settings: Settings) -> PreparedTable:
    frame, faults = checked.frame, list(checked.faults)
    if not frame.empty and checked.domain == "AE":
        frame, queries = code_adverse_events(collapse_log_form(frame), settings)
        faults.extend(queries)
    elif not frame.empty and checked.domain == "EX":
        faults.extend(exposure_queries(frame, settings))
    subjects = (
        checked.frame["USUBJID"] if "USUBJID" in checked.frame else pd.Series([], dtype="object")
    )
    return PreparedTable(
        checked.domain,
        frame,
        faults,
        checked.rows,
        checked.columns,
        subjects,
        tuple(checked.normalised),
    )


def code_adverse_events(
    frame: pd.DataFrame, settings: Settings | None = None
) -> tuple[pd.DataFrame, list[Fault]]:
    """Add CTCAE coding and the counting grade; coding doubts, reported-grade problems and
    the monitor's seriousness and attribution queries become data queries."""
    from aewatch.ctcae import DICTIONARY_VERSION
    from aewatch.ctcae.dictionary import code_terms
    from aewatch.ctcae.reported import check_reported_grades

    frame = frame.copy()
    coded = code_terms(
        pd.DataFrame(
            {
                "AEDECOD": frame["decoded_term"],
                "AETERM": frame["verbatim_term"],
                "AEBODSYS": frame["body_system"],
            },
            index=frame.index,
        )
    )
    frame["ctcae_term"] = coded["ctcae_term"]
    frame["ctcae_soc"] = coded["ctcae_soc"].fillna(frame["body_system"])
    frame["meddra_code"] = pd.to_numeric(coded["meddra_code"], errors="coerce").astype("Int64")
    frame["coding"] = coded["coding"]
    frame["grade"] = frame["reported_grade"]
    frame["dictionary_version"] = DICTIONARY_VERSION
    faults: list[Fault] = []
    review = coded["needs_review"].astype(bool)
    for label in frame.index[review.to_numpy()]:
        faults.append(
            Fault(
                int(frame.at[label, "ROW"]),
                "AEDECOD",
                _text(frame.at[label, "decoded_term"]) or _text(frame.at[label, "verbatim_term"]),
                str(coded.at[label, "coding_note"] or "term is not a CTCAE v5.0 term: review"),
                kind="query",
                subject=frame.at[label, "USUBJID"],
                key=_key(frame, label),
            )
        )
    problems = check_reported_grades(
        pd.DataFrame(
            {
                "ctcae_term": frame["ctcae_term"],
                "grade": frame["reported_grade"],
                "outcome": frame["outcome"],
                "death": frame["death"],
            },
            index=frame.index,
        )
    )
    for problem in problems.itertuples(index=False):
        if problem.field == "ctcae_term":
            continue  # an uncoded term already has its coding query
        label = problem.index
        faults.append(
            Fault(
                int(frame.at[label, "ROW"]),
                str(problem.field),
                None if pd.isna(problem.value) else str(problem.value),
                str(problem.reason),
                kind="query",
                subject=frame.at[label, "USUBJID"],
                key=_key(frame, label),
            )
        )
    faults.extend(monitor_queries(frame, settings))
    return frame, faults


def monitor_queries(frame: pd.DataFrame, settings: Settings | None) -> list[Fault]:
    """Seriousness and attribution queries (aewatch.safety.data_queries), one per AE."""
    from aewatch.safety.data_queries import adverse_event_queries

    rules = [
        (rule.name, rule.missing_attribution)
        for rule in (settings.stopping_rules if settings else ())
        if rule.site_reported and rule.attribution_to in ("rt", "either", "both")
    ]
    return [
        Fault(
            int(frame.at[query.index, "ROW"]),
            query.field,
            query.value,
            query.reason,
            kind="query",
            subject=frame.at[query.index, "USUBJID"],
            key=_key(frame, query.index),
        )
        for query in adverse_event_queries(frame, rules)
    ]


def _key(frame: pd.DataFrame, label: Any) -> str | None:
    key = frame.at[label, "ae_key"] if "ae_key" in frame else None
    return str(key) if isinstance(key, str) and key and key != "SEQ:" else None


def exposure_queries(frame: pd.DataFrame, settings: Settings) -> list[Fault]:
    """Data queries each EX record raises by itself (unit, dose, fraction count, site,
    treatment): the record is kept and stored as sent."""
    from aewatch.exposure.records import read_records, record_queries
    from aewatch.exposure.rules import exposure_rules

    rules = exposure_rules(settings)
    queries = record_queries(read_records(frame, rules), rules)
    return [
        Fault(
            int(frame.at[label, "ROW"]),
            str(field),
            _text(value),
            str(reason),
            kind="query",
            subject=frame.at[label, "USUBJID"],
        )
        for label, field, value, reason in queries.itertuples(name=None)
    ]


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) or value == "" else str(value)
