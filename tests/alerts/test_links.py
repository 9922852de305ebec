"""Signed links: what a link grants can be read back, and nothing else can."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from aewatch.alerts.links import (
    ACK,
    BOARD,
    LinkError,
    LinkGrant,
    email_links,
    secret_problem,
    sign,
    verify,
)
from aewatch.config import load_settings
from support import CONFIG

SECRET = "k" * 40
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
GRANT = LinkGrant(ACK, "safety.officer@example.org", NOW + timedelta(days=14), alert_id=7)


def test_a_signed_link_reads_back_what_it_grants() -> None:
    assert verify(SECRET, sign(SECRET, GRANT), ACK, NOW) == GRANT


def test_a_link_works_until_its_expiry_and_not_at_it() -> None:
    token = sign(SECRET, GRANT)
    assert verify(SECRET, token, ACK, GRANT.expires_at - timedelta(seconds=1)) == GRANT
    with pytest.raises(LinkError) as refused:
        verify(SECRET, token, ACK, GRANT.expires_at)
    assert refused.value.reason == "expired"


def test_a_board_link_never_passes_as_an_acknowledgement_link() -> None:
    board = sign(SECRET, replace(GRANT, purpose=BOARD, alert_id=None))
    with pytest.raises(LinkError) as refused:
        verify(SECRET, board, ACK, NOW)
    assert refused.value.reason == "tampered"


def test_a_link_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(LinkError) as refused:
        verify(SECRET, sign("another secret of forty characters......", GRANT), ACK, NOW)
    assert refused.value.reason == "tampered"


def test_a_payload_rewritten_for_another_alert_keeps_the_old_signature_and_is_refused() -> None:
    version, _, mac = sign(SECRET, GRANT).split(".")
    other_body = sign(SECRET, replace(GRANT, alert_id=8)).split(".")[1]
    with pytest.raises(LinkError) as refused:
        verify(SECRET, f"{version}.{other_body}.{mac}", ACK, NOW)
    assert refused.value.reason == "tampered"


@pytest.mark.parametrize("token", ["", "v1", "v1..", "v2.a.b", "x" * 5000, "v1.%%%.***"])
def test_garbage_is_refused_without_an_exception_other_than_link_error(token: str) -> None:
    with pytest.raises(LinkError):
        verify(SECRET, token, ACK, NOW)


def test_changing_any_one_character_of_a_link_makes_it_grant_nothing() -> None:
    """Every position, every kind of character: exhaustive, so no random seed is needed."""
    token = sign(SECRET, GRANT)
    granted_anyway = []
    for index in range(len(token)):
        for replacement in "AZaz09-_.=":
            altered = token[:index] + replacement + token[index + 1 :]
            if altered == token:
                continue
            with contextlib.suppress(LinkError):
                granted_anyway.append((index, verify(SECRET, altered, ACK, NOW)))
    # Only the unused padding bits of the signature's last character may change and
    # still decode to the same signature: then the grant is the original, never another.
    assert all(grant == GRANT and index == len(token) - 1 for index, grant in granted_anyway)


def test_email_links_point_at_the_base_url_and_carry_the_recipient(
    settings_with_links,
) -> None:
    links = email_links(settings_with_links, alert_id=7, recipient="a@example.org", now=NOW)
    assert links["ack"].startswith("https://aewatch.hospital.example/alerts/7/ack?t=v1.")
    assert links["board"].startswith("https://aewatch.hospital.example/board/enter?t=v1.")
    token = links["ack"].split("t=", 1)[1]
    grant = verify(settings_with_links.web_secret, token, ACK, NOW)
    assert (grant.alert_id, grant.recipient) == (7, "a@example.org")
    assert grant.expires_at == NOW + timedelta(days=14)


def test_a_missing_or_short_secret_is_named_when_links_are_on(monkeypatch) -> None:
    settings = load_settings(CONFIG, env={})
    on = replace(settings, web=replace(settings.web, base_url="https://aewatch.example"))
    monkeypatch.delenv("AEWATCH_WEB_SECRET", raising=False)
    assert secret_problem(settings) is None  # links off: nothing needed
    assert "AEWATCH_WEB_SECRET is not set" in str(secret_problem(on))
    monkeypatch.setenv("AEWATCH_WEB_SECRET", "short")
    assert "has only 5 characters" in str(secret_problem(on))
    monkeypatch.setenv("AEWATCH_WEB_SECRET", SECRET)
    assert secret_problem(on) is None


@pytest.fixture
def settings_with_links(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AEWATCH_WEB_SECRET", SECRET)
    settings = load_settings(CONFIG, env={})
    return replace(settings, web=replace(settings.web, base_url="https://aewatch.hospital.example"))
