"""The whole flow in a real headless Chromium (Debian's chromium and chromedriver, driven
by Selenium): an SAE dropped in the inbox becomes an email at a real SMTP server; the
safety officer opens the link in it, presses Acknowledge, and `aewatch alerts list` shows
the alert acknowledged; no reminder follows. The board opens from the same email, and
hostile text from the export stays text.

Skipped where Chromium is not installed, except under CI=true, where that is a failure
(`make system-deps` installs it). Set AEWATCH_SCREENSHOTS=docs/img to refresh the
screenshots in the documentation.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aewatch.reports.dsmb import build_dsmb_report
from aewatch.worker import Worker
from support import CONFIG, free_port
from support.web import DEPUTY, OFFICER, MailInbox, links_of

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'
QUOTED = HOSTILE.replace('"', '""')
DM = (
    "STUDYID,DOMAIN,USUBJID,SITEID,RFXSTDTC,BRTHDTC,SUBJNAME\n"
    "NCT06261047,DM,012-003,012,2026-01-10,1948-07-22,Wang Xiao Yu\n"
    "NCT06261047,DM,012-004,012,2026-01-11,1951-02-02,Li Na\n"
)
EX = (
    "STUDYID,DOMAIN,USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "NCT06261047,EX,012-003,RT1,SBRT,10,Gy,5,2026-01-12,2026-01-19\n"
    "NCT06261047,EX,012-004,RT1,SBRT,10,Gy,5,2026-01-13,2026-01-20\n"
)
AE = (
    "STUDYID,DOMAIN,USUBJID,AESPID,AETERM,AEDECOD,AEBODSYS,AETOXGR,AESER,AESHOSP,AEREL,"
    "AESTDTC\n"
    f'NCT06261047,AE,012-003,AE-1,"{QUOTED}",Hepatic failure,Hepatobiliary disorders,4,Y,Y,'
    "PROBABLE,2026-02-20\n"
    f'NCT06261047,AE,012-004,AE-1,"{QUOTED}","{QUOTED}",,3,Y,Y,POSSIBLE,2026-02-22\n'
)


@pytest.fixture
def chrome(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Debian's Chromium, headless, with a fresh profile and no background networking."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    if not (chromium and driver and webdriver):
        if os.environ.get("CI"):
            pytest.fail("CI=true but no chromium/chromedriver/selenium: run `make system-deps`")
        pytest.skip(
            "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers
    profile = tempfile.mkdtemp(prefix="aewatch-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-sync",
        "--disable-component-update",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1100,900",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    browser.set_page_load_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def mail() -> Iterator[MailInbox]:
    inbox = MailInbox(free_port()).start()
    yield inbox
    inbox.stop()


def screenshot(browser: Any, tmp_path: Path, name: str) -> Path:
    """The whole page (CDP, beyond the viewport); kept in tmp_path, and copied to
    AEWATCH_SCREENSHOTS (e.g. docs/img) when that is set."""
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 2400), "scale": 1}
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path = tmp_path / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("AEWATCH_SCREENSHOTS")
    if target:
        shutil.copy(path, Path(target) / path.name)
    return path


def open_email(browser: Any, message: Any, tmp_path: Path, name: str) -> None:
    """Show the email's HTML part as a mail program would (its own origin: file://)."""
    page = tmp_path / f"{name}.html"
    page.write_text(message.get_body(("html",)).get_content(), encoding="utf-8")
    browser.get(page.as_uri())


def wait_for_text(browser: Any, css: str, text: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(
        expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
    )
    return browser.find_element(By.CSS_SELECTOR, css)


def policy_violations(browser: Any) -> list[str]:
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused" in entry["message"]
    ]


def test_the_safety_officer_acknowledges_from_the_email_in_a_real_browser(
    chrome, mail, web_server, web_settings, sessions, clock, tmp_path, monkeypatch, db_url
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    settings = replace(
        web_settings,
        smtp=replace(
            web_settings.smtp,
            host="127.0.0.1",
            port=mail.port,
            starttls=False,
            timeout_seconds=10.0,
        ),
    )
    worker = Worker(settings, sessions, clock, worker_id="w1")
    inbox = Path(settings.worker.inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    for name, text in (("dm.csv", DM), ("ex.csv", EX), ("ae.csv", AE)):
        (inbox / name).write_text(text, encoding="utf-8")
    assert [f.status for f in worker.cycle().files] == ["done", "done", "done"]
    (email,) = mail.to(OFFICER, "Hepatic failure")
    assert len(mail.to(DEPUTY, "Hepatic failure")) == 1  # the deputy has a copy of their own

    # 1. The link in the email opens the page; nothing is acknowledged yet.
    open_email(chrome, email, tmp_path, "sae-email")
    screenshot(chrome, tmp_path, "web-email-links")
    chrome.find_element(By.PARTIAL_LINK_TEXT, "Acknowledge this alert as").click()
    button = wait_for_text(chrome, "#acknowledge", f"Acknowledge as {OFFICER}")
    alert_id = int(chrome.current_url.split("/alerts/")[1].split("/")[0])
    assert unacknowledged(monkeypatch, db_url) == [alert_id, alert_id + 1]
    screenshot(chrome, tmp_path, "web-acknowledge-page")

    # 2. The button acknowledges, as the officer, with a note.
    chrome.find_element(By.ID, "note").send_keys("sponsor notified by phone 08:10")
    button.click()
    outcome = wait_for_text(chrome, "#outcome", "Acknowledged")
    assert f"by {OFFICER} at 2026-03-01 08:00 UTC" in outcome.text
    screenshot(chrome, tmp_path, "web-acknowledged")
    assert unacknowledged(monkeypatch, db_url) == [alert_id + 1]
    listed = alerts_list(monkeypatch, db_url)
    acknowledged = next(a for a in listed if a["id"] == alert_id)
    assert (acknowledged["acknowledged_by"], acknowledged["ack_note"]) == (
        OFFICER,
        "sponsor notified by phone 08:10",
    )

    # 3. The same link again: who and when, no button.
    open_email(chrome, email, tmp_path, "sae-email")
    chrome.find_element(By.PARTIAL_LINK_TEXT, "Acknowledge this alert as").click()
    wait_for_text(chrome, "#outcome", "Already acknowledged by")
    assert not chrome.find_elements(By.ID, "acknowledge")
    screenshot(chrome, tmp_path, "web-already-acknowledged")

    # 4. A day and more later: reminders for the other, unacknowledged SAE only.
    before = len(mail.messages)
    clock.advance(hours=30)
    worker.cycle()
    later = [str(m["Subject"]) for m in mail.messages[before:]]
    assert later and all("Hepatic failure" not in s for s in later)
    assert any(s.startswith("[REMINDER 1]") for s in later)

    # 5. The board opens from the same email, with last month's DSMB report; hostile text
    #    is shown, never run.
    build_dsmb_report(
        sessions, settings, "2026-02", clock, Path(settings.reports.out_dir), pdf=False
    )
    open_email(chrome, email, tmp_path, "sae-email")
    chrome.find_element(By.PARTIAL_LINK_TEXT, "Open the safety board").click()
    wait_for_text(chrome, "h1", "Safety board")
    cookie = next(c for c in chrome.get_cookies() if c["name"] == "aewatch_board")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page_text = chrome.find_element(By.TAG_NAME, "body").text
    assert HOSTILE in page_text  # the subject line of the second SAE, as text
    assert chrome.execute_script("return document.scripts.length") == 0
    assert chrome.execute_script(
        "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
    )
    assert (
        chrome.execute_script(
            "return getComputedStyle(document.querySelector('header.top')).backgroundColor"
        )
        == "rgb(8, 81, 156)"
    )  # the stylesheet loaded under the policy
    with pytest.raises(NoAlertPresentException):
        chrome.switch_to.alert.text  # noqa: B018 - no dialog was ever opened
    screenshot(chrome, tmp_path, "web-safety-board")
    chrome.find_element(By.LINK_TEXT, "Read the report").click()
    wait_for_text(chrome, "h1", "DSMB monthly safety report, 2026-02")
    assert chrome.execute_script("return document.images.length") > 0
    chrome.back()

    # 6. An altered link: a clear page, nothing changed.
    ack_link = links_of(email)["ack"]
    chrome.get(ack_link[:-6] + "AAAAAA")
    wait_for_text(chrome, "#outcome", "Nothing was changed")
    screenshot(chrome, tmp_path, "web-link-not-valid")
    assert policy_violations(chrome) == []


def alerts_list(monkeypatch: pytest.MonkeyPatch, db_url: str) -> list[dict[str, Any]]:
    """`aewatch alerts list --format json`, as the safety officer would run it."""
    from aewatch.cli import app

    monkeypatch.setenv("AEWATCH_CONFIG", str(CONFIG))
    monkeypatch.setenv("AEWATCH_DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["alerts", "list", "--format", "json"], catch_exceptions=False)
    return json.loads(result.output)


def unacknowledged(monkeypatch: pytest.MonkeyPatch, db_url: str) -> list[int]:
    return sorted(
        a["id"]
        for a in alerts_list(monkeypatch, db_url)
        if a["requires_ack"]
        and a["acknowledged_at"] is None
        and a["kind"] in ("sae-initial", "death")
    )
