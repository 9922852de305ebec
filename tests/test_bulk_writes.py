"""Bulk writes (``store.bulk``) store exactly what SQLAlchemy's own INSERT stores: the
SQLite driver's executemany, and PostgreSQL's COPY, whose text format aewatch writes
itself for text, numbers, flags, dates, instants and JSON."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.orm import Session

from aewatch.db import make_engine
from aewatch.store.bulk import insert_columns

metadata = MetaData()
KINDS = Table(
    "bulk_kinds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("label", String(200)),
    Column("note", Text),
    Column("number", Float),
    Column("count", Integer),
    Column("flag", Boolean),
    Column("day", Date),
    Column("at", DateTime(timezone=True)),
    Column("evidence", JSON),
)
TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=20)
ROW = st.fixed_dictionaries(
    {
        "label": st.one_of(st.none(), TEXT, st.sampled_from(["a\tb", "a\\nb", "\\", "\n", "\r"])),
        "note": st.one_of(st.none(), TEXT),
        "number": st.one_of(
            st.none(), st.floats(allow_nan=False, allow_infinity=False), st.just(-0.0)
        ),
        "count": st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
        "flag": st.one_of(st.none(), st.booleans()),
        "day": st.one_of(st.none(), st.dates(date(1900, 1, 1), date(2100, 1, 1))),
        "at": st.one_of(
            st.none(),
            st.datetimes(datetime(1970, 1, 2), datetime(2100, 1, 1)).map(
                lambda d: d.replace(tzinfo=UTC)
            ),
        ),
        "evidence": st.one_of(
            st.none(), st.dictionaries(TEXT, st.one_of(TEXT, st.integers(), st.none()), max_size=3)
        ),
    }
)


ROW_KEYS = ("label", "note", "number", "count", "flag", "day", "at", "evidence")


def _read(session: Session) -> list[tuple[Any, ...]]:
    """Each row's values, and for each column whether it is SQL NULL: a JSON column reads
    back None both for SQL NULL and for the JSON text 'null' SQLAlchemy writes for None."""
    rows = session.execute(
        select(KINDS, *[c.is_(None) for c in KINDS.columns]).order_by(KINDS.c.id)
    ).all()
    return [tuple(r)[1:] for r in rows]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


@settings(
    derandomize=True,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(ROW, min_size=1, max_size=8) | st.just([dict.fromkeys(ROW_KEYS)] * 3))
def test_a_bulk_write_stores_what_sqlalchemys_insert_stores(
    db_url: str, rows: list[dict[str, Any]]
) -> None:
    engine = make_engine(db_url)
    metadata.create_all(engine)
    try:
        with Session(engine) as session, session.begin():
            session.execute(KINDS.delete())
            session.execute(insert(KINDS), [{"id": i, **r} for i, r in enumerate(rows)])
            expected = _read(session)
            session.execute(KINDS.delete())
            columns = {name: [r[name] for r in rows] for name in rows[0]}
            insert_columns(session, KINDS, {"id": list(range(len(rows))), **columns})
            got = _read(session)
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            assert all(_same(x, y) for x, y in zip(g, e, strict=True)), (g, e)
    finally:
        metadata.drop_all(engine)
        engine.dispose()
