"""A serious AE without AEAWDTC: its clock runs from receipt, the alert and the SAE listing
say so, and the site is asked for the date until a re-export gives it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aewatch.alerts.sender import drain
from aewatch.clock import ManualClock
from aewatch.models import QuarantineEntry
from aewatch.pipeline import Pipeline

DM = "USUBJID,SITEID,RFXSTDTC\n01-001,01,2026-01-05\n01-002,01,2026-01-05\n"
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "01-001,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-09\n"
    "01-002,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-09\n"
)
HEAD = "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEREL,AESTDTC,AEAWDTC\n"
SAE = "01-001,AE-1,ASCITES,Ascites,3,Y,Y,PROBABLE,2026-01-20,{aware}\n"
NON_SERIOUS = "01-002,AE-1,NAUSEA,Nausea,1,N,N,UNLIKELY,2026-01-20,\n"
REASON = (
    "AEAWDTC (when the site became aware of this serious AE) is missing: give the date and "
    "time, e.g. 2026-11-27T15:00 in the site's local time; until then the 24-hour "
    "reporting clock runs from when the file was received"
)
NOTE = "awareness date not supplied — clock from receipt"


def ingest(pipeline: Pipeline, folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    pipeline.ingest_paths([path])


def awareness_queries(pipeline: Pipeline) -> list[tuple[str, str, int, str, str | None, str]]:
    with pipeline.sessions() as session:
        rows = session.scalars(
            select(QuarantineEntry)
            .where(QuarantineEntry.field == "AEAWDTC")
            .order_by(QuarantineEntry.id)
        ).all()
    return [(q.state, q.file_name, q.row_number, q.kind, q.subject_id, q.reason) for q in rows]


def test_a_serious_ae_without_awareness_is_queried_until_a_re_export_gives_it(
    settings: Any, sessions: Any, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 1, 22, 8, 30, tzinfo=UTC))
    pipeline = Pipeline(settings, sessions, clock, "w1")
    ingest(pipeline, tmp_path, "dm.csv", DM)
    ingest(pipeline, tmp_path, "ex.csv", EX)
    ingest(pipeline, tmp_path, "ae1.csv", HEAD + NON_SERIOUS + SAE.format(aware=""))
    assert awareness_queries(pipeline) == [("open", "ae1.csv", 2, "query", "01-001", REASON)]

    clock.advance(days=1)  # the same export again: still the one open query
    ingest(pipeline, tmp_path, "ae2.csv", HEAD + NON_SERIOUS + SAE.format(aware=""))
    assert [q[:2] for q in awareness_queries(pipeline)] == [("open", "ae1.csv")]

    clock.advance(days=1)  # the site answers
    ingest(pipeline, tmp_path, "ae3.csv", HEAD + NON_SERIOUS + SAE.format(aware="2026-01-21"))
    assert [q[:2] for q in awareness_queries(pipeline)] == [("resolved", "ae1.csv")]
    # The stored clock now runs from the date the site gave (a new version), so the SAE
    # listing and the closed query agree; no follow-up email is sent for it.
    from aewatch.models import AdverseEvent, AeVersion, Alert

    with pipeline.sessions() as session:
        current = session.scalars(
            select(AeVersion)
            .join(AdverseEvent, AdverseEvent.id == AeVersion.ae_pk)
            .where(AdverseEvent.ae_key == "AE-1", AeVersion.is_current, AeVersion.serious)
        ).one()
        kinds = session.scalars(select(Alert.kind).where(Alert.kind.like("sae%"))).all()
    assert (current.version, current.aware_at_supplied) == (2, True)
    assert current.aware_at.replace(tzinfo=UTC) == datetime(2026, 1, 21, tzinfo=UTC)
    assert kinds == ["sae-initial"]


def test_an_implausible_awareness_date_has_its_own_query_not_a_second_one(
    settings: Any, sessions: Any, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 1, 22, 8, 30, tzinfo=UTC))
    pipeline = Pipeline(settings, sessions, clock, "w1")
    ingest(pipeline, tmp_path, "dm.csv", DM)
    ingest(pipeline, tmp_path, "ae.csv", HEAD + SAE.format(aware="2027-01-21"))
    ((state, _, _, kind, _, reason),) = awareness_queries(pipeline)
    assert (state, kind) == ("open", "query")
    assert reason.startswith("awareness date AEAWDTC '2027-01-21' is in the future")


def test_the_alert_and_the_sae_listing_say_the_clock_runs_from_receipt(
    settings: Any, sessions: Any, tmp_path: Path, smtp_server: Any
) -> None:
    from aewatch.reports.datacut import DataCut
    from aewatch.reports.sections import compute_sections
    from aewatch.reports.snapshot import load_snapshot

    settings = replace(settings, smtp=smtp_server.settings())
    clock = ManualClock(datetime(2026, 1, 22, 8, 30, tzinfo=UTC))
    pipeline = Pipeline(settings, sessions, clock, "w1")
    for name, text in (("dm.csv", DM), ("ex.csv", EX)):
        ingest(pipeline, tmp_path, name, text)
    ingest(pipeline, tmp_path, "ae.csv", HEAD + SAE.format(aware=""))
    drain(sessions, settings, clock, worker_id="w1")
    (mail,) = [r.message for r in smtp_server.received if r.message["Subject"].startswith("[SAE]")]
    assert f"({NOTE})" in mail.get_body(("plain",)).get_content()
    with sessions() as session:
        snap = load_snapshot(session, 1, DataCut(clinical_day=datetime(2026, 1, 31).date()))
    tabs = compute_sections(
        snap, settings, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    )
    listing = tabs.frames["sae_listing"]
    assert listing[["subject_id", "awareness"]].values.tolist() == [
        ["01-001", "not supplied — clock from receipt"]  # under "Awareness date"
    ]
    assert listing["hours_aware_to_recorded"].isna().all(), "never 0.0 h"
