"""The DSMB monthly report: sections, privacy, reproducibility, the reports row, PDF."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aewatch.clock import ManualClock
from aewatch.models import Report
from aewatch.reports.dsmb import build_dsmb_report, parse_month

SECTIONS = (
    "summary",
    "accrual",
    "exposure",
    "adverse-events",
    "sae-deaths",
    "liver",
    "labs",
    "stopping-rules",
    "alerts",
    "data-quality",
    "methods",
    "appendix",
)


@pytest.fixture
def report_clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 5, 8, 0, tzinfo=UTC))


def build(sessions: Any, settings: Any, clock: Any, tmp_path: Path, pdf: bool = False) -> Any:
    return build_dsmb_report(sessions, settings, "2026-02", clock, tmp_path / "out", pdf)


def test_the_data_cut_is_the_last_moment_of_the_month() -> None:
    start, cut = parse_month("2026-02")
    assert start == datetime(2026, 2, 1, tzinfo=UTC)
    assert cut == datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_month("2026-13")


def test_the_report_has_every_section_and_is_self_contained(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    html = build(sessions, settings, report_clock, tmp_path).html_path.read_text()
    for section in SECTIONS:
        assert f'<section id="{section}"' in html
    assert html.count("data:image/svg+xml;base64,") >= 4  # accrual, swimmer, SOC, boundary
    assert not re.search(r'(src|href)="(https?:|file:|/)', html)
    assert "<style>" in html


def test_the_report_shows_the_known_numbers(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    result = build(sessions, settings, report_clock, tmp_path)
    html = result.html_path.read_text()
    assert "5 of 36 planned patients enrolled, 4 started radiotherapy" in result.summary_text
    assert "3 (75.0%) grade ≥ 3" in result.summary_text
    assert "deaths: 1" in result.summary_text
    assert "APPROACHING (2 toxic of 3 evaluable; stop at 3)" in result.summary_text
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


def test_the_report_carries_subject_ids_but_no_patient_dates(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    html = build(sessions, settings, report_clock, tmp_path).html_path.read_text()
    assert "P03" in html
    for clinical_date in ("2026-02-10", "2026-02-20", "2026-02-25", "2026-01-25"):
        assert clinical_date not in html


def test_regenerating_gives_the_same_tables_and_one_reports_row(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    first = build(sessions, settings, report_clock, tmp_path)
    report_clock.advance(days=3)
    second = build(sessions, settings, report_clock, tmp_path)
    assert first.tables_sha256 == second.tables_sha256
    with sessions() as session:
        rows = session.scalars(select(Report)).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.kind, row.period, row.tables_sha256) == ("dsmb", "2026-02", first.tables_sha256)
    assert row.data_cut == datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)
    assert row.generated_at == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert row.config_hash == settings.config_hash
    assert row.summary["facts"]["safety_population"] == 4


def test_a_later_correction_does_not_change_an_earlier_months_tables(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    january = build_dsmb_report(sessions, settings, "2026-01", report_clock, tmp_path, False)
    again = build_dsmb_report(sessions, settings, "2026-01", report_clock, tmp_path, False)
    february = build(sessions, settings, report_clock, tmp_path)
    assert january.tables_sha256 == again.tables_sha256 != february.tables_sha256
    assert "First report" in january.summary_text


def test_the_pdf_is_an_archival_pdf(
    sessions: Any, settings: Any, small_trial: Any, report_clock: Any, tmp_path: Path
) -> None:
    pytest.importorskip("weasyprint")
    result = build(sessions, settings, report_clock, tmp_path, pdf=True)
    assert result.pdf_path is not None
    data = result.pdf_path.read_bytes()
    assert data.startswith(b"%PDF-")
    assert b'pdfaid:part="3"' in b"".join(pdf_streams(data))  # PDF/A-3 in the XMP metadata


def pdf_streams(data: bytes) -> list[bytes]:
    """Inflate every stream, so metadata can be read without a PDF library."""
    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            out.append(zlib.decompress(match.group(1)))
        except zlib.error:
            out.append(match.group(1))
    return out
