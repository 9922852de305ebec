"""The real CDISC pilot submission through ingest, grading, counts and the DSMB report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, select

from aewatch.models import LabResult
from aewatch.pipeline import Pipeline
from support import CDISC, make_settings, requires_shared


@requires_shared
def test_the_pilot_is_graded_counted_and_reported(sqlite_url: str, tmp_path: Path, clock) -> None:
    from aewatch.db import make_engine, session_factory
    from aewatch.reports.counting import count_adverse_events
    from aewatch.reports.dsmb import build_dsmb_report

    settings = make_settings(tmp_path, sqlite_url)
    settings = replace(
        settings,
        trial=replace(settings.trial, studies=("CDISCPILOT01",)),
        plausibility=replace(settings.plausibility, first_enrolment="2012-07-09"),
    )
    # The pilot's study treatment (a transdermal patch) stands in for radiotherapy here, so
    # the safety population is the pilot's treated patients.
    pilot_treatment = ("XANOMELINE", "PLACEBO")
    settings = replace(
        settings, radiotherapy=replace(settings.radiotherapy, treatments=pilot_treatment)
    )
    sessions = session_factory(make_engine(sqlite_url))
    pipeline = Pipeline(settings, sessions, clock, "pilot")
    outcomes = pipeline.ingest_paths(
        [CDISC / "sdtm-csv" / f"{name}.csv" for name in ("dm", "ex", "ae", "lb")]
    )
    assert [o.status for o in outcomes] == ["done"] * 4
    with sessions() as session:
        graded = session.scalar(
            select(func.count())
            .select_from(LabResult)
            .where(LabResult.tox_grade_high.is_not(None) | LabResult.tox_grade_low.is_not(None))
        )
        reasons = session.scalar(
            select(func.count())
            .select_from(LabResult)
            .where(
                LabResult.tox_grade_high.is_(None),
                LabResult.tox_grade_low.is_(None),
                LabResult.tox_note.is_not(None),
            )
        )
        total = session.scalar(select(func.count()).select_from(LabResult))
        counts = count_adverse_events(session, 1, by="soc")
    assert total == 59_580
    assert graded + reasons == total, "every lab row is graded or says why not"
    assert counts.population_n == 254  # 306 in DM less 52 screen failures with no exposure
    clock.set(clock.now().replace(year=2026, month=12, day=2))
    result = build_dsmb_report(sessions, settings, "2026-11", clock, tmp_path / "out", pdf=False)
    html = Path(result.html_path).read_text()
    for section in ("Summary", "Stopping rules", "Data quality", "Methods"):
        assert section in html
