"""`aewatch counts` aggregated in SQL gives, byte for byte, the document of the pandas
counting (``tables``, which the DSMB report uses) on every option and at every data cut
(clinical day, knowledge time, both or neither), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from aewatch.dbapi import DatabaseMissing, connect
from aewatch.reports.counting import count_adverse_events
from aewatch.reports.datacut import DataCut
from aewatch.reports.sql_counts import counts_document
from aewatch.reports.tables import EventFilter
from aewatch.trials import ensure_trial
from reports.conftest import GEN, INV, Builder, ae_version, at

CUTS = {
    "everything": DataCut(),
    "february-recorded-now": DataCut(date(2026, 2, 28)),
    "february": DataCut(date(2026, 2, 28), datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)),
    "january-as-known-in-february": DataCut(
        date(2026, 1, 31), datetime(2026, 2, 5, 23, 59, 59, tzinfo=UTC)
    ),
    "before-upgrade": DataCut(date(2026, 2, 10), datetime(2026, 2, 10, 23, 59, 59, tzinfo=UTC)),
    "known-only": DataCut(None, datetime(2026, 2, 10, 23, 59, 59, tzinfo=UTC)),
}
OPTIONS = list(
    itertools.product(
        ("term", "soc", "grade", "subject", "site"),
        (None, 3),
        (None, "rt", "systemic", "any"),
        (False, True),
        (None, date(2026, 2, 1)),
    )
)


def _both(sessions: Any, db_url: str, settings: Any, cut: DataCut) -> list[tuple]:
    pairs = []
    with sessions() as session, connect(db_url) as db:
        trial_pk = ensure_trial(session, settings, at("2026-01-01")).id
        for by, min_grade, related, serious, since in OPTIONS:
            selection = EventFilter(min_grade, related, serious, since)
            reference = count_adverse_events(
                session, trial_pk, by=by, selection=selection, cut=cut
            ).document()
            fast = counts_document(
                db,
                settings.trial.id,
                by=by,
                min_grade=min_grade,
                related=related,
                serious=serious,
                since=since,
                cut=cut,
            )
            pairs.append(((by, min_grade, related, serious, since), reference, fast))
    return pairs


def _json(document: object) -> str:
    return json.dumps(document, indent=2, default=str, ensure_ascii=False)


@pytest.mark.parametrize("cut", list(CUTS.values()), ids=list(CUTS))
def test_sql_counts_equal_the_pandas_counts_on_every_option(
    sessions: Any, db_url: str, settings: Any, small_trial: Any, cut: DataCut
) -> None:
    for options, reference, fast in _both(sessions, db_url, settings, cut):
        assert _json(fast) == _json(reference), options


def _add_awkward_rows(sessions: Any, settings: Any) -> None:
    """What sites really send: no site, a lab AE stored without SOC, an uncoded term, free
    text and blanks as relations, an ungraded record, an onset before RT, a patient whose
    data arrived weeks after enrolment."""
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, at("2026-01-01"))
        b = Builder(session, trial.id)
        b.subject("Q01", None, "2026-01-07")  # type: ignore[arg-type]
        b.rt("Q01", 5, 8.0, "2026-01-12", "2026-01-19")
        b.subject("Q02", "S09", "2026-01-08", created_at=at("2026-02-15"))  # recorded late
        b.rt("Q02", 3, 10.0, "2026-01-14", "2026-01-18")
        versions = [
            ae_version("Fatigue", GEN, 2, "2026-01-20", "2026-01-21", rt_relation="Yes"),
            ae_version("Platelet count decreased", None, 3, "2026-01-22", "2026-01-23"),
            ae_version(None, None, 2, "2026-01-25", "2026-01-26", rt_relation=" unlikely "),
            ae_version("Nausea", None, 1, "2026-01-05", "2026-01-26", systemic_relation="\t"),
            ae_version("Anorexia", GEN, None, "2026-01-27", "2026-01-28"),
            ae_version("ALT increased", INV, 4, "2026-02-02", "2026-02-03", serious=True),
        ]
        for n, version in enumerate(versions):
            b.ae("Q01" if n % 2 else "Q02", f"Q-{n}", [version])


@pytest.mark.parametrize(
    "cut",
    [CUTS["everything"], CUTS["february"], CUTS["before-upgrade"]],
    ids=["now", "february", "before-upgrade"],
)
def test_sql_counts_equal_the_pandas_counts_on_awkward_rows(
    sessions: Any, db_url: str, settings: Any, small_trial: Any, cut: DataCut
) -> None:
    _add_awkward_rows(sessions, settings)
    for options, reference, fast in _both(sessions, db_url, settings, cut):
        assert _json(fast) == _json(reference), options


def test_an_unknown_trial_counts_nothing(db_url: str, settings: Any, small_trial: Any) -> None:
    with connect(db_url) as db:
        assert counts_document(db, "NCT00000000") == {"safety_population": 0, "counts": []}
        by_grade = counts_document(db, "NCT00000000", by="grade")
    assert [row["grade"] for row in by_grade["counts"]] == [1, 2, 3, 4, 5]


def test_a_missing_database_file_is_named_not_created(tmp_path: Any) -> None:
    path = tmp_path / "nothing-here.sqlite"
    with pytest.raises(DatabaseMissing, match="no database at"):
        connect(f"sqlite:///{path}")
    assert not path.exists()
