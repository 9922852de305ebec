"""A person resolves a query by hand (``aewatch quarantine resolve``), audited.

Most queries are answered by a corrected export. Some can only be answered by a person:
that a death recorded in DM was not caused by an AE, or that a re-export which emptied a
death is right. The person's name and note are kept on the entry and in the audit trail,
and a query a person resolved is not raised again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aewatch import audit
from aewatch.models import QuarantineEntry, Subject
from aewatch.store.deaths import REMOVED, reconcile_deaths

REMOVED_FIELDS = {"DTHDTC": "died_on", "DTHFL": "death_flag"}


class ResolutionRefused(ValueError):
    """The entry cannot be resolved this way (unknown, not open, or not a query)."""


def resolve_by_hand(
    session: Session, entry_id: int, by: str, note: str, now: datetime
) -> tuple[QuarantineEntry, str]:
    """Resolve one open query; returns it and what the resolution changed, in words."""
    if not by.strip() or not note.strip():
        raise ResolutionRefused("give your name (--by) and what you established (--note)")
    entry = session.get(QuarantineEntry, entry_id, with_for_update=True)
    if entry is None:
        raise ResolutionRefused(f"no quarantine entry {entry_id}")
    if entry.kind != "query" or entry.state != "open":
        raise ResolutionRefused(
            f"entry {entry_id} is a {entry.state} {entry.kind}: only open queries are resolved "
            "by hand (a rejected row is answered by a corrected export)"
        )
    entry.state, entry.resolved_at = "resolved", now
    entry.resolved_by, entry.resolution = by.strip()[:120], note.strip()
    effect = "query closed"
    subject = None
    if entry.trial_pk is not None and entry.subject_id:
        subject = session.scalars(
            select(Subject).where(
                Subject.trial_pk == entry.trial_pk, Subject.subject_id == entry.subject_id
            )
        ).one_or_none()
    if subject is not None and entry.record_key == REMOVED:
        setattr(subject, REMOVED_FIELDS[str(entry.field)], None)
        subject.updated_at = now
        effect = f"{entry.field} of {entry.subject_id} removed as the re-export said"
    session.flush()
    if subject is not None and (entry.record_key or "").startswith(("DEATH", REMOVED)):
        reconcile_deaths(session, entry.trial_pk or 0, {subject.id}, entry.file_name, now)
    audit.record(
        session,
        at=now,
        actor=entry.resolved_by or by,
        action="query-resolved-by-hand",
        entity="quarantine",
        entity_id=entry.id,
        detail={"note": entry.resolution, "effect": effect, "reason": entry.reason},
    )
    return entry, effect
