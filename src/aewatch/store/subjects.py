"""Subjects (DM) and the sites they belong to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from aewatch.models import Site, Subject
from aewatch.store.frames import records
from aewatch.store.result import StoreResult


@dataclass
class SubjectsStored(StoreResult):
    """What ``store_subjects`` did, with the deaths a re-export tried to clear and the
    subjects whose re-export carried their death again."""

    death_removals: list[DeathRemoval] = field(default_factory=list)
    deaths_resent: list[str] = field(default_factory=list)

# Which export variables carry each subject field: a DM re-export that carries a variable
# is the truth for it; one that does not carry it leaves the stored value alone. The one
# exception is a death: a re-export that empties DTHDTC or DTHFL keeps the stored death
# and raises a query until a person confirms the removal (``DeathRemoval``).
SUBJECT_SOURCES: dict[str, tuple[str, ...]] = {
    "site": ("SITEID",),
    "enrolled_on": ("RFSTDTC", "RFICDTC", "RFXSTDTC"),
    "reference_start": ("RFXSTDTC", "RFSTDTC"),
    "reference_end": ("RFXENDTC",),
    "died_on": ("DTHDTC",),
    "death_flag": ("DTHFL",),
    "withdrawn_on": ("WITHDTC",),
    "oligoprogression": ("OLIGOCAT",),
    "systemic_therapy": ("FLSTTRT",),
    "sex": ("SEX",),
    "arm": ("ARM",),
}
SUBJECT_COLUMNS = list(SUBJECT_SOURCES)
DEATH_FIELDS = {"died_on": "DTHDTC", "death_flag": "DTHFL"}


@dataclass(frozen=True)
class DeathRemoval:
    """A DM re-export that would clear a stored death (kept until a person confirms)."""

    subject_id: str
    field: str  # DTHDTC or DTHFL
    kept: str  # the stored value, as the site sent it
    row: int | None


def subject_index(session: Session, trial_pk: int) -> dict[str, int]:
    """USUBJID → primary key of every subject of the trial."""
    rows = session.execute(
        select(Subject.subject_id, Subject.id).where(Subject.trial_pk == trial_pk)
    ).all()
    return {subject_id: pk for subject_id, pk in rows}


def subject_ids(session: Session, pks: set[int]) -> dict[int, str]:
    """Primary key → USUBJID of these subjects."""
    rows = session.execute(
        select(Subject.id, Subject.subject_id).where(Subject.id.in_(list(pks)))
    ).all()
    return {pk: subject_id for pk, subject_id in rows}


def store_subjects(
    session: Session,
    trial_pk: int,
    frame: pd.DataFrame,
    file_pk: int,
    now: datetime,
    carried: frozenset[str] = frozenset(),
) -> SubjectsStored:
    """Insert new subjects; update known ones with the variables this export carries.

    A date the plausibility stage held back (``keep_stored``) leaves the stored value alone,
    and so does a re-export that would clear a death (see ``DeathRemoval``).
    """
    result = SubjectsStored()
    authoritative = {f for f, sources in SUBJECT_SOURCES.items() if carried & set(sources)}
    known = subject_index(session, trial_pk)
    deaths = _stored_deaths(session, trial_pk)
    rows = records(frame, ["USUBJID", "STUDYID", "keep_stored", "ROW", *SUBJECT_COLUMNS])
    new_rows, updates = [], []
    for record in rows:
        subject_id = record.pop("USUBJID")
        study = record.pop("STUDYID") or ""
        held_back = set(record.pop("keep_stored") or ())
        row_number = record.pop("ROW")
        values = {k: record[k] for k in SUBJECT_COLUMNS}
        values["site"] = values["site"] or ""
        if subject_id in known:
            stored = deaths.get(subject_id, {})
            for name, variable in DEATH_FIELDS.items():
                if stored.get(name) in (None, False) or values[name] not in (None, False):
                    continue
                if name in authoritative and name not in held_back:
                    held_back.add(name)
                    result.death_removals.append(
                        DeathRemoval(subject_id, variable, _as_sent(stored[name]), row_number)
                    )
            if stored and any(values[n] not in (None, False) for n in DEATH_FIELDS):
                result.deaths_resent.append(subject_id)
            changed = {
                k: v
                for k, v in values.items()
                if (k in authoritative or v not in (None, "")) and k not in held_back
            }
            updates.append(
                {"b_id": known[subject_id], **changed, "updated_at": now, "source_file_pk": file_pk}
            )
            result.touched_subjects.add(known[subject_id])
        else:
            new_rows.append(
                {
                    "trial_pk": trial_pk,
                    "subject_id": subject_id,
                    "study_id": study,
                    "created_at": now,
                    "updated_at": now,
                    "source_file_pk": file_pk,
                    **values,
                }
            )
            result.new_subjects.append(subject_id)
        if values["site"]:
            result.sites.add(values["site"])
    if new_rows:
        inserted = session.execute(insert(Subject).returning(Subject.id), new_rows).scalars().all()
        result.touched_subjects.update(inserted)
    for row in updates:  # few: DM re-exports; one UPDATE per changed subject
        pk = row.pop("b_id")
        session.execute(update(Subject).where(Subject.id == pk).values(**row))
    result.accepted = len(rows)
    return result


def _stored_deaths(session: Session, trial_pk: int) -> dict[str, dict[str, Any]]:
    """The stored death fields of the subjects recorded as dead."""
    rows = session.execute(
        select(Subject.subject_id, Subject.died_on, Subject.death_flag).where(
            Subject.trial_pk == trial_pk,
            (Subject.died_on.is_not(None)) | (Subject.death_flag.is_(True)),
        )
    ).all()
    return {s: {"died_on": d, "death_flag": f} for s, d, f in rows}


def _as_sent(value: Any) -> str:
    if value is True:
        return "Y"
    return value.isoformat()[:10] if hasattr(value, "isoformat") else str(value)


def touch_sites(session: Session, trial_pk: int, sites: set[str], now: datetime) -> None:
    """Record that data arrived from these sites (for the data-silence alert)."""
    if not sites:
        return
    existing = set(
        session.scalars(
            select(Site.site_code).where(Site.trial_pk == trial_pk, Site.site_code.in_(sites))
        )
    )
    for code in sites - existing:
        session.add(Site(trial_pk=trial_pk, site_code=code, first_data_at=now, last_data_at=now))
    if existing:
        session.execute(
            update(Site)
            .where(Site.trial_pk == trial_pk, Site.site_code.in_(existing))
            .values(last_data_at=now)
        )
    session.flush()


def site_last_data(session: Session, trial_pk: int) -> dict[str, datetime | None]:
    """When each site last sent data."""
    return dict(
        session.execute(
            select(Site.site_code, Site.last_data_at).where(Site.trial_pk == trial_pk)
        ).all()
    )
