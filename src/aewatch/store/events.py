"""Reads of the records that alerts are about: new AE versions and deviating courses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, exists, select
from sqlalchemy.orm import Session, aliased

from aewatch.models import AdverseEvent, AeVersion, RtCourse, Subject


def versions_with_subjects(
    session: Session, version_ids: Sequence[int], *, serious_only: bool = False
) -> list[Row[tuple[AeVersion, AdverseEvent, Subject]]]:
    """AE versions with their AE and subject; ``serious_only`` keeps those an SAE,
    death or fatal-outcome alert may be about, and those whose previous version was
    serious (a downgrade to non-serious is a follow-up)."""
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
