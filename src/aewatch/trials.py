"""The trial row every other table hangs from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aewatch.config import Settings
from aewatch.models import Trial


def ensure_trial(session: Session, settings: Settings, now: datetime) -> Trial:
    """Return the configured trial's row, creating it on first use."""
    trial = session.scalars(select(Trial).where(Trial.trial_id == settings.trial.id)).first()
    if trial is None:
        trial = Trial(
            trial_id=settings.trial.id,
            title=settings.trial.title,
            planned_enrolment=settings.trial.planned_enrolment,
            created_at=now,
        )
        session.add(trial)
        session.flush()
    return trial
