"""The real CDISC pilot submission through ingest, grading, counts and the DSMB report,
its DS domain included: disposition counted as the submission records it."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime
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
        [CDISC / "sdtm-csv" / f"{name}.csv" for name in ("dm", "ex", "ae", "lb", "ds")]
    )
    assert [o.status for o in outcomes] == ["done"] * 5
    assert (outcomes[-1].rows, outcomes[-1].accepted, outcomes[-1].quarantined) == (850, 850, 0)
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
    html = Path(result.parts["open"].html_path).read_text()
    for section in ("Summary", "Stopping rules", "Data quality", "Methods", "Disposition"):
        assert section in html
    assert_disposition_matches_the_submission(sessions, settings)


def assert_disposition_matches_the_submission(sessions, settings) -> None:  # type: ignore[no-untyped-def]
    """Patients with each DS disposition event, and the deaths, as the CSV has them."""
    from aewatch.reports.datacut import DataCut
    from aewatch.reports.sections import compute_sections
    from aewatch.reports.snapshot import load_snapshot

    with sessions() as session:
        snap = load_snapshot(session, 1, DataCut(clinical_day=date(2026, 11, 30)))
    tabs = compute_sections(
        snap, settings, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    )
    population = set(
        snap.subjects.loc[
            snap.subjects["subject_id"].isin(snap.rt_courses["subject_id"]), "subject_id"
        ]
    )
    with (CDISC / "sdtm-csv" / "ds.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["DSCAT"] == "DISPOSITION EVENT"]
    expected = Counter(r["DSDECOD"] for r in rows if r["USUBJID"] in population)
    found = tabs.frames["disposition_events"]
    assert dict(zip(found["term"], found["patients"], strict=True)) == dict(expected)
    assert expected["DEATH"] == 3 and expected["LOST TO FOLLOW-UP"] == 2
    status = tabs.frames["disposition"].set_index("status")["patients"]
    assert status["died"] == 3
    assert status["lost to follow-up"] == 2
    assert status["completed"] == expected["COMPLETED"]
    sources = tabs.frames["death_sources"].set_index("recorded_in")["deaths"]
    assert sources["DM and DS"] == 3  # DTHDTC and DSDECOD DEATH agree in the pilot
