"""The read-only safety board against the real server: reached only from a board link in
an alert (a short, HttpOnly, SameSite=Strict session), it states the same numbers as the
command line for the same database — `aewatch counts` and `aewatch status` — shows the
open alerts with their clocks and the latest DSMB report, and hostile text stays text."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from aewatch.models import Report
from aewatch.reports.dsmb import build_dsmb_report
from support import CONFIG
from support.web import OFFICER, send_sae

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'
DM = (
    "STUDYID,DOMAIN,USUBJID,SITEID,RFICDTC,RFXSTDTC\n"
    "NCT06261047,DM,011-001,011,2026-01-02,2026-01-05\n"
    "NCT06261047,DM,011-002,011,2026-01-03,2026-01-06\n"
    "NCT06261047,DM,012-001,012,2026-01-04,2026-01-07\n"
    "NCT06261047,DM,012-002,012,2026-01-05,2026-01-08\n"
    "NCT06261047,DM,012-003,012,2026-02-20,\n"  # no RT yet: outside the safety population
)
EX = (
    "STUDYID,DOMAIN,USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "NCT06261047,EX,011-001,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-12\n"
    "NCT06261047,EX,011-002,RT1,SBRT,8,Gy,5,2026-01-06,2026-01-13\n"
    "NCT06261047,EX,012-001,RT1,SBRT,8,Gy,5,2026-01-07,2026-01-14\n"
    "NCT06261047,EX,012-002,RT1,SBRT,7,Gy,5,2026-01-08,2026-01-15\n"
)
AE = (
    "STUDYID,DOMAIN,USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEREL,AESTDTC\n"
    "NCT06261047,AE,011-001,AE-1,tired,Fatigue,1,N,N,POSSIBLE,2026-01-20\n"
    "NCT06261047,AE,011-001,AE-2,ALT up,Alanine aminotransferase increased,3,N,N,PROBABLE,"
    "2026-02-01\n"
    "NCT06261047,AE,011-002,AE-1,tired,Fatigue,2,N,N,UNLIKELY,2026-01-25\n"
    f'NCT06261047,AE,012-001,AE-1,"{HOSTILE.replace(chr(34), chr(34) * 2)}",'
    f'"{HOSTILE.replace(chr(34), chr(34) * 2)}",4,Y,Y,PROBABLE,2026-02-10\n'
    "NCT06261047,AE,012-002,AE-1,nausea,Nausea,2,N,N,POSSIBLE,2026-01-04\n"  # before RT
    "NCT06261047,AE,012-003,AE-1,nausea,Nausea,1,N,N,POSSIBLE,2026-02-25\n"
)


@pytest.fixture
def small_trial(web_settings, sessions, clock, tmp_path, trial_pk) -> None:  # type: ignore[no-untyped-def]
    """Four patients in the safety population, one not yet; AEs of every grade but 5."""
    from aewatch.pipeline import Pipeline

    folder = tmp_path / "exports"
    folder.mkdir()
    paths = []
    for name, text in (("dm.csv", DM), ("ex.csv", EX), ("ae.csv", AE)):
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    outcomes = Pipeline(web_settings, sessions, clock, "w1").ingest_paths(paths)
    assert [o.status for o in outcomes] == ["done", "done", "done"]


@pytest.fixture
def cli(monkeypatch, db_url, tmp_path, clock):  # type: ignore[no-untyped-def]
    """`aewatch …` on the same database, as trial staff run it."""
    from aewatch.cli import app

    monkeypatch.setenv("AEWATCH_CONFIG", str(CONFIG))
    monkeypatch.setenv("AEWATCH_DATABASE_URL", db_url)
    monkeypatch.setenv("AEWATCH_WORKER__DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def run(*args: str) -> dict:  # type: ignore[type-arg]
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    return run


@contextmanager
def enter_board(web_server, sessions, web_settings, clock, trial_pk):  # type: ignore[no-untyped-def]
    """A browser-like client with a board session from the officer's alert email."""
    sent = send_sae(sessions, web_settings, clock, trial_pk, ae_key="AE-99", subject_id="011-002")
    with web_server.client() as browser:
        entered = browser.get(sent.links[OFFICER]["board"])
        assert entered.status_code == 200, entered.text
        yield browser, entered


def test_the_board_opens_only_from_a_board_link_with_a_short_strict_session(
    web_server, sessions, web_settings, clock, trial_pk
) -> None:
    assert web_server.scanner_get(f"{web_server.url}/board").status_code == 401
    sent = send_sae(sessions, web_settings, clock, trial_pk)
    ack_token = sent.links[OFFICER]["ack"].split("?t=")[1]
    assert web_server.scanner_get(f"{web_server.url}/board/enter?t={ack_token}").status_code == 400
    with web_server.client() as browser:
        entered = browser.get(sent.links[OFFICER]["board"])
        cookie = entered.headers["set-cookie"]
        assert 'http-equiv="refresh" content="0; url=/board"' in entered.text
        assert browser.get("/board").status_code == 200
        clock.advance(minutes=web_settings.web.session_minutes, seconds=1)
        assert browser.get("/board").status_code == 401
        assert browser.get("/board/counts.json").status_code == 401
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/board", "max-age=1800"} <= attributes
    assert "secure" not in attributes  # plain HTTP on this machine


def test_behind_the_https_proxy_the_session_cookie_is_secure(
    web_server, sessions, web_settings, clock, trial_pk
) -> None:
    sent = send_sae(sessions, web_settings, clock, trial_pk)
    with web_server.client() as browser:
        entered = browser.get(sent.links[OFFICER]["board"], headers={"X-Forwarded-Proto": "https"})
    attributes = {part.strip().lower() for part in entered.headers["set-cookie"].split(";")}
    assert {"secure", "httponly", "samesite=strict"} <= attributes


def test_someone_removed_from_the_recipients_can_no_longer_open_the_board(
    web_settings, engine, sessions, clock, trial_pk, web_port
) -> None:
    from support.web import start_server

    sent = send_sae(sessions, web_settings, clock, trial_pk)
    without = replace(
        web_settings,
        alerts=replace(
            web_settings.alerts,
            sae=tuple(r for r in web_settings.alerts.sae if r != OFFICER),
            threshold=(),
            escalation_chain=(),
        ),
    )
    server = start_server(without, engine, sessions, clock, web_port)
    try:
        refused = server.scanner_get(sent.links[OFFICER]["board"])
    finally:
        server.server.should_exit = True
        server.thread.join(timeout=15)
    assert refused.status_code == 403 and "no longer opens the board" in refused.text


def test_the_board_counts_equal_aewatch_counts_for_the_same_database(
    small_trial, web_server, sessions, web_settings, clock, trial_pk, cli
) -> None:
    with enter_board(web_server, sessions, web_settings, clock, trial_pk) as (browser, _):
        for by in ("term", "soc", "grade", "site", "subject"):
            response = browser.get(f"/board/counts.json?by={by}")
            assert response.status_code == 200, response.text
            page = browser.get(f"/board?by={by}").text
            expected = cli("counts", "--by", by, "--format", "json")
            assert response.json() == expected, by
            assert expected["safety_population"] == 4 and expected["counts"]
            # The table a person reads holds the same numbers, row by row.
            table = page.split('id="count-table"')[1].split("</table>")[0]
            rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], re.S)
            cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
            assert [[int(c) for c in row[-8:]] for row in cells] == [
                [
                    r["patients"],
                    *r["patients_by_worst_grade"].values(),
                    r["patients_grade3plus"],
                    r["events"],
                ]
                for r in expected["counts"]
            ], by
            assert f'<strong id="population">{expected["safety_population"]}</strong>' in page


def test_the_board_rules_equal_aewatch_status_with_a_boundary_chart_each(
    small_trial, web_server, sessions, web_settings, clock, trial_pk, cli
) -> None:
    with enter_board(web_server, sessions, web_settings, clock, trial_pk) as (browser, _):
        page = browser.get("/board").text
    expected = cli("status", "--format", "json")["rules"]
    section = page.split('id="stopping-rules"')[1].split("</section>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section.split("<tbody>")[1], re.S)
    cells = [
        [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in rows
    ]
    assert [c[:4] for c in cells] == [
        [r["rule"], r["state"], str(r["evaluable_n"]), str(r["toxic_n"])] for r in expected
    ]
    charts = re.findall(
        r'<img src="data:image/svg\+xml;base64,[^"]+" alt="Stopping boundary '
        r"of ([^:]+):",
        section,
    )
    assert charts == [r["rule"] for r in expected]


def test_the_board_lists_open_alerts_with_their_clocks_and_the_latest_dsmb_report(
    small_trial, web_server, sessions, web_settings, clock, trial_pk, tmp_path
) -> None:
    """The report on the board is the open part; the closed part (patient listings) is
    the DSMB's alone and is not served, even by its id."""
    result = build_dsmb_report(
        sessions, web_settings, "2026-02", clock, Path(web_settings.reports.out_dir), pdf=False
    )
    with sessions() as session:
        closed_id = session.scalars(select(Report.id).where(Report.kind == "dsmb-closed")).one()
    with enter_board(web_server, sessions, web_settings, clock, trial_pk) as (browser, _):
        page = browser.get("/board").text
        report_id = re.search(r'href="/board/reports/(\d+)\.html"', page).group(1)
        report = browser.get(f"/board/reports/{report_id}.html")
        closed = browser.get(f"/board/reports/{closed_id}.html")
        missing = browser.get("/board/reports/999.html")
    open_section = page.split('id="open-alerts"')[1].split("</section>")[0]
    assert "[SAE][NCT06261047] 011-002 Grade 4 Hepatic failure" in open_section
    assert (
        'sponsor 24-hour notification: 2026-03-02 06:00 UTC (<span class="due">in 22 hours'
        in open_section
    )
    assert "2026-03-02 08:00 UTC (in 24 hours)" in open_section  # first reminder/escalation
    report_section = page.split('id="dsmb-report"')[1].split("</section>")[0]
    assert "<strong>2026-02</strong>" in report_section
    opened = result.parts["open"].html_path
    assert report.status_code == 200 and report.text == opened.read_text()
    assert "sandbox" in report.headers["content-security-policy"]
    assert closed.status_code == 404
    assert missing.status_code == 404


def test_hostile_text_on_the_board_is_shown_as_text(
    small_trial, web_server, sessions, web_settings, clock, trial_pk
) -> None:
    with enter_board(web_server, sessions, web_settings, clock, trial_pk) as (browser, _):
        page = browser.get("/board").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # in the counts and alerts
        assert "<script" not in page and "<img src=x" not in page
        assert "onerror=&#34;alert(2)&#34;" in page or "onerror=&quot;alert(2)&quot;" in page


def test_every_page_forbids_script_referrers_framing_and_caching(
    small_trial, web_server, sessions, web_settings, clock, trial_pk
) -> None:
    with enter_board(web_server, sessions, web_settings, clock, trial_pk) as (browser, entered):
        responses = [
            entered,
            browser.get("/board"),
            browser.get("/board/counts.json"),
            browser.get("/static/web.css"),
            browser.get("/healthz"),
            browser.get("/nowhere"),
            web_server.scanner_get(f"{web_server.url}/board"),
        ]
    for response in responses:
        headers = response.headers
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
        assert "<script" not in response.text
    assert responses[5].status_code == 404


def test_reading_the_board_on_an_empty_database_writes_nothing(
    web_server, sessions, web_settings, clock
) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select

    from aewatch.alerts.links import BOARD, LinkGrant, sign
    from aewatch.models import AuditEntry, Trial
    from support.web import SECRET

    token = sign(SECRET, LinkGrant(BOARD, OFFICER, clock.now() + timedelta(days=1)))
    with web_server.client() as browser:
        assert browser.get(f"/board/enter?t={token}").status_code == 200
        page = browser.get("/board")
        counts = browser.get("/board/counts.json").json()
    assert page.status_code == 200 and "No alert is waiting" in page.text
    assert counts == {"safety_population": 0, "counts": []}
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Trial)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
