"""Create or upgrade the database schema with Alembic (safe to run any number of times)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from sqlalchemy import Connection, Engine


def alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("aewatch.migrations")))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine) -> str:
    """Upgrade to head inside one transaction; returns the revision now current.

    A database already at head (every command that writes data asks) is answered from
    its version table without loading Alembic and every migration script."""
    head = head_revision()
    if head is not None and _stored_revision(engine) == head:
        return head
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = alembic_config(engine)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            _upgrade_sqlite(connection, config)
        else:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() or ""


def _upgrade_sqlite(connection: Connection, config: Any) -> None:
    """SQLite alters a column by copying its table (batch mode), and dropping the old copy of
    a table other rows refer to fails while foreign keys are enforced. Alembic's answer:
    switch enforcement off for the migration (the pragma only works outside a transaction),
    check every reference before committing, and switch it back on."""
    from alembic import command

    driver = connection.connection.dbapi_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(
                    f"the upgrade would break {len(broken)} references: {broken[:3]}"
                )
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest migration's revision, read from the scripts' ``revision`` and
    ``down_revision`` lines; None if they do not form one chain (Alembic decides then)."""
    import re

    pattern = re.compile(r"^(down_revision|revision)\b[^=]*=\s*['\"]?([\w]+)['\"]?", re.M)
    revisions, parents = set(), set()
    for script in (resources.files("aewatch.migrations") / "versions").iterdir():
        if not script.name.endswith(".py"):
            continue
        found = dict((k, v) for k, v in pattern.findall(script.read_text(encoding="utf-8")))
        if "revision" not in found:
            return None
        revisions.add(found["revision"])
        if found.get("down_revision") not in (None, "None"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    """The database's revision, or None where there is no version table yet."""
    from sqlalchemy import exc, text

    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except exc.DBAPIError:
        return None
    return rows[0][0] if len(rows) == 1 else None
