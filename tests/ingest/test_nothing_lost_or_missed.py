"""Regressions from an independent review: ways a file, a row or an SAE alert could be
lost, delayed or duplicated."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from aewatch.models import AdverseEvent, AeVersion, Alert, SourceFile
from aewatch.pipeline import Pipeline

DM = "USUBJID,SITEID,RFXSTDTC\n01-001,01,2026-01-05\n"
HEAD = "USUBJID,AESEQ,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEOUT,AESTDTC\n"


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def alerts(pipeline: Pipeline, kind: str) -> list[Alert]:
    with pipeline.sessions() as session:
        return list(session.scalars(select(Alert).where(Alert.kind == kind)))


def test_a_corrupt_utf16_file_fails_alone_and_the_next_file_is_read(pipeline: Pipeline) -> None:
    inbox = pipeline.inbox
    inbox.ensure()
    write(inbox.root / "a_lb_site3.csv", b"\xff\xfeU\x00S\x00E")
    write(inbox.root / "b_dm.csv", DM)
    first, second = pipeline.ingest_next(), pipeline.ingest_next()
    assert first is not None and first.status == "failed" and "UTF-16" in (first.reason or "")
    assert second is not None and second.status == "done"
    assert inbox.orphans() == []


def test_a_very_long_file_name_is_still_filed(pipeline: Pipeline) -> None:
    inbox = pipeline.inbox
    inbox.ensure()
    write(inbox.root / ("dm_" + "x" * 240 + ".csv"), DM)
    assert pipeline.ingest_next().status == "done"  # type: ignore[union-attr]
    assert inbox.orphans() == [] and len(list(inbox.done.iterdir())) == 1


def test_a_fatal_outcome_without_any_seriousness_flag_still_raises_a_death_alert(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM)])
    ae = HEAD + "01-001,1,AE-1,LIVER FAILURE,Hepatic failure,4,,,FATAL,2026-02-01\n"
    pipeline.ingest_paths([write(tmp_path / "ae.csv", ae)])
    assert len(alerts(pipeline, "death")) == 1


def test_an_sae_of_a_subject_not_yet_in_dm_alerts_at_once_and_only_once(
    pipeline: Pipeline, clock, tmp_path: Path
) -> None:
    ae = HEAD + "01-001,1,AE-1,ASCITES,Ascites,3,Y,Y,,2026-02-01\n"
    received = clock.now()
    held = pipeline.ingest_paths([write(tmp_path / "ae.csv", ae)])[0]
    assert held.pending == 1
    assert len(alerts(pipeline, "sae-initial")) == 1
    clock.advance(days=5)
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM)])
    assert len(alerts(pipeline, "sae-initial")) == 1
    with pipeline.sessions() as session:
        version = session.scalars(select(AeVersion)).one()
    assert version.aware_at == received, "the clock starts when the site's file arrived"
    assert version.aware_at < clock.now() - timedelta(days=4)


def test_a_file_that_failed_can_be_sent_again_once_fixed(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    inbox = pipeline.inbox
    inbox.ensure()
    text = "USUBJID,SITEID\n01-001,01\n"
    write(inbox.root / "export_0320.csv", text)  # no DOMAIN, name says nothing: fails
    assert pipeline.ingest_next().status == "failed"  # type: ignore[union-attr]
    write(inbox.root / "dm_0320.csv", text)  # the same bytes, renamed as the reason asked
    assert pipeline.ingest_next().status == "done"  # type: ignore[union-attr]
    with pipeline.sessions() as session:
        source = session.scalars(select(SourceFile)).one()
    assert (source.status, source.name) == ("done", "dm_0320.csv")


def test_an_earlier_log_form_record_cannot_make_an_sae_look_downgraded(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM)])
    first = HEAD + "01-001,1,AE-1,ASCITES,Ascites,3,Y,Y,,2026-02-10\n"
    pipeline.ingest_paths([write(tmp_path / "ae1.csv", first)])
    both = HEAD + (
        "01-001,1,AE-1,ASCITES,Ascites,2,N,N,,2026-02-01\n"
        "01-001,2,AE-1,ASCITES,Ascites,3,Y,Y,RECOVERING/RESOLVING,2026-02-10\n"
    )
    outcome = pipeline.ingest_paths([write(tmp_path / "ae2.csv", both)])[0]
    assert outcome.accepted == 2
    with pipeline.sessions() as session:
        aes = session.scalars(select(AdverseEvent)).all()
        current = session.scalars(select(AeVersion).where(AeVersion.is_current)).one()
    assert len(aes) == 1
    assert (current.grade, current.serious, str(current.onset_on)) == (3, True, "2026-02-01")
    assert len(alerts(pipeline, "sae-initial")) == 1


def test_renumbered_aeseq_is_not_a_new_version(pipeline: Pipeline, tmp_path: Path) -> None:
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM)])
    row = "01-001,{seq},AE-7,NAUSEA,Nausea,1,N,N,,2026-02-01\n"
    pipeline.ingest_paths([write(tmp_path / "a.csv", HEAD + row.format(seq=1))])
    again = pipeline.ingest_paths([write(tmp_path / "b.csv", HEAD + row.format(seq=4))])[0]
    assert again.versions == 0


def test_an_overlong_domain_value_is_quarantined_and_the_sae_beside_it_alerts(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM)])
    text = (
        "DOMAIN,"
        + HEAD
        + (
            "ADVERSEVT,01-001,1,AE-1,X,X,1,N,N,,2026-02-01\n"
            "AE,01-001,2,AE-2,ASCITES,Ascites,3,Y,Y,,2026-02-01\n"
        )
    )
    outcome = pipeline.ingest_paths([write(tmp_path / "ae.csv", text)])[0]
    assert (outcome.status, outcome.quarantined, outcome.accepted) == ("done", 1, 1)
    assert len(alerts(pipeline, "sae-initial")) == 1


def test_a_lab_re_export_with_new_lbseq_and_seconds_updates_the_same_rows(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    from aewatch.models import LabResult

    pipeline.ingest_paths([write(tmp_path / "dm.csv", DM)])
    head = "USUBJID,LBSEQ,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"
    first = head + "01-001,1,ALT,30,U/L,0,40,2026-02-01T10:30\n"
    again = head + "01-001,17,ALT,35,U/L,0,40,2026-02-01T10:30:00\n"
    pipeline.ingest_paths([write(tmp_path / "lb1.csv", first)])
    pipeline.ingest_paths([write(tmp_path / "lb2.csv", again)])
    with pipeline.sessions() as session:
        values = session.scalars(select(LabResult.value)).all()
    assert values == [35.0]


def test_a_dm_re_export_that_empties_a_death_date_keeps_it_but_a_partial_one_keeps_it_too(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """A death is never cleared by an export alone: it is kept and queried until a person
    confirms the removal (tests/ingest/test_deaths_reconciled.py)."""
    from aewatch.models import QuarantineEntry, Subject

    head = "USUBJID,SITEID,RFXSTDTC,DTHDTC\n"
    pipeline.ingest_paths([write(tmp_path / "dm1.csv", head + "01-001,01,2026-01-05,2026-03-01\n")])
    pipeline.ingest_paths([write(tmp_path / "dm2.csv", "USUBJID,SEX\n01-001,F\n")])
    with pipeline.sessions() as session:
        assert str(session.scalars(select(Subject.died_on)).one()) == "2026-03-01"
    pipeline.ingest_paths([write(tmp_path / "dm3.csv", head + "01-001,01,2026-01-05,\n")])
    with pipeline.sessions() as session:
        subject = session.scalars(select(Subject)).one()
        removal = session.scalars(
            select(QuarantineEntry).where(QuarantineEntry.record_key == "DEATH-REMOVED")
        ).one()
    assert str(subject.died_on) == "2026-03-01" and subject.sex == "F"
    assert (removal.state, removal.field, removal.value) == ("open", "DTHDTC", "2026-03-01")
