"""Bulk writes through the driver: one ``executemany`` of plain tuples per table.

SQLAlchemy's executemany builds a parameter dictionary and runs each bind processor row
by row, and with RETURNING on SQLite it falls back to one statement per row; for the
tens of thousands of rows of a site's export that was most of an ingest. Here each
column's bind processor (the same one SQLAlchemy would use: dates as SQLite text,
aware UTC instants, booleans) runs once over the column's list, the columns' scalar
defaults are filled as SQLAlchemy fills them, and the driver gets tuples. PostgreSQL
gets the rows as one COPY stream (updates through a scratch table): even pipelined, a
statement per row cost it twice SQLite's time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.orm import Session


def insert_columns(session: Session, table: Table, columns: dict[str, Sequence[Any]]) -> None:
    """INSERT one row per position of ``columns`` (name → values, all the same length)."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"{table.name}: columns of different lengths {sorted(lengths)}")
    count = lengths.pop() if lengths else 0
    if count == 0:
        return
    connection = session.connection()
    dialect = connection.dialect
    names, lists = [], []
    for column in table.columns:
        if column.name in columns:
            values: Sequence[Any] = columns[column.name]
        elif column.default is not None and column.default.is_scalar:
            values = [column.default.arg] * count  # type: ignore[attr-defined]
        elif column.default is not None:
            raise ValueError(f"{table.name}.{column.name}: a callable default needs a value")
        else:
            continue
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if (
            column.server_default is None
            and (process is None or process(None) is None)  # JSON writes None as 'null'
            and _all_none(values)
        ):
            continue  # NULL whether named or not: one bind fewer per row
        names.append(column.name)
        lists.append(_processed(values, process) if process else list(values))
    unknown = set(columns) - set(table.columns.keys())
    if unknown:
        raise ValueError(f"{table.name}: no such columns {sorted(unknown)}")
    if connection.dialect.name == "postgresql":
        _copy(session, table.name, names, lists)
        return
    mark = _mark(session)
    statement = (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    )
    _executemany(session, statement, lists)


def _all_none(values: Sequence[Any]) -> bool:
    return all(v is None for v in values)  # stops at the first value


def update_columns(
    session: Session, table: Table, ids: Sequence[int], columns: dict[str, Sequence[Any]]
) -> None:
    """UPDATE the rows with these primary keys, each to its position's values."""
    if not ids:
        return
    dialect = session.connection().dialect
    lists = []
    for name, values in columns.items():
        if len(values) != len(ids):
            raise ValueError(f"{table.name}.{name}: {len(values)} values for {len(ids)} rows")
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        lists.append(_processed(values, process) if process else list(values))
    keys = [int(i) for i in ids]
    if dialect.name == "postgresql":
        # COPY the new values into a scratch table, then one UPDATE … FROM it: per-row
        # statements cost a round trip each, even pipelined.
        scratch = f"aewatch_update_{table.name}"
        raw = session.connection().connection.cursor()
        try:
            raw.execute(
                f"CREATE TEMP TABLE {scratch} ON COMMIT DROP AS"
                f" SELECT id, {', '.join(columns)} FROM {table.name} WITH NO DATA"
            )
        finally:
            raw.close()
        _copy(session, scratch, ["id", *columns], [keys, *lists])
        assignments = ", ".join(f"{name} = u.{name}" for name in columns)
        raw = session.connection().connection.cursor()
        try:
            raw.execute(
                f"UPDATE {table.name} t SET {assignments} FROM {scratch} u WHERE t.id = u.id"
            )
            raw.execute(f"DROP TABLE {scratch}")
        finally:
            raw.close()
        return
    mark = _mark(session)
    assignments = ", ".join(f"{name} = {mark}" for name in columns)
    _executemany(
        session,
        f"UPDATE {table.name} SET {assignments} WHERE id = {mark}",
        [*lists, keys],
    )


def _mark(session: Session) -> str:
    return "?" if session.connection().dialect.paramstyle == "qmark" else "%s"


def _copy(session: Session, table: str, names: list[str], lists: list[list[Any]]) -> None:
    """PostgreSQL's COPY FROM STDIN: the values go as one stream. Values of the kinds a
    writer here passes (text, numbers, flags, dates, instants, JSON) are written as COPY
    text, each distinct value once; a column holding anything else goes through psycopg's
    own adaptation row by row (``write_row``), which cost several times as much."""
    texts = [_copy_texts(values) for values in lists]
    cursor = session.connection().connection.cursor()
    try:
        with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
            if all(t is not None for t in texts):
                lines = ["\t".join(row) for row in zip(*texts, strict=True)]  # type: ignore[arg-type]
                copy.write(("\n".join(lines) + "\n").encode("utf-8"))
            else:
                for row in zip(*lists, strict=True):
                    copy.write_row(row)
    finally:
        cursor.close()


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
SPECIAL_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _copy_texts(values: Sequence[Any]) -> list[str] | None:
    """Each value in COPY's text format (``\\N`` for NULL), or None if one is of a kind
    not listed in ``_copy_text``. A column is one kind of value (and NULLs): each kind is
    written by one map over the column, not a dispatch per value."""
    kinds = set(map(type, values)) - {type(None)}
    if not kinds:
        return ["\\N"] * len(values)
    if len(kinds) > 1:
        return None
    kind = kinds.pop()
    if kind is str:
        present = [v for v in values if v is not None]
        if any(c in "".join(present) for c in "\\\n\r\t"):
            return [v.translate(COPY_ESCAPES) if v is not None else "\\N" for v in values]
        return [v if v is not None else "\\N" for v in values]
    if kind is bool:
        return list(map({True: "t", False: "f", None: "\\N"}.__getitem__, values))
    if kind is int:
        return [str(v) if v is not None else "\\N" for v in values]
    if kind is float:
        return [_float_text(v) if v is not None else "\\N" for v in values]
    first = values[0]
    if all(v is first for v in values):  # one receipt time, one file: written once
        text = _copy_text(first)
        return None if text is None else [text] * len(values)
    if kind is date:  # equal dates print alike (not so instants in other zones)
        done = {v: v.isoformat() for v in set(values) if v is not None}
        return [done[v] if v is not None else "\\N" for v in values]
    texts = [_copy_text(v) for v in values]
    return None if any(t is None for t in texts) else texts  # type: ignore[return-value]


def _copy_text(value: Any) -> str | None:
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is str:
        return value.translate(COPY_ESCAPES)
    if kind is bool:
        return "t" if value else "f"
    if kind is int or kind is Decimal:
        return str(value)
    if kind is float:
        return _float_text(value)
    if kind is datetime:
        return value.isoformat(sep=" ")
    if kind is date:
        return value.isoformat()
    if kind.__name__ == "Json" and kind.__module__ == "psycopg.types.json":
        dumped = (value.dumps or json.dumps)(value.obj)
        return dumped.translate(COPY_ESCAPES) if isinstance(dumped, str) else None
    return None


def _float_text(value: float) -> str:
    text = repr(value)
    return SPECIAL_FLOATS.get(text, text)


def _executemany(session: Session, statement: str, lists: list[list[Any]]) -> None:
    cursor = session.connection().connection.cursor()
    try:
        cursor.executemany(statement, list(zip(*lists, strict=True)))
    finally:
        cursor.close()


def _processed(values: Sequence[Any], process: Any) -> list[Any]:
    """``process`` over the values, once per distinct value (a file's rows share their
    receipt time, flags and dates); unhashable values (JSON) are processed each time."""
    if not values:
        return []
    first = values[0]
    if isinstance(values, list) and all(v is first for v in values):
        return [process(first)] * len(values)  # a column of one value (receipt time, flags)
    if len(set(map(type, values)) - {type(None)}) <= 1:  # one kind: equal values print alike
        try:
            each = {value: process(value) for value in set(values)}
        except TypeError:  # unhashable (JSON): below, value by value
            pass
        else:
            return list(map(each.__getitem__, values))
    done: dict[Any, Any] = {}
    out = []
    for value in values:
        try:
            out.append(done[(type(value), value)])
        except KeyError:
            done[(type(value), value)] = result = process(value)
            out.append(result)
        except TypeError:
            out.append(process(value))
    return out


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table``, so rows can be inserted with their ids
    known (no RETURNING, which SQLite answers one row at a time).

    PostgreSQL draws them from the column's sequence. SQLite has no sequence, but every
    aewatch transaction on SQLite holds the write lock from its first statement (BEGIN
    IMMEDIATE, ``aewatch.db``), so the keys after the largest one are this transaction's
    alone; the tables have no AUTOINCREMENT, so that is what SQLite itself would choose.
    """
    if count <= 0:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": count},
        )
        return sorted(int(r[0]) for r in rows)
    stored = connection.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table.name}")).scalar()
    # Keys drawn earlier in this transaction may not be written yet (new lab results wait
    # for their grades): never hand them out twice.
    drawn = session.info.setdefault("aewatch_drawn_ids", {})
    start = max(int(stored or 0), drawn.get(table.name, 0))
    drawn[table.name] = start + count
    return list(range(start + 1, start + 1 + count))
