"""Setting a derived AE aside, and taking it back, through a new version.

A lab-derived AE that the site then reports itself, or an AE aewatch derived from a death
recorded in DM or DS once the site reports the fatal AE, must not count twice: its new
version is *set aside* (``ae_versions.set_aside`` says why, ``superseded_by`` names the
site AE that counts instead). It is a new version, not an update, so the DSMB report
replays what was known at its cut (DESIGN invariant 1) and nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aewatch.models import AdverseEvent, AeVersion

# The clause every reader of AE versions adds (``v`` is ae_versions): a version set aside
# does not count anywhere.
COUNTED_SQL = "v.set_aside IS NULL"

Wanted = tuple[str | None, int | None]  # (set_aside reason, superseded_by ae pk)


def current_set_aside(session: Session, ae_pks: list[int]) -> dict[int, Wanted]:
    """Each AE's current (set_aside, superseded_by)."""
    if not ae_pks:
        return {}
    rows = session.execute(
        select(AeVersion.ae_pk, AeVersion.set_aside, AeVersion.superseded_by).where(
            AeVersion.ae_pk.in_(ae_pks), AeVersion.is_current.is_(True)
        )
    ).all()
    return {int(pk): (reason, by) for pk, reason, by in rows}


def apply_set_aside(
    session: Session, wanted: Mapping[int, Wanted], now: datetime
) -> list[int]:
    """Give each AE whose current state differs from ``wanted`` a new version in that
    state (a copy of its current one); returns the new version ids."""
    current = current_set_aside(session, list(wanted))
    changing = [pk for pk, state in wanted.items() if pk in current and current[pk] != state]
    if not changing:
        return []
    table = AeVersion.__table__
    copied = [c for c in table.columns if c.name not in {"id", "set_aside", "superseded_by"}]
    rows = session.execute(
        select(*copied).where(table.c.ae_pk.in_(changing), table.c.is_current.is_(True))
    ).mappings()
    payload: list[dict[str, Any]] = []
    for row in rows:
        reason, by = wanted[int(row["ae_pk"])]
        payload.append(
            {
                **row,
                "version": int(row["version"]) + 1,
                "recorded_at": now,
                "set_aside": reason,
                "superseded_by": by,
            }
        )
    session.execute(
        update(table)
        .where(table.c.ae_pk.in_(changing), table.c.is_current.is_(True))
        .values(is_current=False)
    )
    ids = list(
        session.execute(
            table.insert().returning(table.c.id, sort_by_parameter_order=True), payload
        ).scalars()
    )
    for row in payload:
        session.execute(
            update(AdverseEvent.__table__)
            .where(AdverseEvent.__table__.c.id == row["ae_pk"])
            .values(current_version=row["version"])
        )
    return ids
