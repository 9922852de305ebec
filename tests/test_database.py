"""The schema: migrations create it on both engines and match the models exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from aewatch.db import make_engine
from aewatch.migrate import current_revision, upgrade
from aewatch.models import AuditEntry, Base


def test_upgrade_on_an_empty_database_reaches_head_and_is_safe_to_repeat(db_url: str) -> None:
    engine = make_engine(db_url)
    first = upgrade(engine)
    second = upgrade(engine)
    assert first == second == current_revision(engine)
    assert first


def test_the_head_read_from_the_scripts_is_alembics_and_a_database_behind_it_is_upgraded(
    db_url: str,
) -> None:
    """``upgrade`` answers a database at head without Alembic; the head it compares with
    must be Alembic's own, and a database one revision behind must still be upgraded."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from aewatch.migrate import alembic_config, head_revision

    engine = make_engine(db_url)
    config = alembic_config(engine)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head_revision() == head
    upgrade(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    assert current_revision(engine) != head
    assert upgrade(engine) == head == current_revision(engine)


def test_models_match_the_migrations_so_autogenerate_finds_nothing(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -64 * 1024  # KiB


def test_foreign_keys_are_enforced(db_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    from aewatch.db import session_factory
    from aewatch.models import Subject

    sessions = session_factory(make_engine(db_url))
    with pytest.raises(IntegrityError), sessions() as session, session.begin():
        session.add(
            Subject(trial_pk=999, subject_id="X", study_id="S", updated_at=datetime.now(UTC))
        )


def test_timestamps_come_back_timezone_aware_utc(db_url: str) -> None:
    from aewatch.db import session_factory

    sessions = session_factory(make_engine(db_url))
    moment = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    with sessions() as session, session.begin():
        session.add(AuditEntry(at=moment, actor="t", action="test"))
    with sessions() as session:
        stored = session.scalars(select(AuditEntry.at)).one()
    assert stored == moment and stored.tzinfo is not None


def test_an_upgrade_of_a_database_with_data_keeps_every_reference_and_enforces_them_after(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """Later migrations copy referenced tables (SQLite batch mode): with subjects, AEs and
    labs already stored, the upgrade must succeed, and foreign keys be enforced again on
    the very connection it used."""
    from alembic import command

    from aewatch.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO trials (id, trial_id, title, planned_enrolment, created_at) "
            "VALUES (1, 'NCT06261047', 't', 36, '2026-01-01 00:00:00')"
        )
        connection.exec_driver_sql(
            "INSERT INTO subjects (id, trial_pk, subject_id, study_id, site, updated_at) "
            "VALUES (1, 1, '01-001', 'NCT06261047', '01', '2026-01-01 00:00:00')"
        )
        connection.exec_driver_sql(
            "INSERT INTO adverse_events (id, trial_pk, subject_pk, ae_key, origin, "
            "current_version, created_at) VALUES (1, 1, 1, 'AE-1', 'site', 1, "
            "'2026-01-01 00:00:00')"
        )
    assert upgrade(engine) == current_revision(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert connection.exec_driver_sql("SELECT subject_id FROM subjects").scalar() == "01-001"
    engine.dispose()


def test_an_existing_database_is_upgraded_and_its_rows_take_a_first_recorded_time(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """`aewatch init` on a database of the previous schema: subjects, courses, EX records
    and labs recorded before get ``created_at`` = their last update (the best record there
    is), so a replay "as known at" an earlier time keeps them."""
    from alembic import command

    from aewatch.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO trials (id, trial_id, title, planned_enrolment, created_at)"
                " VALUES (1, 'T', '', 36, '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO subjects (id, trial_pk, subject_id, study_id, site, updated_at)"
                " VALUES (1, 1, 'S1', 'T', '01', '2026-01-02 03:04:05')"
            )
        )
    assert upgrade(engine) == current_revision(engine)
    with engine.connect() as connection:
        created = connection.execute(text("SELECT created_at FROM subjects")).scalar_one()
        columns = {row[1] for row in connection.execute(text("PRAGMA table_info(ae_versions)"))}
        ex_columns = {row[1] for row in connection.execute(text("PRAGMA table_info(ex_records)"))}
    engine.dispose()
    assert str(created).startswith("2026-01-02 03:04:05")
    assert "aware_at_supplied" in columns
    assert "created_at" in ex_columns
