"""Read-only queries straight through the DB-API driver, for commands people wait on.

Importing SQLAlchemy costs about ten times a bare interpreter's start-up, more than
`aewatch counts` or `aewatch alerts list` spend on their queries. Those commands only
read, with plain SQL that runs unchanged on SQLite and PostgreSQL, so they open the
driver directly (``sqlite3`` from the standard library, ``psycopg`` for PostgreSQL).
Everything that writes goes through SQLAlchemy (``aewatch.db``) as before.

SQL is written with ``:name`` parameters; on PostgreSQL they become ``%(name)s``.
Values come back as the driver gives them: on SQLite dates are ISO text and flags 0/1,
so callers select what they print or count, not what they must parse.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

BUSY_TIMEOUT_MS = 30_000
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class DatabaseMissing(RuntimeError):
    """The configured SQLite file does not exist yet (`aewatch init` creates it)."""


class ReadOnlyDatabase:
    """One connection, used for SELECTs only; ``rows`` returns plain tuples."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        values = {k: self._bind(v) for k, v in (params or {}).items()}
        if self.dialect == "postgresql":
            sql = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, values)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def _bind(self, value: Any) -> Any:
        """Dates and times as each database stores them (SQLite: the text SQLAlchemy wrote)."""
        if self.dialect != "sqlite":
            return value
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, bool):
            return int(value)
        return value

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> ReadOnlyDatabase:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def connect(url: str) -> ReadOnlyDatabase:
    """Open ``url`` (the same URLs as ``aewatch.db.make_engine``) for reading."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        return _sqlite(url)
    if scheme in ("postgresql", "postgres"):
        return _postgresql(parts)
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r}")


def _sqlite(url: str) -> ReadOnlyDatabase:
    import sqlite3

    path = url.split(":///", 1)[1] if ":///" in url else ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:" or not Path(path).is_file():
        raise DatabaseMissing(f"no database at {path or url}")
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    connection.execute("PRAGMA query_only = ON")
    return ReadOnlyDatabase(connection, "sqlite")


def _postgresql(parts: Any) -> ReadOnlyDatabase:
    import psycopg

    options: dict[str, Any] = dict(parse_qsl(parts.query))
    if parts.hostname:
        options["host"] = parts.hostname
    if parts.port:
        options["port"] = parts.port
    if parts.username:
        options["user"] = unquote(parts.username)
    password = unquote(parts.password) if parts.password else None
    password = password or os.environ.get("AEWATCH_DATABASE_PASSWORD")
    if password:
        options["password"] = password
    if parts.path.strip("/"):
        options["dbname"] = unquote(parts.path.lstrip("/"))
    connection = psycopg.connect(**options, autocommit=False)
    connection.read_only = True
    return ReadOnlyDatabase(connection, "postgresql")
