"""One alert renders to one complete, escaped multipart/alternative email."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aewatch.alerts.render import OutgoingAlert, render_message, render_subject
from aewatch.alerts.rules import ae_alerts, dsmb_report_alert
from support import make_settings

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
# A field label of the plain-text emails that follows other text on its line: the line
# before it lost its newline (Jinja's trim_blocks after an inline {% endif %}).
FIELD_AFTER_TEXT = re.compile(
    r"\S(Trial / site|Subject|AE|CTCAE term|Grade|Seriousness|Attribution to RT"
    r"|Attribution to systemic|Onset|Outcome|Site aware|Event|Evidence|Detected):  "
)


@pytest.fixture
def trial_settings(tmp_path: Path):
    return make_settings(tmp_path, "sqlite:///unused.sqlite")


def outgoing_for(request, alert_id: int = 7) -> OutgoingAlert:
    return OutgoingAlert(
        id=alert_id, trial_id="NCT06261047", kind=request.kind, dedup_key=request.dedup_key,
        priority=request.priority, subject_line=render_subject(request.kind, request.context),
        recipients=request.recipients, message_id="<abc@aewatch.NCT06261047>", created_at=NOW,
        requires_ack=request.requires_ack, context=request.context,
        attachments=request.attachments)


def test_an_sae_email_has_both_parts_and_the_identifying_headers(make_facts, trial_settings):
    (request,) = ae_alerts(None, make_facts(), trial_settings, NOW)
    message = render_message(outgoing_for(request), from_address="aewatch@example.org", now=NOW)
    assert message["Subject"] == "[SAE][NCT06261047] 012-003 Grade 4 Hepatic failure"
    assert message["Message-ID"] == "<abc@aewatch.NCT06261047>"
    assert message["X-Aewatch-Alert"] == request.dedup_key
    assert message["X-Priority"].startswith("1")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "study day 43" in part and "probable" in part and "unlikely" in part
        assert "sponsor 24-hour notification" in part and "in 22 hours" in part
        assert "aewatch alerts ack 7 --by" in part
        assert "http" not in part.replace("http-equiv", "")  # links nothing external


def test_hostile_text_in_a_term_is_escaped_in_html_and_kept_off_the_header(
    make_facts, trial_settings
) -> None:
    hostile = '<script>alert("x")</script>\r\nBcc: everyone@example.org'
    (request,) = ae_alerts(None, make_facts(ctcae_term=hostile), trial_settings, NOW)
    message = render_message(outgoing_for(request), from_address="aewatch@example.org", now=NOW)
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "\n" not in message["Subject"] and message["Bcc"] is None


def test_a_dsmb_report_carries_its_pdf(trial_settings, tmp_path: Path) -> None:
    pdf = tmp_path / "dsmb-2026-02.pdf"
    pdf.write_bytes(b"%PDF-1.7 test")
    request = dsmb_report_alert("2026-02", [str(pdf)], {"Patients enrolled": 14}, trial_settings)
    message = render_message(outgoing_for(request), from_address="aewatch@example.org", now=NOW)
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "dsmb-2026-02.pdf"
    assert attachment.get_content() == b"%PDF-1.7 test"


def every_kind(make_facts, settings, tmp_path: Path) -> list:
    """One request of each kind the rules produce."""
    from aewatch.alerts.rules import (
        DerivedEvent,
        derived_event_alerts,
        deviation_alert,
        ingest_failure_alert,
        site_silence_alerts,
        threshold_alert,
    )

    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(b"%PDF")
    common = {"trial_id": "NCT06261047", "site": "012", "subject_id": "012-003",
              "study_day": 61, "grade": 3, "evidence": "ALT 5 x ULN"}
    return [
        *ae_alerts(None, make_facts(), settings, NOW),
        *ae_alerts(make_facts(grade=3), make_facts(version=2), settings, NOW),
        *ae_alerts(None, make_facts(grade=5, ae_key="AE-9"), settings, NOW),
        *derived_event_alerts([
            DerivedEvent(kind="rild-classic", event_key="k", term="RILD", **common),
            DerivedEvent(kind="lab-derived", event_key="k", term="ALT increased", **common),
        ], settings, NOW),
        threshold_alert("g3", "approaching", "crossed",
                        [{"rule": "g3", "evaluable_n": 12, "toxic_n": 5}], ["012-003"],
                        settings, NOW),
        deviation_alert("012-003", "012", "C1", "segment 7", 55.0, 60.0, settings),
        ingest_failure_alert("x.csv", "not UTF-8", settings, NOW),
        *site_silence_alerts({"011": NOW.replace(month=1)}, settings, NOW),
        dsmb_report_alert("2026-02", [str(pdf)], {"Patients": 3}, settings),
    ]


def test_every_kind_renders_with_every_follow_up_and_no_missing_variable(
    make_facts, trial_settings, tmp_path: Path
) -> None:
    from aewatch.alerts.followups import (
        delivery_failure_request,
        escalation_request,
        reminder_request,
    )
    from aewatch.models import Alert

    requests = every_kind(make_facts, trial_settings, tmp_path)
    assert {r.kind for r in requests} == {
        "sae-initial", "sae-followup", "death", "liver-event", "lab-derived", "threshold",
        "deviation", "ingest-failure", "site-silence", "dsmb-report"}
    for n, request in enumerate(requests, start=1):
        row = Alert(id=n, kind=request.kind, dedup_key=request.dedup_key,
                    priority=request.priority, subject_id=request.subject_id,
                    subject_line=render_subject(request.kind, request.context),
                    recipients=list(request.recipients), message_id=f"<{n}@x>",
                    payload={"context": dict(request.context)}, created_at=NOW,
                    requires_ack=request.requires_ack, attempts=8)
        followups = [
            reminder_request(row, "REMINDER 1", "1", 24.0),
            escalation_request(row, 1, "pi@example.org", 24.0),
            delivery_failure_request(row, trial_settings, "SMTP 554", ["a@example.org"]),
        ]
        for item in (request, *followups):
            message = render_message(outgoing_for(item, n), from_address="a@example.org",
                                     now=NOW)
            text = message.get_body(("plain",)).get_content()
            assert row.subject_line in str(message["Subject"])
            assert "Subject IDs only" in text
            run_on = FIELD_AFTER_TEXT.search(text)  # "study day 43Outcome: …"
            assert run_on is None, f"{request.kind}: two fields on one line: {run_on}"
