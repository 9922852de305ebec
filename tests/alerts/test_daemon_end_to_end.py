"""The whole daemon: a file dropped in the inbox becomes an email on a real SMTP server,
exactly once, with no identifier from the export in it; SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from aewatch.config import Settings
from aewatch.worker import Worker
from support import cli_env, wait_for

DM = (
    "STUDYID,DOMAIN,USUBJID,SITEID,RFXSTDTC,BRTHDTC,SUBJINIT,SUBJNAME\n"
    "NCT06261047,DM,012-003,012,2026-01-10,1948-07-22,WXY,Wang Xiao Yu\n"
)
EX = (
    "STUDYID,DOMAIN,USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "NCT06261047,EX,012-003,RT1,SBRT,10,Gy,5,2026-01-12,2026-01-19\n"
)
AE = (
    "STUDYID,DOMAIN,USUBJID,AESPID,AETERM,AEDECOD,AEBODSYS,AETOXGR,AESER,AESHOSP,AEREL,"
    "AESTDTC,NARRATIVE\n"
    'NCT06261047,AE,012-003,AE-1,"<script>alert(1)</script> liver failure",Hepatic failure,'
    "Hepatobiliary disorders,4,Y,Y,PROBABLE,2026-02-20,Mr Wang was admitted to ward 5\n"
)


def smtp_settings(settings: Settings, port: int) -> Settings:
    return replace(
        settings,
        smtp=replace(
            settings.smtp, host="127.0.0.1", port=port, starttls=False, timeout_seconds=5.0
        ),
    )


def test_a_dropped_sae_reaches_the_safety_officer_once_and_without_identifiers(
    settings: Settings, sessions, clock, smtp_server
) -> None:
    settings = smtp_settings(settings, smtp_server.port)
    worker = Worker(settings, sessions, clock, worker_id="w1")
    inbox = Path(settings.worker.inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    for name, text in (("dm.csv", DM), ("ex.csv", EX), ("ae.csv", AE)):
        (inbox / name).write_text(text)
    first = worker.cycle()
    assert [f.status for f in first.files] == ["done", "done", "done"]
    received = smtp_server.handler.received
    sae = [r for r in received if "[SAE]" in r.message["Subject"]]
    assert len(sae) == 1
    message = sae[0].message
    assert message["Subject"] == "[SAE][NCT06261047] 012-003 Grade 4 Hepatic failure"
    assert sae[0].rcpt_tos == list(settings.alerts.sae)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for leak in ("WXY", "Wang", "1948", "ward 5", "<script>"):
        assert leak not in text and leak not in html and leak not in str(message["Subject"])
    assert "Hospitalisation" in text or "hospitalisation" in text.lower()
    # A second cycle and the same file again send nothing new.
    count = len(received)
    (inbox / "ae_again.csv").write_text(AE)
    second = worker.cycle()
    assert [f.status for f in second.files] == ["duplicate"]
    assert len(smtp_server.handler.received) == count


def test_sigterm_finishes_the_cycle_and_exits_zero(tmp_path: Path, db_url: str) -> None:
    env = {**os.environ, **cli_env(tmp_path, db_url), "AEWATCH_WORKER__POLL_SECONDS": "0.2"}
    process = subprocess.Popen(
        [sys.executable, "-m", "aewatch.cli", "-v", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        (tmp_path / "inbox").mkdir(parents=True, exist_ok=True)
        (tmp_path / "inbox" / "dm.csv").write_text(DM)
        assert wait_for(lambda: any((tmp_path / "inbox" / "done").glob("*dm.csv")), 60)
        # The cycle that ingested the file may go on to build last month's DSMB report
        # (any day after the report day); its heartbeat marks the end of the cycle, and
        # SIGTERM is sent once the worker is back to polling.
        assert wait_for(lambda: _heartbeats(db_url) >= 1, 300)
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read() if process.stderr else ""
    assert code == 0, stderr
    assert "stopped" in stderr


def _heartbeats(db_url: str) -> int:
    from sqlalchemy import func, select

    from aewatch.db import make_engine
    from aewatch.models import Heartbeat

    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(Heartbeat)) or 0)
    finally:
        engine.dispose()


def test_a_failing_report_step_does_not_stop_alerts_from_being_sent(
    settings: Settings, sessions, clock, smtp_server, tmp_path: Path
) -> None:
    """Fault injected on purpose: on the report day the report's folder cannot be made (a
    file is in its place), so the report's child process fails; the SAE still goes out,
    and the report is left for the next cycle."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the reports folder should be")
    settings = replace(
        smtp_settings(settings, smtp_server.port),
        reports=replace(settings.reports, out_dir=str(blocked / "reports"), pdf=False),
    )
    clock.set(datetime(2026, 3, 6, 8, 0, tzinfo=UTC))  # after the 5th: February's report is due
    worker = Worker(settings, sessions, clock, worker_id="w1")
    inbox = Path(settings.worker.inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    for name, text in (("dm.csv", DM), ("ex.csv", EX), ("ae.csv", AE)):
        (inbox / name).write_text(text)
    result = worker.cycle()
    assert result.report is None
    assert any("[SAE]" in r.message["Subject"] for r in smtp_server.handler.received)
    from aewatch.reports.schedule import report_due

    assert report_due(sessions, settings, clock.now()) == "2026-02"


def test_the_monthly_report_is_built_in_a_child_and_the_daemon_stays_light(
    tmp_path: Path, db_url: str
) -> None:
    """`aewatch run --once` on a day after the report day builds and queues last month's
    report, and the charting library (matplotlib) never enters the daemon's process."""
    env = {
        **os.environ,
        **cli_env(tmp_path, db_url),
        "AEWATCH_REPORTS__PDF": "false",
        "AEWATCH_REPORTS__DSMB_DAY_OF_MONTH": "1",  # due whatever the day today
    }
    program = (
        "import sys\n"
        "from aewatch.cli import main\n"
        "sys.argv = ['aewatch', 'run', '--once']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('matplotlib loaded:', 'matplotlib' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=300
    )
    assert "matplotlib loaded: False" in done.stdout, done.stderr
    assert sorted(p.name for p in (tmp_path / "reports").rglob("*.html")), done.stderr
    subjects = [
        line
        for path in (tmp_path / "outbox").glob("*.eml")
        for line in path.read_text().splitlines()
        if line.startswith("Subject: [DSMB]")
    ]
    assert len(subjects) == 2, done.stderr  # the open and the closed part, once each


def test_an_sae_alert_is_sent_before_the_rest_of_a_backlog_is_ingested(
    settings: Settings, sessions, clock, smtp_server
) -> None:
    """Each file takes 2 s of the (manual) clock; with send_every_seconds = 5 the cycle stops
    after the third file to send, so the SAE in the first file is on the SMTP server while
    two files still wait; the next cycle takes them."""
    settings = smtp_settings(settings, smtp_server.port)
    settings = replace(settings, worker=replace(settings.worker, send_every_seconds=5.0))
    worker = Worker(settings, sessions, clock, worker_id="w1")
    ingest_next = worker.pipeline.ingest_next

    def slow_ingest_next():  # time injected on purpose: each file costs 2 s
        outcome = ingest_next()
        clock.advance(seconds=2)
        return outcome

    worker.pipeline.ingest_next = slow_ingest_next  # type: ignore[method-assign]
    inbox = Path(settings.worker.inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    for name, text in (("a_dm.csv", DM), ("b_ex.csv", EX), ("c_ae.csv", AE)):
        (inbox / name).write_text(text)
    for n in range(2):
        (inbox / f"d_dm_again_{n}.csv").write_text(DM + f"NCT06261047,DM,012-00{n + 4},012,,,,\n")
    first = worker.cycle()
    assert [f.status for f in first.files] == ["done", "done", "done"]
    assert first.backlog
    assert [r for r in smtp_server.handler.received if "[SAE]" in r.message["Subject"]]
    assert len(list(inbox.glob("d_dm_again_*.csv"))) == 2
    second = worker.cycle()
    assert [f.status for f in second.files] == ["done", "done"]
    assert not second.backlog
