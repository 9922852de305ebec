"""Everything a command needs to talk to the trial's database, opened in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from aewatch.clock import Clock, SystemClock
from aewatch.config import Settings, load_settings
from aewatch.db import make_engine, session_factory


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)

    def trial_pk(self, session: Session) -> int:
        """The configured trial's primary key (created on first use)."""
        from aewatch.trials import ensure_trial

        return ensure_trial(session, self.settings, self.clock.now()).id

    def close(self) -> None:
        self.engine.dispose()


def open_runtime(
    config: str | Path | None = None,
    *,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> Runtime:
    """Load settings (unless given), open the database; does not migrate (see `aewatch init`)."""
    settings = settings or load_settings(config)
    engine = make_engine(settings.database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        clock=clock or SystemClock(),
    )
