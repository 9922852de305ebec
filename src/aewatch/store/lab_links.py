"""Link lab-derived AEs to the site AEs that report them (aewatch.safety.lab_links
decides), set the linked lab copies aside, and keep the queries in step."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from aewatch.db import frame_of
from aewatch.models import AdverseEvent, AeVersion, SourceFile, Subject
from aewatch.safety.lab_links import PREFIX, lab_link_queries, link_lab_events
from aewatch.store.deaths import sync_death_queries
from aewatch.store.set_aside import Wanted, apply_set_aside

COLUMNS = [
    "subject_id",
    "ae_pk",
    "ae_key",
    "origin",
    "ctcae_term",
    "grade",
    "onset_on",
    "end_on",
    "source_row",
    "file_name",
]


def reconcile_lab_events(
    session: Session,
    trial_pk: int,
    subject_pks: set[int],
    link_days: int,
    file_name: str,
    now: datetime,
) -> int:
    """Link, set aside or restore the subjects' lab-derived AEs; returns queries opened."""
    if not subject_pks:
        return 0
    # Only a subject with a lab-derived AE can have a link or a query: the site AEs of
    # the others (all of a 50,000-row AE export) need not be read.
    lab = _current_events(session, subject_pks, "lab")
    lab_subjects = set(lab["subject_pk"])
    site = _current_events(session, lab_subjects, "site")
    subjects = sorted(
        str(s)
        for s in session.scalars(select(Subject.subject_id).where(Subject.id.in_(subject_pks)))
    )
    if lab.empty:
        links: dict[int, int | None] = {}
    else:
        links = link_lab_events(lab, site, link_days)
        key_of = dict(zip(site["ae_pk"], site["ae_key"], strict=True))
        wanted: dict[int, Wanted] = {
            lab_pk: (None, None)
            if site_pk is None
            else (f"the site reported it as AE {key_of[site_pk]}", site_pk)
            for lab_pk, site_pk in links.items()
        }
        apply_set_aside(session, wanted, now)
    queries = lab_link_queries(lab, site, links)
    no_dm_file = pd.DataFrame({"subject_id": subjects, "file_name": [None] * len(subjects)})
    return sync_death_queries(
        session, trial_pk, subjects, queries, no_dm_file, site, file_name, now, prefix=PREFIX
    )


def _current_events(session: Session, subject_pks: set[int], origin: str) -> pd.DataFrame:
    """The subjects' current AEs of one origin (``COLUMNS`` and ``subject_pk``)."""
    if not subject_pks:
        return pd.DataFrame(columns=[*COLUMNS, "subject_pk"])
    return frame_of(
        session,
        select(
            Subject.subject_id,
            AdverseEvent.id,
            AdverseEvent.ae_key,
            AdverseEvent.origin,
            AeVersion.ctcae_term,
            AeVersion.grade,
            AeVersion.onset_on,
            AeVersion.end_on,
            AeVersion.source_row,
            SourceFile.name,
            Subject.id,
        )
        .join(AdverseEvent, AdverseEvent.subject_pk == Subject.id)
        .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
        .outerjoin(SourceFile, SourceFile.id == AeVersion.source_file_pk)
        .where(Subject.id.in_(sorted(subject_pks)), AdverseEvent.origin == origin),
        [*COLUMNS, "subject_pk"],
    )
