"""A real `aewatch serve` on 127.0.0.1 (uvicorn in a thread, sharing the test's database
and ManualClock), with links on in the settings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from aewatch.config import Settings
from support import free_port
from support.web import DEPUTY, OFFICER, SECRET, RunningServer, start_server


@pytest.fixture
def web_port() -> int:
    return free_port()


@pytest.fixture
def web_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch, web_port: int) -> Settings:
    """Links on, pointing at the test server; two SAE recipients."""
    monkeypatch.setenv("AEWATCH_WEB_SECRET", SECRET)
    return replace(
        settings,
        web=replace(settings.web, base_url=f"http://127.0.0.1:{web_port}"),
        alerts=replace(settings.alerts, sae=(OFFICER, DEPUTY)),
    )


@pytest.fixture
def web_server(
    web_settings: Settings, engine: Any, sessions: Any, clock: Any, web_port: int
) -> Iterator[RunningServer]:
    running = start_server(web_settings, engine, sessions, clock, web_port)
    yield running
    running.server.should_exit = True
    running.thread.join(timeout=15)


@pytest.fixture
def trial_pk(sessions: Any, web_settings: Settings, clock: Any) -> int:
    from aewatch.trials import ensure_trial

    with sessions() as session, session.begin():
        return ensure_trial(session, web_settings, clock.now()).id
