"""Reads of the records that alerts are about: new AE versions and deviating courses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, exists, select, text
from sqlalchemy.orm import Session, aliased

from aewatch.models import AdverseEvent, AeVersion, RtCourse, Subject


def versions_with_subjects(
    session: Session, version_ids: Sequence[int], *, serious_only: bool = False
) -> list[Row[tuple[AeVersion, AdverseEvent, Subject]]]:
    """AE versions with their AE and subject; ``serious_only`` keeps those an SAE,
    death or fatal-outcome alert may be about, and those whose previous version was
    serious (a downgrade to non-serious is a follow-up)."""
    if serious_only:
        version_ids = _may_be_serious(session, version_ids)
        if not version_ids:
            return []
    statement = (
        select(AeVersion, AdverseEvent, Subject)
        .join(AdverseEvent, AeVersion.ae_pk == AdverseEvent.id)
        .join(Subject, AdverseEvent.subject_pk == Subject.id)
        .where(AeVersion.id.in_(list(version_ids)))
        .order_by(AeVersion.id)
    )
    if serious_only:
        before = aliased(AeVersion)
        was_serious = exists().where(
            before.ae_pk == AeVersion.ae_pk,
            before.version == AeVersion.version - 1,
            _serious(before),
        )
        statement = statement.where(_serious(AeVersion) | was_serious)
    return list(session.execute(statement).all())


def _may_be_serious(session: Session, version_ids: Sequence[int]) -> list[int]:
    """The versions among these that are serious or follow another version: one plain
    indexed read, so a file of 50,000 non-serious AEs does not load them through the ORM."""
    condition = "(serious OR death OR grade >= 5 OR outcome = 'FATAL' OR version > 1)"
    connection = session.connection()
    ids = [int(i) for i in version_ids]
    if connection.dialect.name == "postgresql":  # one array parameter, any length
        query = text(f"SELECT id FROM ae_versions WHERE id = ANY(:ids) AND {condition}")
        return [int(r[0]) for r in connection.execute(query, {"ids": ids})]
    query = text(f"SELECT id FROM ae_versions WHERE id IN :ids AND {condition}").bindparams(
        bindparam("ids", expanding=True)
    )
    found: list[int] = []
    for start in range(0, len(ids), 900):  # SQLite's limit on parameters
        chunk = ids[start : start + 900]
        found.extend(int(r[0]) for r in connection.execute(query, {"ids": chunk}))
    return found


def _serious(version: Any) -> Any:
    return version.serious | version.death | (version.grade >= 5) | (version.outcome == "FATAL")


def previous_version(session: Session, ae_pk: int, version: int) -> AeVersion | None:
    return session.scalars(
        select(AeVersion).where(AeVersion.ae_pk == ae_pk, AeVersion.version == version - 1)
    ).first()


def deviating_courses(
    session: Session, course_ids: Sequence[int]
) -> list[Row[tuple[RtCourse, Subject]]]:
    """Courses among these whose BED is below the protocol minimum, with their subject."""
    return list(
        session.execute(
            select(RtCourse, Subject)
            .join(Subject, RtCourse.subject_pk == Subject.id)
            .where(RtCourse.id.in_(list(course_ids)), RtCourse.bed_below_minimum.is_(True))
        ).all()
    )
