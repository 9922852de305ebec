"""Engines and sessions. SQLite gets WAL, a busy timeout, enforced foreign keys and
real transactions (the stdlib driver does not BEGIN on SELECT; see PITFALLS)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    import pandas as pd

BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; a SQLite file's folder is created on demand."""
    parsed = make_url(url)
    password = os.environ.get("AEWATCH_DATABASE_PASSWORD")
    if password and parsed.password is None and not parsed.drivername.startswith("sqlite"):
        parsed = parsed.set(password=password)
    if parsed.drivername.startswith("postgresql") and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.startswith("sqlite"):
        return _sqlite_engine(parsed, echo)
    return create_engine(parsed, echo=echo, pool_pre_ping=True, future=True)


# Page cache per connection (KiB). SQLite's default (2 MiB) is smaller than one large
# export's transaction: its later reads of what it just wrote then go back to the WAL file.
CACHE_KIB = 64 * 1024


def _sqlite_engine(parsed: Any, echo: bool) -> Engine:
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, future=True
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE: take the write lock up front, so a later upgrade never fails with
        # SQLITE_BUSY mid-transaction; it waits for busy_timeout instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, future=True)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def frame_of(session: Session, statement: Any, columns: list[str]) -> pd.DataFrame:
    """A SELECT as a DataFrame with the given column names (values typed by SQLAlchemy).

    Read through the session's Core connection, column by column: the ORM's row loading
    and pandas' row-wise construction were most of the time of reading a trial back.
    Pending ORM objects are flushed first, as the ORM's autoflush would."""
    import pandas as pd

    session.flush()
    rows = session.connection().execute(statement).fetchall()
    if not rows:
        return pd.DataFrame(columns=columns)
    values = zip(*rows, strict=True)
    return pd.DataFrame(dict(zip(columns, (list(v) for v in values), strict=True)))


def fast_frame(session: Session, statement: Any, columns: list[str]) -> pd.DataFrame:
    """A large SELECT straight into a DataFrame through the driver's cursor.

    For wide reads of plain columns (numbers, text, flags) this skips building a Row
    object per row, which is most of the cost of reading back a big lab file. Not for
    date columns: the drivers return them differently (text on SQLite).
    """
    import pandas as pd

    connection = session.connection()
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    cursor = connection.connection.cursor()
    try:
        params = compiled.params
        if connection.dialect.paramstyle == "qmark":
            values: Any = tuple(params[name] for name in compiled.positiontup or ())
        else:
            values = params
        cursor.execute(str(compiled), values)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return pd.DataFrame.from_records(rows, columns=columns)


def iso_dates(values: pd.Series) -> pd.Series:
    """Dates read through the driver as ISO text (``YYYY-MM-DD``), None where missing.

    SQLite returns the stored text, psycopg ``date`` objects; each distinct value is
    converted once (an export repeats its dates)."""
    import pandas as pd

    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    texts = [d if isinstance(d, str) else d.isoformat() for d in distinct]
    out = pd.Series([None, *texts], dtype=object).to_numpy()[codes + 1]
    return pd.Series(out, index=values.index, dtype=object)
