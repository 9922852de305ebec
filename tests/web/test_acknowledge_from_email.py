"""Acknowledging from the email against the real server on 127.0.0.1: opening a link
(what every mail scanner does) changes nothing; the page's button acknowledges, once, as
the link's recipient, through the code `aewatch alerts ack` runs; a link that is
altered, expired, replayed, for another alert or another person changes nothing."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from aewatch.alerts.links import ACK, LinkGrant, sign
from aewatch.alerts.sender import check_acknowledgements
from aewatch.models import Alert, AuditEntry
from aewatch.web.security import form_token
from support import CONFIG
from support.web import DEPUTY, OFFICER, SECRET, form_fields, send_sae

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def state(sessions, alert_id: int) -> tuple:  # type: ignore[no-untyped-def]
    """Everything an acknowledgement would change: the alert's fields and its audit."""
    with sessions() as session:
        row = session.get_one(Alert, alert_id)
        acks = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "alert acknowledged")
        )
        return (row.acknowledged_at, row.acknowledged_by, row.ack_note, acks)


UNTOUCHED = (None, None, None, 0)


def open_page(client: httpx.Client, link: str) -> tuple[httpx.Response, dict[str, str]]:
    response = client.get(link)
    return response, form_fields(response.text)


def press(
    client: httpx.Client, alert_id: int, fields: dict[str, str], **headers: str
) -> httpx.Response:
    return client.post(f"/alerts/{alert_id}/ack", data=fields, headers=headers)


def test_a_scanner_opening_every_link_acknowledges_nothing(
    web_server, sessions, web_settings, clock, trial_pk
) -> None:
    sent = send_sae(sessions, web_settings, clock, trial_pk)
    for links in sent.links.values():
        for link in links.values():
            response = web_server.scanner_get(link)
            assert response.status_code == 200
        head = httpx.head(links["ack"], timeout=30)
        assert head.status_code == 200
    page = web_server.scanner_get(sent.links[OFFICER]["ack"]).text
    assert f"Acknowledge as {OFFICER}" in page and 'method="post"' in page
    assert state(sessions, sent.alert_id) == UNTOUCHED


def test_the_button_on_the_page_acknowledges_once_as_the_recipient_and_stops_escalation(
    web_server, sessions, web_settings, clock, trial_pk, monkeypatch, db_url
) -> None:
    sent = send_sae(sessions, web_settings, clock, trial_pk)
    clock.advance(minutes=20)
    with web_server.client() as browser:
        _, fields = open_page(browser, sent.links[OFFICER]["ack"])
        done = press(browser, sent.alert_id, {**fields, "note": "sponsor notified 08:15"})
    assert done.status_code == 200
    assert f"Acknowledged</strong> by {OFFICER} at 2026-03-01 08:20 UTC" in done.text
    acknowledged_at, by, note, acks = state(sessions, sent.alert_id)
    assert (acknowledged_at, by, note, acks) == (clock.now(), OFFICER, "sponsor notified 08:15", 1)
    with sessions() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "alert acknowledged")
        ).one()
    assert (audit.actor, audit.detail["channel"]) == (OFFICER, "email link")
    # The command line sees it, and no reminder or escalation follows.
    monkeypatch.setenv("AEWATCH_CONFIG", str(CONFIG))
    monkeypatch.setenv("AEWATCH_DATABASE_URL", db_url)
    from aewatch.cli import app

    listed = CliRunner().invoke(app, ["alerts", "list", "-s", "unacknowledged", "-f", "json"])
    assert json.loads(listed.output) == []
    clock.advance(hours=72)
    assert check_acknowledgements(sessions, web_settings, clock) == 0


def test_a_second_use_says_who_acknowledged_and_when_and_changes_nothing(
    web_server, sessions, web_settings, clock, trial_pk
) -> None:
    sent = send_sae(sessions, web_settings, clock, trial_pk)
    with web_server.client() as officer, web_server.client() as deputy:
        _, deputy_fields = open_page(deputy, sent.links[DEPUTY]["ack"])  # open, not pressed
        _, fields = open_page(officer, sent.links[OFFICER]["ack"])
        assert press(officer, sent.alert_id, fields).status_code == 200
        after_first = state(sessions, sent.alert_id)
        clock.advance(hours=1)
        replayed = press(officer, sent.alert_id, fields)
        late = press(deputy, sent.alert_id, deputy_fields)
        reopened = deputy.get(sent.links[DEPUTY]["ack"])
    already = f"Already acknowledged by <strong>{OFFICER}</strong> at 2026-03-01 08:00 UTC"
    assert replayed.status_code == late.status_code == reopened.status_code == 200
    assert already in replayed.text and already in late.text and already in reopened.text
    assert "<form" not in reopened.text
    assert state(sessions, sent.alert_id) == after_first


def altered(link: str, how: str) -> str:
    base, token = link.split("?t=")
    version, body, mac = token.split(".")
    flip = {"A": "B"}.get(body[5], "A")
    return (
        base
        + "?t="
        + {
            "payload": f"{version}.{body[:5]}{flip}{body[6:]}.{mac}",
            "signature": f"{version}.{body}.{mac[::-1]}",
            "truncated": token[: len(token) // 2],
            "other secret": sign(
                "another-secret-" + "x" * 40, LinkGrant(ACK, OFFICER, _far_future(), alert_id=1)
            ),
            "missing": "",
        }[how]
    )


def _far_future():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("how", ["payload", "signature", "truncated", "other secret", "missing"])
def test_an_altered_link_gets_a_clear_page_and_changes_nothing(
    how, web_server, sessions, web_settings, clock, trial_pk
) -> None:
    sent = send_sae(sessions, web_settings, clock, trial_pk)
    link = altered(sent.links[OFFICER]["ack"], how)
    with web_server.client() as browser:
        page = browser.get(link)
        open_page(browser, sent.links[OFFICER]["ack"])  # a real page sets the form cookie
        # Even a form token forged for the altered link (with the server's own secret)
        # does not get it past the link check on POST.
        token = link.split("?t=")[1]
        forged = form_token(SECRET, browser.cookies["aewatch_form"], token)
        posted = press(browser, sent.alert_id, {"t": token, "csrf": forged})
    assert page.status_code == posted.status_code == 400
    assert "This link is not valid" in page.text and "Nothing was changed" in page.text
    assert "<form" not in page.text
    assert state(sessions, sent.alert_id) == UNTOUCHED


def test_an_expired_link_gets_a_clear_page_and_changes_nothing(
    web_server, sessions, web_settings, clock, trial_pk
) -> None:
    sent = send_sae(sessions, web_settings, clock, trial_pk)
    with web_server.client() as browser:
        _, fields = open_page(browser, sent.links[OFFICER]["ack"])  # the page, while valid
        clock.advance(days=web_settings.web.link_days, seconds=1)
        page = browser.get(sent.links[OFFICER]["ack"])
        posted = press(browser, sent.alert_id, fields)
    assert page.status_code == posted.status_code == 410
    assert "This link has expired" in page.text and "expired on 2026-03-15 08:00 UTC" in page.text
    assert state(sessions, sent.alert_id) == UNTOUCHED


def test_a_link_used_for_another_alert_changes_nothing(
    web_server, sessions, web_settings, clock, trial_pk
) -> None:
    first = send_sae(sessions, web_settings, clock, trial_pk)
    second = send_sae(sessions, web_settings, clock, trial_pk, ae_key="AE-8")
    token = first.links[OFFICER]["ack"].split("?t=")[1]
    with web_server.client() as browser:
        page = browser.get(f"/alerts/{second.alert_id}/ack?t={token}")
        _, fields = open_page(browser, first.links[OFFICER]["ack"])
        posted = press(browser, second.alert_id, fields)
    assert page.status_code == posted.status_code == 400
    assert "This link belongs to another alert" in page.text
    assert state(sessions, first.alert_id) == state(sessions, second.alert_id) == UNTOUCHED


def test_a_genuine_link_for_someone_not_on_the_alert_changes_nothing(
    web_server, sessions, web_settings, clock, trial_pk
) -> None:
    sent = send_sae(sessions, web_settings, clock, trial_pk)
    stranger = sign(
        SECRET,
        LinkGrant(
            ACK, "someone.else@example.org", clock.now() + timedelta(days=1), alert_id=sent.alert_id
        ),
    )
    with web_server.client() as browser:
        page = browser.get(f"/alerts/{sent.alert_id}/ack?t={stranger}")
        _, fields = open_page(browser, sent.links[OFFICER]["ack"])
        posted = press(browser, sent.alert_id, {**fields, "t": stranger})
    assert page.status_code == 403
    assert "not issued to a recipient of this alert" in page.text
    assert posted.status_code == 403  # the form token was for the officer's link
    assert state(sessions, sent.alert_id) == UNTOUCHED


@pytest.mark.parametrize(
    "forgery",
    ["no form token", "no form cookie", "another page's token", "cross-site", "not a form"],
)
def test_a_post_that_did_not_come_from_the_page_is_refused(
    forgery, web_server, sessions, web_settings, clock, trial_pk
) -> None:
    sent = send_sae(sessions, web_settings, clock, trial_pk)
    second = send_sae(sessions, web_settings, clock, trial_pk, ae_key="AE-8")
    with web_server.client() as browser:
        _, fields = open_page(browser, sent.links[OFFICER]["ack"])
        _, other = open_page(browser, second.links[OFFICER]["ack"])
        if forgery == "no form token":
            response = press(browser, sent.alert_id, {"t": fields["t"]})
        elif forgery == "no form cookie":
            response = httpx.post(f"{web_server.url}/alerts/{sent.alert_id}/ack", data=fields)
        elif forgery == "another page's token":
            response = press(browser, sent.alert_id, {"t": fields["t"], "csrf": other["csrf"]})
        elif forgery == "cross-site":
            response = press(
                browser,
                sent.alert_id,
                fields,
                **{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
            )
        else:
            response = browser.post(f"/alerts/{sent.alert_id}/ack", json=fields)
    assert response.status_code in (400, 403)
    assert "Nothing was changed" in response.text
    assert state(sessions, sent.alert_id) == UNTOUCHED


def test_acknowledging_from_a_reminder_acknowledges_the_original(
    web_server, sessions, web_settings, clock, trial_pk
) -> None:
    from aewatch.alerts.sender import drain
    from support.web import Recorder, links_of

    sent = send_sae(sessions, web_settings, clock, trial_pk)
    clock.advance(hours=25)
    check_acknowledgements(sessions, web_settings, clock)
    recorder = Recorder()
    drain(sessions, web_settings, clock, worker_id="w1", transport=recorder)
    reminder = next(m for m in recorder.sent if m["To"] == OFFICER and "REMINDER" in m["Subject"])
    link = links_of(reminder)["ack"]
    reminder_id = int(link.split("/alerts/")[1].split("/")[0])
    assert reminder_id != sent.alert_id
    with web_server.client() as browser:
        page, fields = open_page(browser, link)
        assert f"Alert {sent.alert_id} · sae-initial" in page.text  # the original is shown
        press(browser, reminder_id, fields)
    assert state(sessions, sent.alert_id)[1] == OFFICER
    clock.advance(hours=48)
    assert check_acknowledgements(sessions, web_settings, clock) == 0


def test_a_hostile_term_is_shown_as_text_and_never_runs(
    web_server, sessions, web_settings, clock, trial_pk
) -> None:
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    sent = send_sae(sessions, web_settings, clock, trial_pk, ctcae_term=hostile)
    page = web_server.scanner_get(sent.links[OFFICER]["ack"]).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page and "<img" not in page


def test_link_checks_are_rate_limited_per_client_until_a_minute_has_passed(
    web_settings, engine, sessions, clock, trial_pk, web_port
) -> None:
    from dataclasses import replace

    from support.web import start_server

    strict = replace(web_settings, web=replace(web_settings.web, token_checks_per_minute=3))
    sent = send_sae(sessions, strict, clock, trial_pk)
    server = start_server(strict, engine, sessions, clock, web_port)
    try:
        codes = [server.scanner_get(sent.links[OFFICER]["ack"]).status_code for _ in range(4)]
        limited = server.scanner_get(sent.links[OFFICER]["board"])
        clock.advance(seconds=61)
        again = server.scanner_get(sent.links[OFFICER]["ack"])
    finally:
        server.server.should_exit = True
        server.thread.join(timeout=15)
    assert codes == [200, 200, 200, 429]
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
    assert again.status_code == 200


def test_no_token_and_no_secret_reach_the_log(
    web_server, sessions, web_settings, clock, trial_pk, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    sent = send_sae(sessions, web_settings, clock, trial_pk)
    with web_server.client() as browser:
        _, fields = open_page(browser, sent.links[OFFICER]["ack"])
        press(browser, sent.alert_id, fields)
        browser.get(altered(sent.links[DEPUTY]["ack"], "signature"))
        browser.get(sent.links[OFFICER]["board"], follow_redirects=True)
        browser.get("/board")
    tokens = [link.split("?t=")[1] for links in sent.links.values() for link in links.values()]
    # What the server side logged (the test's own HTTP client logs the URLs it requests).
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )
    assert f"GET /alerts/{sent.alert_id}/ack 200" in logged  # the path is logged, that is all
    assert "GET /board 200" in logged
    assert SECRET not in logged and fields["csrf"] not in logged
    assert not [t for t in tokens if t in logged or t.split(".")[2] in logged]


def test_two_recipients_pressing_at_once_acknowledge_exactly_once(
    web_server, sessions, web_settings, clock, trial_pk
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sent = send_sae(sessions, web_settings, clock, trial_pk)
    with web_server.client() as officer, web_server.client() as deputy:
        _, officer_fields = open_page(officer, sent.links[OFFICER]["ack"])
        _, deputy_fields = open_page(deputy, sent.links[DEPUTY]["ack"])
        with ThreadPoolExecutor(2) as pool:
            pages = list(
                pool.map(
                    lambda pair: press(pair[0], sent.alert_id, pair[1]),
                    [(officer, officer_fields), (deputy, deputy_fields)],
                )
            )
    outcomes = sorted("Already acknowledged" in p.text for p in pages)
    assert [p.status_code for p in pages] == [200, 200]
    assert outcomes == [False, True]  # one acknowledged, the other was told who did
    assert state(sessions, sent.alert_id)[3] == 1


def test_under_a_path_on_the_proxy_links_forms_and_cookies_carry_the_path(
    web_settings, engine, sessions, clock, trial_pk, web_port
) -> None:
    from dataclasses import replace

    from support.web import start_server

    prefixed = replace(
        web_settings, web=replace(web_settings.web, base_url=f"http://127.0.0.1:{web_port}/aewatch")
    )
    sent = send_sae(sessions, prefixed, clock, trial_pk)
    link = sent.links[OFFICER]["ack"]
    assert link.startswith(f"http://127.0.0.1:{web_port}/aewatch/alerts/{sent.alert_id}/ack?t=")
    server = start_server(prefixed, engine, sessions, clock, web_port)
    try:  # the proxy strips /aewatch before passing the request on
        page = server.scanner_get(link.replace("/aewatch/", "/"))
    finally:
        server.server.should_exit = True
        server.thread.join(timeout=15)
    assert f'action="/aewatch/alerts/{sent.alert_id}/ack"' in page.text
    assert 'href="/aewatch/static/web.css"' in page.text
    assert "Path=/aewatch/alerts" in page.headers["set-cookie"]
