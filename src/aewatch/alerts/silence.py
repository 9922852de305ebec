"""Sites that sent nothing for `site_silence_days`: someone should ask why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from aewatch import audit
from aewatch.alerts.outbox import enqueue
from aewatch.alerts.rules import site_silence_alerts
from aewatch.config import Settings
from aewatch.store.subjects import site_last_data
from aewatch.trials import ensure_trial


def queue_site_silence(
    sessions: sessionmaker[Session], settings: Settings, now: datetime, actor: str
) -> int:
    """Queue one alert per silent site (the dedup key keeps it to one per silence)."""
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, now)
        requests = site_silence_alerts(site_last_data(session, trial.id), settings, now)
        if not requests:
            return 0
        queued = enqueue(
            session, trial.id, requests, now, config_hash=settings.config_hash, actor=actor
        )
        if queued:
            audit.record(
                session,
                at=now,
                actor=actor,
                action="site silence detected",
                detail={"sites": [r.context.get("site") for r in requests]},
                config_hash=settings.config_hash,
            )
        return queued
