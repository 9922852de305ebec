"""The deviation email tells the radiation oncologist what was delivered, without dates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aewatch.alerts.render import OutgoingAlert, render_message, render_subject
from aewatch.alerts.rules import deviation_alert
from support import make_settings

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def rendered(context: dict[str, object]) -> tuple[str, str]:
    message = render_message(
        OutgoingAlert(
            id=3, trial_id="NCT06261047", kind="deviation", dedup_key="k", priority=3,
            subject_line=render_subject("deviation", context), recipients=("a@example.org",),
            message_id="<3@x>", created_at=NOW, requires_ack=False, context=context,
            attachments=(),
        ),
        from_address="aewatch@example.org",
        now=NOW,
    )  # fmt: skip
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_a_re_irradiation_below_the_minimum_is_described_course_by_course(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "sqlite:///unused.sqlite")
    request = deviation_alert(
        "02-004", "02", "liver segment VIII #2", "liver segment VIII", 59.5, 60.0, settings,
        schedule="5 × 7 Gy", eqd2_gy=49.58, course_number=2, liver=True,
    )  # fmt: skip
    assert request.dedup_key == "deviation:NCT06261047:02-004:liver segment VIII #2"
    text, html = rendered(dict(request.context))
    assert (
        "Course / lesion:  liver segment VIII #2 / liver segment VIII\n"
        "Schedule:         5 × 7 Gy (course 2 to this lesion: re-irradiation)\n"
        "BED:              59.5 Gy (alpha/beta = 10.0), protocol minimum 60.0 Gy\n"
        "EQD2:             49.58 Gy\n"
        "Liver target:     yes\n"
    ) in text
    assert "<tr><th>Schedule</th><td>5 × 7 Gy (course 2 to this lesion: re-irradiation)" in html


def test_an_alert_queued_before_the_schedule_was_known_still_renders(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "sqlite:///unused.sqlite")
    request = deviation_alert("01-001", "01", "RT1", "liver", 37.5, 60.0, settings)
    context = {
        k: v
        for k, v in request.context.items()
        if k not in {"schedule", "eqd2_gy", "course_number", "liver"}
    }
    text, _ = rendered(context)
    assert "BED:              37.5 Gy" in text and "Schedule" not in text
