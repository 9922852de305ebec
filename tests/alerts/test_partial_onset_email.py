"""The SAE email of an AE whose onset the site gave only to the month: its study day
is the imputed one, and the email says so (aewatch.safety.onsets)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aewatch.alerts.sender import drain
from aewatch.clock import ManualClock
from ingest.test_partial_onsets import ingest


def test_the_sae_email_says_the_study_day_of_a_partial_onset_is_imputed(
    settings: Any, sessions: Any, tmp_path: Path, smtp_server: Any
) -> None:
    settings = replace(settings, smtp=smtp_server.settings())
    clock = ManualClock(datetime(2026, 3, 25, 8, tzinfo=UTC))
    ingest(settings, sessions, clock, tmp_path)
    drain(sessions, settings, clock, worker_id="w1")
    sae = [r.message for r in smtp_server.received if "[SAE]" in r.message["Subject"]]
    assert len(sae) == 1 and "05-003" in sae[0]["Subject"]
    text = sae[0].get_body(("plain",)).get_content()
    html = sae[0].get_body(("html",)).get_content()
    assert "study day 1 (imputed; onset known to the month)" in text
    assert "study day 1 (imputed; onset known to the month)" in html
