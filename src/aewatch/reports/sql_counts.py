"""`aewatch counts` in SQL: one GROUP BY per table, through the DB-API driver.

The conventions are those of ``tables`` (safety_domain.md §5): the safety population
is the denominator; an AE counts when it is graded 1–5 and treatment-emergent (onset on
or after the patient's first RT day, or unknown); derived syndromes are left out; by
patient each patient counts once per row at the worst grade, by event every AE once at
its current grade; the related filter applies before the worst grade. Here the database
does the whole aggregation and Python only orders the rows the way ``tables.count_by``
does, so the command never imports pandas or SQLAlchemy. ``counts_document`` returns
exactly the document of ``tables.counts_document`` (a test compares the two on every
option, on SQLite and PostgreSQL).

Relation words are read as ``safety.relatedness.normalise_relation`` reads them: empty,
"unrelated" and "unlikely" are not related; any other word is (relatedness not ruled
out). An AE stored without a SOC takes its term's CTCAE SOC, else "Unclassified".

The data cut is ``reports.datacut.DataCut``, as for the report: the clinical day keeps
AEs with an onset on or before it (or none), subjects enrolled by then and courses
started by then; the knowledge time keeps each AE's latest version recorded by then and
the subjects and courses first recorded by then.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aewatch.dbapi import ReadOnlyDatabase
from aewatch.reports.datacut import EMERGENT_SQL, DataCut, cut_clauses
from aewatch.safety.onsets import IMPUTED_ONSET_SQL as IMPUTED_ONSET

GRADES = (1, 2, 3, 4, 5)
BY_KEYS: dict[str, tuple[str, ...]] = {
    "term": ("soc", "term"),
    "soc": ("soc",),
    "grade": ("grade",),
    "subject": ("subject_id",),
    "site": ("site",),
}
RELATION_COLUMNS = {
    "rt": ("rt_relation",),
    "systemic": ("systemic_relation",),
    "any": ("rt_relation", "systemic_relation"),
}


def counts_document(
    db: ReadOnlyDatabase,
    trial_id: str,
    *,
    by: str = "term",
    min_grade: int | None = None,
    related: str | None = None,
    serious: bool = False,
    since: date | None = None,
    cut: DataCut | None = None,
    safety_population: str = "rt_started",
) -> dict[str, object]:
    """``{"safety_population": n, "counts": [...]}`` as `aewatch counts --format json` prints,
    at the data cut (None: everything recorded, of any date)."""
    if by not in BY_KEYS:
        raise ValueError(f"by must be one of {sorted(BY_KEYS)}, got {by!r}")
    if related is not None and related not in RELATION_COLUMNS:
        raise ValueError(f"related must be one of {sorted(RELATION_COLUMNS)}, got {related!r}")
    found = db.rows("SELECT id FROM trials WHERE trial_id = :t", {"t": trial_id})
    if not found:
        return _document(by, 0, [((g,), [0] * 5, 0) for g in GRADES] if by == "grade" else [])
    cut = cut or DataCut()
    params: dict[str, Any] = {"trial": int(found[0][0])}
    population = _population_sql(params, cut, safety_population)
    population_n = int(
        db.rows(f"WITH population AS ({population}) SELECT COUNT(*) FROM population", params)[0][0]
    )
    events = _events_sql(db, params, cut, min_grade, related, serious, since)
    with_events = f"WITH population AS ({population}), events AS ({events}) "
    if by == "grade":
        sql = with_events + (
            "SELECT grade, SUM(patient), SUM(event) FROM ("
            " SELECT worst AS grade, 1 AS patient, 0 AS event FROM"
            " (SELECT subject_id, MAX(grade) AS worst FROM events GROUP BY subject_id) w"
            " UNION ALL SELECT grade, 0, 1 FROM events) g GROUP BY grade"
        )
        totals = {int(g): (int(p), int(e)) for g, p, e in db.rows(sql, params)}
        rows = []
        for g in GRADES:
            patients, events_n = totals.get(g, (0, 0))
            rows.append(((g,), [patients if w == g else 0 for w in GRADES], events_n))
        return _document(by, population_n, rows)
    keys = BY_KEYS[by]
    key_list = ", ".join(keys)
    worst = ", ".join(f"SUM(CASE WHEN worst = {g} THEN 1 ELSE 0 END)" for g in GRADES)
    per_patient_keys = key_list if "subject_id" in keys else f"{key_list}, subject_id"
    sql = with_events + (
        f"SELECT {key_list}, {worst}, SUM(n) FROM ("
        f" SELECT {per_patient_keys}, MAX(grade) AS worst, COUNT(*) AS n FROM events"
        f" GROUP BY {per_patient_keys}) per_patient"
        + (" WHERE site IS NOT NULL" if by == "site" else "")
        + f" GROUP BY {key_list}"
    )
    width = len(keys)
    rows = [
        (tuple(r[:width]), [int(v) for v in r[width : width + 5]], int(r[width + 5]))
        for r in db.rows(sql, params)
    ]
    return _document(by, population_n, _ordered(by, rows))


def _population_sql(params: dict[str, Any], cut: DataCut, definition: str) -> str:
    where = ["s.trial_pk = :trial"]
    course_cut = ""
    if cut.known_at is not None:
        params["as_of"] = cut.known_at
        where.append("(s.created_at IS NULL OR s.created_at <= :as_of)")
        course_cut += " AND (r.created_at IS NULL OR r.created_at <= :as_of)"
    if cut.clinical_day is not None:
        params["cut_day"] = cut.clinical_day
        where.append("(s.enrolled_on IS NULL OR s.enrolled_on <= :cut_day)")
        course_cut += " AND (r.start_on IS NULL OR r.start_on <= :cut_day)"
    if definition == "rt_started":
        where.append(f"EXISTS (SELECT 1 FROM rt_courses r WHERE r.subject_pk = s.id{course_cut})")
    return "SELECT s.id AS subject_pk, s.subject_id, s.site FROM subjects s WHERE " + " AND ".join(
        where
    )


def _events_sql(
    db: ReadOnlyDatabase,
    params: dict[str, Any],
    cut: DataCut,
    min_grade: int | None,
    related: str | None,
    serious: bool,
    since: date | None,
) -> str:
    clauses, first_rt_cut = cut_clauses(cut, params)
    where = [
        "a.trial_pk = :trial",
        "a.origin <> 'syndrome'",
        "v.grade BETWEEN 1 AND 5",
        *clauses,
        EMERGENT_SQL,
    ]
    if since is not None:
        where.append(f"{IMPUTED_ONSET} >= :since")
        params["since"] = since
    if min_grade is not None:
        where.append("v.grade >= :min_grade")
        params["min_grade"] = int(min_grade)
    if serious:
        where.append("v.serious = :serious")
        params["serious"] = True
    if related is not None:
        tests = [_related(db, f"v.{column}") for column in RELATION_COLUMNS[related]]
        where.append("(" + " OR ".join(tests) + ")")
    return (
        f"SELECT p.subject_id, p.site, {_soc(db, params)} AS soc,"
        " COALESCE(v.ctcae_term, 'Uncoded term') AS term, v.grade"
        " FROM ae_versions v JOIN adverse_events a ON a.id = v.ae_pk"
        " JOIN population p ON p.subject_pk = a.subject_pk"
        " LEFT JOIN (SELECT r.subject_pk, MIN(r.start_on) AS first_rt_on FROM rt_courses r"
        f" WHERE r.start_on IS NOT NULL{first_rt_cut} GROUP BY r.subject_pk) f"
        " ON f.subject_pk = a.subject_pk"
        " WHERE " + " AND ".join(where)
    )


def _related(db: ReadOnlyDatabase, column: str) -> str:
    """Related unless empty, "unrelated" or "unlikely" (tabs and line ends count as blanks)."""
    char = "char" if db.dialect == "sqlite" else "chr"
    word = column
    for code in (9, 10, 13):
        word = f"REPLACE({word}, {char}({code}), ' ')"
    word = f"LOWER(TRIM({word}))"
    return f"({column} IS NOT NULL AND {word} <> '' AND {word} NOT IN ('unrelated', 'unlikely'))"


def _soc(db: ReadOnlyDatabase, params: dict[str, Any]) -> str:
    """The stored SOC; for rows stored without one, the term's CTCAE SOC (looked up only
    when there are such rows), else "Unclassified"."""
    missing = db.rows(
        "SELECT DISTINCT v.ctcae_term FROM ae_versions v JOIN adverse_events a ON a.id = v.ae_pk"
        " WHERE a.trial_pk = :trial AND v.ctcae_soc IS NULL AND v.ctcae_term IS NOT NULL",
        {"trial": params["trial"]},
    )
    socs = _socs_of_terms([str(t) for (t,) in missing]) if missing else {}
    if not socs:
        return "COALESCE(v.ctcae_soc, 'Unclassified')"
    cases = []
    for i, (term, soc) in enumerate(socs.items()):
        params[f"lookup_term_{i}"], params[f"lookup_soc_{i}"] = term, soc
        cases.append(f"WHEN :lookup_term_{i} THEN :lookup_soc_{i}")
    return f"COALESCE(v.ctcae_soc, CASE v.ctcae_term {' '.join(cases)} END, 'Unclassified')"


def _socs_of_terms(terms: list[str]) -> dict[str, str]:
    from aewatch.ctcae.dictionary import load_dictionary

    dictionary = load_dictionary()
    found = {term: dictionary.lookup(term) for term in terms}
    return {term: entry.soc for term, entry in found.items() if entry is not None}


def _ordered(
    by: str, rows: list[tuple[tuple[Any, ...], list[int], int]]
) -> list[tuple[tuple[Any, ...], list[int], int]]:
    """``tables.count_by``'s order: SOC then most patients then term; SOC; most patients
    then subject or site. Ordered here, not in SQL, so that PostgreSQL's collation cannot
    change it."""
    if by == "term":
        return sorted(rows, key=lambda r: (r[0][0], -sum(r[1]), r[0][1]))
    if by == "soc":
        return sorted(rows, key=lambda r: r[0])
    return sorted(rows, key=lambda r: (-sum(r[1]), r[0]))


def _document(
    by: str, population_n: int, rows: list[tuple[tuple[Any, ...], list[int], int]]
) -> dict[str, object]:
    names = BY_KEYS[by]
    counts = []
    for key, by_worst, events in rows:
        row: dict[str, object] = dict(zip(names, key, strict=True))
        row["patients"] = sum(by_worst)
        row["patients_by_worst_grade"] = {str(g): n for g, n in zip(GRADES, by_worst, strict=True)}
        row["patients_grade3plus"] = sum(by_worst[2:])
        row["events"] = events
        counts.append(row)
    return {"safety_population": int(population_n), "counts": counts}
