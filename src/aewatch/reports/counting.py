"""`aewatch counts` as a library call: SQL selects the rows, ``tables`` counts them.

The split keeps one implementation of the counting conventions (``tables``: worst grade
per patient, by event, related-first) while the database does the row work that would
otherwise cost most of a second on 100,000 AEs: choosing each AE's version as of the
cut, leaving out derived syndromes and AEs dated after the clinical cut, and flagging
treatment-emergent onsets (so no dates are parsed). Only the columns a filter needs are
selected. (A SQL GROUP BY to collapse identical rows was measured slower than fetching
them.) A test checks this path against the report's snapshot path for every option and
data cut (aewatch.reports.datacut: clinical day and knowledge time).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from aewatch.reports import tables
from aewatch.reports.datacut import EMERGENT_SQL, DataCut, cut_clauses
from aewatch.reports.snapshot import (
    load_dispositions,
    load_rt_courses,
    load_subjects,
    normalise_ae,
    run_query,
)
from aewatch.safety.onsets import IMPUTED_ONSET_SQL as IMPUTED_ONSET


@dataclass(frozen=True)
class CountResult:
    by: str
    population_n: int
    table: pd.DataFrame

    def document(self) -> dict[str, object]:
        return tables.counts_document(self.table, self.population_n, self.by)


def trial_pk_for(session: Session, trial_id: str) -> int | None:
    """Read-only lookup (no ORM import, no insert): an unknown trial has nothing to count."""
    row = session.execute(text("SELECT id FROM trials WHERE trial_id = :t"), {"t": trial_id})
    found = row.first()
    return None if found is None else int(found[0])


def count_adverse_events(
    session: Session,
    trial_pk: int | None,
    *,
    by: str = "term",
    selection: tables.EventFilter | None = None,
    cut: DataCut | None = None,
    safety_population: str = "rt_started",
) -> CountResult:
    """Patients by worst grade and events, per ``by`` key, over the safety population,
    at the data cut (None: everything recorded, of any date)."""
    selection = selection or tables.EventFilter()
    if trial_pk is None:
        empty = tables.count_by(_empty_events(), by)
        return CountResult(by=by, population_n=0, table=empty)
    cut = cut or DataCut()
    subjects = load_subjects(session, trial_pk, cut, load_dispositions(session, trial_pk, cut))
    courses = load_rt_courses(session, trial_pk, cut)
    population = tables.safety_population(subjects, courses, safety_population)
    collapsed = _collapsed_events(session, trial_pk, cut, selection)
    collapsed = collapsed.merge(
        subjects[["subject_pk", "subject_id", "site"]], on="subject_pk", how="inner"
    )
    events = tables.countable_events(collapsed, population)
    # ``since`` was applied in SQL (the collapsed rows carry no onset date).
    events = tables.filter_events(events, replace(selection, since=None))
    return CountResult(by=by, population_n=len(population), table=tables.count_by(events, by))


def _collapsed_events(
    session: Session, trial_pk: int, cut: DataCut, selection: tables.EventFilter
) -> pd.DataFrame:
    extra = []
    if selection.serious:
        extra.append("v.serious")
    if selection.related:
        extra += ["v.rt_relation", "v.systemic_relation"]
    selected = ", ".join(["a.subject_pk", "v.ctcae_soc", "v.ctcae_term", "v.grade", *extra])
    params: dict[str, Any] = {"trial": trial_pk}
    clauses, course_cut = cut_clauses(cut, params)
    where = ["a.trial_pk = :trial", "a.origin <> 'syndrome'", *clauses]
    if selection.since is not None:
        where.append(f"{IMPUTED_ONSET} >= :since")
        params["since"] = selection.since
    if selection.min_grade is not None:
        where.append("v.grade >= :min_grade")
        params["min_grade"] = selection.min_grade
    emergent = f"CASE WHEN {EMERGENT_SQL} THEN 1 ELSE 0 END"
    sql = (
        f"SELECT {selected}, {emergent} AS emergent"
        " FROM ae_versions v JOIN adverse_events a ON a.id = v.ae_pk"
        " LEFT JOIN (SELECT r.subject_pk, MIN(r.start_on) AS first_rt_on FROM rt_courses r"
        f" WHERE r.start_on IS NOT NULL{course_cut} GROUP BY r.subject_pk) f"
        " ON f.subject_pk = a.subject_pk"
        f" WHERE {' AND '.join(where)}"
    )
    frame = run_query(session, sql, params, bools=("serious",) if selection.serious else ())
    return normalise_ae(frame)


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=object) for c in ("subject_id", "site", "ctcae_soc", "ctcae_term")}
        | {"grade": pd.Series(dtype=int)}
    )
