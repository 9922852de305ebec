"""Expectedness by severity, not by term alone (ICH E2A II.C): an ulcer is expected after
liver RT up to grade 3, so a fatal, probably RT-related duodenal ulcer is a SUSAR
candidate on the 7-day clock, while a grade 3 one is an ordinary SAE."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aewatch.alerts.sender import drain
from aewatch.clock import ManualClock
from aewatch.config import ConfigError, ExpectedEvent, ExpectedEvents, settings_from_mapping
from aewatch.models import Alert
from aewatch.pipeline import Pipeline
from aewatch.safety.sae import susar_assessment

DM = "USUBJID,SITEID,RFXSTDTC\n07-001,07,2026-01-05\n07-002,07,2026-01-05\n"
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "07-001,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-09\n"
    "07-002,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-09\n"
)
AE = (
    "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AESDTH,AEOUT,AEREL,AESTDTC,AEAWDTC\n"
    "07-001,AE-1,ULCER,Duodenal ulcer,3,Y,Y,N,RECOVERING/RESOLVING,PROBABLE,2026-01-20,"
    "2026-01-21\n"
    "07-002,AE-1,ULCER,Duodenal ulcer,5,Y,Y,Y,FATAL,PROBABLE,2026-01-20,2026-01-21\n"
)


KINDS = ("sae-initial", "death")


def test_a_fatal_rt_related_duodenal_ulcer_is_a_susar_candidate_on_the_7_day_clock(
    settings: Any, sessions: Any, tmp_path: Path, smtp_server: Any
) -> None:
    settings = replace(settings, smtp=smtp_server.settings())
    clock = ManualClock(datetime(2026, 1, 22, 8, tzinfo=UTC))
    paths = []
    for name, text in (("dm.csv", DM), ("ex.csv", EX), ("ae.csv", AE)):
        paths.append(tmp_path / name)
        paths[-1].write_text(text, encoding="utf-8")
    Pipeline(settings, sessions, clock, "w1").ingest_paths(paths)
    drain(sessions, settings, clock, worker_id="w1")
    with sessions() as session:
        initial = {
            a.subject_id: a for a in session.scalars(select(Alert).where(Alert.kind.in_(KINDS)))
        }
    fatal = initial["07-002"].payload["context"]["clock"]
    assert fatal["susar_possible"] and fatal["susar_treatments"] == ["radiotherapy"]
    assert fatal["susar_reasons"] == [
        "radiotherapy: fatal Duodenal ulcer; expected up to grade 3, not fatal or life-threatening"
    ]
    due = {d["key"]: d["due_at"] for d in fatal["deadlines"]}
    assert due["susar-7d"] == "2026-01-28T00:00:00+00:00"  # aware 2026-01-21 + 7 days
    assert "susar-15d" not in due
    grade3 = initial["07-001"].payload["context"]["clock"]
    assert not grade3["susar_possible"] and grade3["susar_reasons"] == []
    assert [d["key"] for d in grade3["deadlines"]] == ["sponsor-notification"]
    mails = {
        m["Subject"].split("] ")[1].split(" ")[0]: m.get_body(("plain",)).get_content()
        for m in (r.message for r in smtp_server.received)
        if m["Subject"].startswith(("[SAE]", "[DEATH]"))
    }
    assert (
        "May be a SUSAR: related to radiotherapy and unexpected (radiotherapy: fatal "
        "Duodenal ulcer; expected up to grade 3, not fatal or life-threatening); fatal or "
        "life-threatening, so the 7-day clock applies." in " ".join(mails["07-002"].split())
    )
    assert "May be a SUSAR" not in mails["07-001"]
    assert "Not a SUSAR candidate" in mails["07-001"]


def _facts(make_facts: Any, **changes: Any) -> Any:
    return make_facts(ctcae_term="Duodenal ulcer", rt_relation="probable", **changes)


def test_an_expected_term_is_unexpected_only_beyond_the_severity_its_entry_lists(
    make_facts: Any,
) -> None:
    entries = (
        ExpectedEvent("Duodenal ulcer", max_grade=3),
        ExpectedEvent("Ascites", max_grade=4, outcomes=("life-threatening",)),
    )

    def unexpected(facts: Any) -> bool:
        return susar_assessment(facts, entries, ()).possible

    assert not unexpected(_facts(make_facts, grade=3))
    assert unexpected(_facts(make_facts, grade=4))
    # A fatal outcome is unexpected even where the site left the grade at 3.
    assert unexpected(_facts(make_facts, grade=3, outcome="FATAL"))
    assert unexpected(_facts(make_facts, grade=3, life_threatening=True))
    ascites = {"ctcae_term": "Ascites", "rt_relation": "probable"}
    assert not unexpected(make_facts(**ascites, grade=4, life_threatening=True))
    assert unexpected(make_facts(**ascites, grade=5, death=True))
    # The short form states no severity: a fatal event of a bare term stays expected.
    assert not susar_assessment(
        _facts(make_facts, grade=5, death=True), ("Duodenal ulcer",), ()
    ).possible


def test_both_forms_of_expected_events_load_and_a_bad_entry_stops_start_up() -> None:
    base = {"trial": {"id": "T"}}
    loaded = settings_from_mapping(
        base
        | {
            "expected_events": {
                "radiotherapy": [
                    "Nausea",
                    {"term": "Duodenal ulcer", "max_grade": 3},
                    {"term": "Hepatic failure", "max_grade": 5, "outcomes": ["Fatal"]},
                ],
                "systemic": ["Hypertension"],
            }
        },
        env={},
    )
    assert loaded.expected == ExpectedEvents(
        radiotherapy=(
            ExpectedEvent("Nausea"),
            ExpectedEvent("Duodenal ulcer", 3, ()),
            ExpectedEvent("Hepatic failure", 5, ("fatal",)),
        ),
        systemic=(ExpectedEvent("Hypertension"),),
    )
    from_env = settings_from_mapping(
        base, env={"AEWATCH_EXPECTED_EVENTS__SYSTEMIC": "Hypertension, Diarrhea"}
    )
    assert [e.term for e in from_env.expected.systemic] == ["Hypertension", "Diarrhea"]
    for entry, message in (
        ({"term": "Duodenal ulcer", "max_grade": 6}, "max_grade: expected 1-5, got 6"),
        ({"term": "Duodenal ulcer", "outcomes": ["deadly"]}, "outcomes: unknown ['deadly']"),
        ({"term": "Duodenal ulcer", "max_grade": 5}, 'list "fatal" in outcomes'),
        ({"term": "Duodenal ulcer", "grade": 3}, "unknown key(s) ['grade']"),
    ):
        with pytest.raises(ConfigError, match=re.escape(message)):
            settings_from_mapping(base | {"expected_events": {"radiotherapy": [entry]}}, env={})
