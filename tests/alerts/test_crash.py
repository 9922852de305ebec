"""A real worker process killed with SIGKILL mid-send: the alert still goes out, once
more at most, with the same Message-ID (at-least-once delivery under a lease)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from sqlalchemy import select

from aewatch.alerts.outbox import enqueue
from aewatch.alerts.rules import ae_alerts
from aewatch.alerts.sender import drain
from aewatch.alerts.transports import FileTransport
from aewatch.models import Alert
from support import CONFIG, wait_for

DOOMED_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from dataclasses import replace
    from datetime import datetime
    from pathlib import Path
    from aewatch.alerts.sender import drain
    from aewatch.alerts.transports import FileTransport
    from aewatch.clock import ManualClock
    from aewatch.config import load_settings
    from aewatch.db import make_engine, session_factory

    config, url, outbox, marker, now = sys.argv[1:6]

    class SendsThenHangs(FileTransport):
        async def send(self, message, recipients):
            await super().send(message, recipients)
            Path(marker).touch()
            await asyncio.sleep(3600)  # killed here: sent, but never marked sent

    settings = load_settings(config, env={"AEWATCH_DATABASE_URL": url})
    sessions = session_factory(make_engine(url))
    drain(sessions, settings, ManualClock(datetime.fromisoformat(now)), worker_id="doomed",
          transport=SendsThenHangs(outbox))
    """
)


def test_a_worker_killed_after_sending_is_resent_once_with_the_same_message_id(
    sessions, settings, clock, trial_pk, make_facts, db_url, tmp_path
) -> None:
    with sessions() as session, session.begin():
        enqueue(session, trial_pk, ae_alerts(None, make_facts(), settings, clock.now()),
                clock.now())
    outbox, marker = tmp_path / "outbox", tmp_path / "sent.marker"
    process = subprocess.Popen(
        [sys.executable, "-c", DOOMED_WORKER, str(CONFIG), db_url, str(outbox), str(marker),
         clock.now().isoformat()],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert wait_for(marker.exists, timeout=30)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    with sessions() as session:
        (row,) = session.scalars(select(Alert)).all()
    assert (row.status, row.claimed_by) == ("sending", "doomed")

    clock.advance(seconds=settings.worker.lease_seconds + 1)
    result = drain(sessions, settings, clock, worker_id="survivor",
                   transport=FileTransport(outbox))
    with sessions() as session:
        (row,) = session.scalars(select(Alert)).all()
    assert result.sent == 1 and (row.status, row.claimed_by, row.attempts) == (
        "sent", "survivor", 2)
    (eml,) = outbox.glob("*.eml")
    assert f"Message-ID: {row.message_id}" in eml.read_text()
