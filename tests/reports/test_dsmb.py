"""The DSMB monthly report: one stated data cut, open and closed parts, privacy,
reproducibility, the reports rows, PDF."""

from __future__ import annotations

import base64
import re
import zlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aewatch.clock import ManualClock
from aewatch.models import AdverseEvent, AeVersion, Report, Subject
from aewatch.reports.dsmb import build_dsmb_report, parse_month

OPEN_SECTIONS = (
    "summary",
    "accrual",
    "exposure",
    "adverse-events",
    "sae-deaths",
    "liver",
    "labs",
    "stopping-rules",
    "deviations",
    "alerts",
    "data-quality",
    "rule-appendix",
    "methods",
)
CLOSED_SECTIONS = (
    "closed-summary",
    "sae-deaths",
    "liver",
    "stopping-rules",
    "deviations",
    "appendix",
    "methods",
)
SUBJECTS = ("P01", "P02", "P03", "P04", "P05")


@pytest.fixture
def report_clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 5, 8, 0, tzinfo=UTC))


def build(sessions: Any, settings: Any, clock: Any, tmp_path: Path, **options: Any) -> Any:
    pdf = options.pop("pdf", False)
    return build_dsmb_report(sessions, settings, "2026-02", clock, tmp_path / "out", pdf, **options)


def html_of(result: Any, part: str) -> str:
    return result.parts[part].html_path.read_text()


def readable_text(html: str) -> str:
    """The HTML with every inline SVG decoded: what a reader (or a leak) could see."""
    svgs = [
        base64.b64decode(data).decode()
        for data in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", html)
    ]
    without = re.sub(r"data:image/svg\+xml;base64,[A-Za-z0-9+/=]+", "", html)
    return without + "\n".join(svgs)


def test_the_data_cut_is_the_last_moment_of_the_month() -> None:
    start, cut = parse_month("2026-02")
    assert start == datetime(2026, 2, 1, tzinfo=UTC)
    assert cut == datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_month("2026-13")


def test_both_parts_have_their_sections_and_are_self_contained(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    result = build(sessions, settings, report_clock, tmp_path)
    for part, sections in (("open", OPEN_SECTIONS), ("closed", CLOSED_SECTIONS)):
        html = html_of(result, part)
        for section in sections:
            assert f'<section id="{section}"' in html, (part, section)
        assert not re.search(r'(src|href)="(https?:|file:|/)', html)
        assert "<style>" in html
    # accrual, SOC, eDISH and one chart per stopping rule
    assert html_of(result, "open").count("data:image/svg+xml;base64,") >= 3 + 3


def test_the_first_lines_state_the_clinical_cut_and_the_knowledge_time(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    result = build(sessions, settings, report_clock, tmp_path)
    for part in ("open", "closed"):
        html = html_of(result, part)
        header = html[html.index("<header>") : html.index("</header>")]
        assert "on or before <b>2026-02-28</b>" in header
        assert "recorded by <b>2026-03-05 08:00 UTC</b>" in header
        assert "--cut 2026-02-28 --as-of 2026-03-05T08:00:00" in header
    assert "clinical cut 2026-02-28, data as recorded by 2026-03-05 08:00 UTC" in (
        result.summary_text
    )


def test_the_report_shows_the_known_numbers(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    result = build(sessions, settings, report_clock, tmp_path)
    html = html_of(result, "open")
    assert "5 of 36 planned patients enrolled, 4 started radiotherapy" in result.summary_text
    assert "3 (75.0%) grade ≥ 3" in result.summary_text
    assert "deaths: 1" in result.summary_text
    # P01 (01-25), P03 (02-10) toxic: the grade 3 rule crossed at the 2nd evaluable patient.
    assert (
        "grade3-rt-related: CROSSED (crossed at the 2nd evaluable patient on 2026-02-10 "
        "(2 toxic, boundary 2); now 3 of 3)" in result.summary_text
    )
    assert "Gastric hemorrhage" in html and "Hepatic failure" in html
    assert "Radiation-induced liver disease (non-classic)" in html
    assert "1 course(s) below 60.0 Gy₁₀" in html
    assert 'Child-Pugh rise of ≥ 2 points: <span class="flag">1</span>' in html
    assert settings.config_hash in html


def test_the_summary_says_what_changed_since_last_month(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    summary = build(sessions, settings, report_clock, tmp_path).summary_text
    assert "Since last month: enrolled 4 → 5" in summary
    assert "patients with an SAE 0 → 2" in summary
    assert "deaths 0 → 1" in summary


def test_the_open_part_carries_no_subject_identifier_and_the_closed_part_does(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    result = build(sessions, settings, report_clock, tmp_path)
    with sessions() as session:
        subject_ids = list(session.scalars(select(Subject.subject_id)))
    assert sorted(subject_ids) == list(SUBJECTS)
    open_text = readable_text(html_of(result, "open"))
    closed_text = readable_text(html_of(result, "closed"))
    for subject_id in subject_ids:
        assert not re.search(rf"\b{subject_id}\b", open_text), subject_id
    assert all(re.search(rf"\b{s}\b", closed_text) for s in ("P01", "P03", "P04"))
    # The open part's CSV tables hold aggregates only, too.
    folder = result.parts["open"].html_path.with_name("dsmb-NCT06261047-2026-02-open-tables")
    csv_text = "\n".join(p.read_text() for p in folder.glob("*.csv"))
    assert csv_text and not re.search(r"\bP0[1-5]\b", csv_text)


def test_listings_use_study_days_not_patient_dates(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    result = build(sessions, settings, report_clock, tmp_path)
    for part in ("open", "closed"):
        html = html_of(result, part)
        # AE onsets, death, lab collection: never as dates in the tables and listings (a
        # site's last data received is a day, not a patient's). (A
        # rule's crossing day and a pending patient's evaluable day are monitoring dates
        # the DSMB needs: they are in the summary and the stopping-rule sections only.)
        for section in re.findall(r'<section id="([^"]+)"', html):
            if section in ("summary", "closed-summary", "stopping-rules", "rule-appendix"):
                continue
            body = html.split(f'<section id="{section}"', 1)[1].split("</section>", 1)[0]
            for clinical_date in ("2026-02-20", "2026-02-25", "2026-01-25", "2026-02-15"):
                assert clinical_date not in body, (part, section, clinical_date)


def test_regenerating_gives_the_same_tables_and_one_reports_row_per_part(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    first = build(sessions, settings, report_clock, tmp_path)
    report_clock.advance(days=3)
    second = build(sessions, settings, report_clock, tmp_path)
    assert first.tables_sha256 == second.tables_sha256
    with sessions() as session:
        rows = session.scalars(select(Report).order_by(Report.kind)).all()
    assert [(r.kind, r.period) for r in rows] == [
        ("dsmb-closed", "2026-02"),
        ("dsmb-open", "2026-02"),
    ]
    for row in rows:
        assert row.tables_sha256 == first.tables_sha256
        assert row.data_cut == datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)
        assert row.generated_at == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
        assert row.summary["known_at"] == "2026-03-08T08:00:00+00:00"
        assert row.config_hash == settings.config_hash
        assert row.summary["facts"]["safety_population"] == 4


def test_an_ae_entered_after_the_month_end_counts_in_its_month(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    """The bug this design fixes: an AE with onset 02-27 entered on 03-03 belongs to
    February; a report generated on 03-05 counts it, a replay as known on 03-01 does not."""
    before = build(sessions, settings, report_clock, tmp_path)
    with sessions() as session, session.begin():
        p02 = session.scalars(select(Subject).where(Subject.subject_id == "P02")).one()
        identity = AdverseEvent(
            trial_pk=small_trial.trial_pk,
            subject_pk=p02.id,
            ae_key="AE-LATE",
            current_version=1,
            created_at=datetime(2026, 3, 3, 9, tzinfo=UTC),
        )
        session.add(identity)
        session.flush()
        session.add(
            AeVersion(
                ae_pk=identity.id,
                version=1,
                is_current=True,
                content_hash="late",
                ctcae_term="Duodenal ulcer",
                ctcae_soc="Gastrointestinal disorders",
                grade=3,
                rt_relation="probable",
                onset_on=date(2026, 2, 27),
                recorded_at=datetime(2026, 3, 3, 9, tzinfo=UTC),
            )
        )
    now = build(sessions, settings, report_clock, tmp_path)
    replay = build(
        sessions,
        settings,
        report_clock,
        tmp_path / "replay",
        as_of=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert "Duodenal ulcer" in html_of(now, "open")
    assert now.tables_sha256 != before.tables_sha256
    assert "4 (100.0%) grade ≥ 3" in now.summary_text
    assert "Duodenal ulcer" not in html_of(replay, "open")
    assert "recorded by <b>2026-03-01 00:00 UTC</b> (a replay" in html_of(replay, "open")


def test_a_replay_at_the_stated_knowledge_time_reproduces_the_report(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    january = build_dsmb_report(sessions, settings, "2026-01", report_clock, tmp_path, False)
    generated = report_clock.now()
    report_clock.advance(days=40)
    again = build_dsmb_report(
        sessions, settings, "2026-01", report_clock, tmp_path, False, as_of=generated
    )
    february = build(sessions, settings, report_clock, tmp_path)
    assert january.tables_sha256 == again.tables_sha256 != february.tables_sha256
    assert "First report" in january.summary_text


def test_the_pdf_of_each_part_is_an_archival_pdf(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    pytest.importorskip("weasyprint")
    result = build(sessions, settings, report_clock, tmp_path, pdf=True)
    for part in ("open", "closed"):
        path = result.parts[part].pdf_path
        assert path is not None
        data = path.read_bytes()
        assert data.startswith(b"%PDF-")
        assert b'pdfaid:part="3"' in b"".join(pdf_streams(data))  # PDF/A-3 in the XMP


def test_one_part_alone_is_built_on_request(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    result = build(sessions, settings, report_clock, tmp_path, parts=("closed",))
    assert list(result.parts) == ["closed"]
    with pytest.raises(ValueError, match="parts"):
        build(sessions, settings, report_clock, tmp_path, parts=("secret",))


def pdf_streams(data: bytes) -> list[bytes]:
    """Inflate every stream, so metadata can be read without a PDF library."""
    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            out.append(zlib.decompress(match.group(1)))
        except zlib.error:
            out.append(match.group(1))
    return out
