"""`aewatch status` reads through the DB-API driver and evaluates without pandas; it must
say exactly what the ingest transaction's reader and evaluation say, on both databases,
at every knowledge time (deaths and losses to follow-up in DS, late-recorded subjects,
implausible labs included)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from aewatch.commands.status import current_status
from aewatch.dbapi import connect
from aewatch.models import Disposition, LabResult
from aewatch.safety.evaluation import evaluate_rows, evaluate_rule
from aewatch.safety.rules import parse_rule
from aewatch.store import rule_inputs, status_reads
from aewatch.trials import ensure_trial
from reports.conftest import GEN, Builder, ae_version, at

RULES = [
    parse_rule(
        {
            "name": "g2",
            "method": "pocock",
            "p0": 0.15,
            "p1": 0.3,
            "alpha": 0.1,
            "window_days": 60,
            "min_grade": 2,
        },
        n_max=36,
    ),
    parse_rule(
        {
            "name": "g2-include",
            "method": "fixed",
            "k": 2,
            "window_days": 20,
            "min_grade": 2,
            "evaluability": "include",
            "attribution_to": "either",
        },
        n_max=36,
    ),
    parse_rule(
        {
            "name": "rild",
            "method": "fixed",
            "k": 1,
            "window_days": 90,
            "derived": ["RILD (classic)"],
            "site_reported": False,
        },
        n_max=36,
    ),
]
CUTS = [datetime(2026, 1, 20, 8, tzinfo=UTC) + timedelta(days=9 * i) for i in range(8)]
KNOWN = [None, at("2026-02-01"), at("2026-02-22", 12)]


def _fields(status: Any) -> dict[str, Any]:
    return {f.name: getattr(status, f.name) for f in dataclasses.fields(status)}


def _add_more(sessions: Any, settings: Any) -> None:
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, at("2026-01-01"))
        b = Builder(session, trial.id)
        b.subject("Q01", "S09", "2026-01-07", died_on=datetime(2026, 2, 3).date())
        b.rt("Q01", 5, 8.0, "2026-01-12", "2026-01-19")
        b.subject("Q02", "S09", "2026-01-08")
        b.rt("Q02", 3, 10.0, "2026-01-14", "2026-01-18")
        b.ae("Q02", "Q-1", [ae_version("Fatigue", GEN, 3, "2026-01-25", "2026-01-26")])
        b.ae(
            "Q01",
            "Q-2",
            [ae_version("RILD (classic)", None, None, "2026-01-30", "2026-01-31")],
            origin="syndrome",
        )
        # Recorded late: enrolled in January, first known on 02-15.
        b.subject("Q03", "S09", "2026-01-09", created_at=at("2026-02-15"))
        b.rt("Q03", 3, 10.0, "2026-01-15", "2026-01-17")
        b.ae("Q03", "Q-3", [ae_version("Fatigue", GEN, 2, "2026-01-28", "2026-02-15")])
        # Onset known to the month, and that month holds the first RT day: it counts
        # from the RT day (emergent), not from the 1st of the month (before RT).
        b.subject("Q04", "S09", "2026-01-10")
        b.rt("Q04", 5, 8.0, "2026-01-20", "2026-01-24")
        partial = ae_version(
            "Fatigue",
            GEN,
            3,
            "2026-01-01",
            "2026-01-26",
            onset_until=date(2026, 1, 31),
            onset_precision="month",
        )
        b.ae("Q04", "Q-4", [partial])
        # DS only: Q02 lost to follow-up, Q03's death; one undated death is no date.
        for subject, key, term, kind, day, recorded in (
            ("Q02", "DISPOSITION EVENT|LOST", "LOST TO FOLLOW-UP", "lost to follow-up",
             "2026-02-05", "2026-02-20"),
            ("Q03", "DISPOSITION EVENT|DEATH", "DEATH", "death", "2026-02-12", "2026-02-21"),
            ("Q01", "DISPOSITION EVENT|DEATH", "DEATH", "death", None, "2026-02-21"),
        ):  # fmt: skip
            session.add(
                Disposition(
                    subject_pk=b.subjects[subject].id,
                    event_key=key,
                    category="DISPOSITION EVENT",
                    decoded_term=term,
                    disposition=kind,
                    start_on=date.fromisoformat(day) if day else None,
                    created_at=at(recorded),
                    updated_at=at(recorded),
                )
            )
        # A result dated next year is queried, and no contact.
        session.add(
            LabResult(
                subject_pk=b.subjects["Q02"].id,
                lab_key="Q02-ALT-2027",
                test_code="ALT",
                value=40.0,
                unit="U/L",
                collected_on=date(2027, 6, 1),
                implausible="collection date in the future",
                created_at=at("2026-02-10"),
                updated_at=at("2026-02-10"),
            )
        )


def test_status_reads_and_pure_evaluation_agree_with_the_ingest_path(
    sessions: Any, db_url: str, settings: Any, small_trial: Any
) -> None:
    _add_more(sessions, settings)
    compared, left_early = 0, 0
    for known_at in KNOWN:
        with sessions() as session:
            trial = ensure_trial(session, settings, at("2026-01-01")).id
            patients = rule_inputs.load_patients(session, trial, known_at)
            events = rule_inputs.load_events(session, trial, known_at)
        with connect(db_url) as db:
            rows = status_reads.load_patients(db, trial, known_at)
            light = status_reads.load_events(db, trial, None, known_at)
            prefiltered = status_reads.load_events(db, trial, 2, known_at)
        assert len(rows) == len(patients) and len(light) == len(events)
        for rule in RULES:
            for cut in CUTS:
                reference = evaluate_rule(rule, patients, events, cut)
                for source in (light, prefiltered):
                    onsets = [
                        (e["subject_id"], e["onset"], e["ae_key"])
                        for e in source
                        if rule.matches_event(e)
                    ]
                    evaluated = evaluate_rows(rule, rows, onsets, cut)
                    assert _fields(evaluated) == _fields(reference), (known_at, rule.name, cut)
                compared += reference.evaluable_n
                left_early += len(reference.excluded_subjects)
    assert compared > 0  # the cuts reach evaluable patients
    assert left_early > 0  # and patients who left early (DS)


def test_the_status_command_rows_come_from_the_same_evaluation(
    sessions: Any, db_url: str, settings: Any, small_trial: Any
) -> None:
    settings = dataclasses.replace(settings, stopping_rules=tuple(RULES))
    clock = SimpleNamespace(now=lambda: CUTS[-1])
    rows = current_status(SimpleNamespace(settings=settings, clock=clock), what_if=1)
    with sessions() as session:
        trial = ensure_trial(session, settings, at("2026-01-01")).id
        patients = rule_inputs.load_patients(session, trial)
        events = rule_inputs.load_events(session, trial)
    for rule, row in zip(RULES, rows, strict=True):
        reference = evaluate_rule(rule, patients, events, CUTS[-1])
        assert (row["rule"], row["state"], row["evaluable_n"], row["toxic_n"]) == (
            rule.name,
            reference.state,
            reference.evaluable_n,
            reference.toxic_n,
        )
        assert row["toxic_subjects"] == list(reference.toxic_subjects)
