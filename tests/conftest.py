"""Shared fixtures: a real SQLite file and a real PostgreSQL server for every DB test.

The PostgreSQL server is a throwaway cluster in a temp folder, started once per
session on 127.0.0.1 and a free port. Each test gets its own database cloned from
a migrated template, so tests never see each other's rows. Where no PostgreSQL
binaries exist the PostgreSQL half is skipped, except under CI (CI=true), where a
missing server is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aewatch.clock import ManualClock
from aewatch.config import Settings
from support import make_settings
from support.postgres import PostgresCluster, pg_bindir


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster | None]:
    external = os.environ.get("AEWATCH_TEST_PG_URL")
    if external:
        yield None
        return
    bindir = pg_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("CI=true but no PostgreSQL binaries: install Debian's postgresql")
        yield None
        return
    cluster = PostgresCluster(bindir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: PostgresCluster | None) -> str | None:
    """A migrated template database: cloning it is much faster than migrating per test."""
    admin_url = os.environ.get("AEWATCH_TEST_PG_URL") or (
        postgres_cluster.url() if postgres_cluster else None
    )
    if admin_url is None:
        return None
    from sqlalchemy import create_engine, text

    from aewatch.db import make_engine
    from aewatch.migrate import upgrade

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS aewatch_template"))
        conn.execute(text("CREATE DATABASE aewatch_template"))
    admin.dispose()
    template_url = admin_url.rsplit("/", 1)[0] + "/aewatch_template"
    engine = make_engine(template_url)
    upgrade(engine)
    engine.dispose()
    return admin_url


def _new_postgres_database(admin_url: str) -> str:
    from sqlalchemy import create_engine, text

    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE aewatch_template"))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aewatch.db import make_engine
    from aewatch.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated database URL: the test runs once per engine."""
    if request.param == "sqlite":
        target = tmp_path / "aewatch.sqlite"
        shutil.copy(sqlite_template, target)
        return f"sqlite:///{target}"
    admin_url = request.getfixturevalue("postgres_template")
    if admin_url is None:
        pytest.skip("no PostgreSQL server available (install Debian's postgresql)")
    return _new_postgres_database(admin_url)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only, for tests of SQLite-specific behaviour."""
    target = tmp_path / "aewatch.sqlite"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    from aewatch.db import make_engine

    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine):  # type: ignore[no-untyped-def]
    from aewatch.db import session_factory

    return session_factory(engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """The trial's real config, with every path inside the test's temp folder."""
    return make_settings(tmp_path, db_url)


@pytest.fixture
def pipeline(settings: Settings, sessions, clock: ManualClock):  # type: ignore[no-untyped-def]
    """The real ingest pipeline on the test's database and temp inbox."""
    from aewatch.pipeline import Pipeline

    return Pipeline(settings, sessions, clock, "test-worker")
