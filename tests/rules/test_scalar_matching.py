"""`aewatch status` matches events one at a time (no pandas): the same verdict as the
vectorised matching of the ingest transaction, on every kind of cell sites send."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from aewatch.safety.rules import parse_rule

RULES = [
    parse_rule({"name": "g3", "method": "fixed", "k": 1, "window_days": 90}, n_max=36),
    parse_rule(
        {
            "name": "either-g2-serious",
            "method": "fixed",
            "k": 1,
            "window_days": 90,
            "min_grade": 2,
            "attribution_to": "either",
            "missing_attribution": "unrelated",
            "serious_only": True,
            "terms": ["Ascites", " fatigue "],
        },
        n_max=36,
    ),
    parse_rule(
        {
            "name": "both-soc",
            "method": "fixed",
            "k": 1,
            "window_days": 90,
            "min_grade": 4,
            "attribution_to": "both",
            "socs": ["Hepatobiliary disorders"],
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
    parse_rule(
        {
            "name": "g5-or-rild",
            "method": "fixed",
            "k": 1,
            "window_days": 90,
            "min_grade": 5,
            "derived": ["RILD (non-classic)"],
        },
        n_max=36,
    ),
]
words = st.sampled_from(
    [None, "", " ", "possible", "PROBABLE ", "unrelated", "Unlikely", "yes", "definite"]
)
events = st.fixed_dictionaries(
    {
        "subject_id": st.just("01-001"),
        "onset": st.just(pd.Timestamp("2026-02-01", tz="UTC")),
        "grade": st.one_of(st.none(), st.integers(0, 5)),
        "ctcae_term": st.sampled_from([None, "Ascites", "FATIGUE", "Nausea", "RILD (classic)"]),
        "ctcae_soc": st.sampled_from([None, "Hepatobiliary disorders", "hepatobiliary disorders "]),
        "rt_relation": words,
        "systemic_relation": words,
        "serious": st.booleans(),
        "derived": st.sampled_from([None, "", " ", "RILD (classic)", "RILD (non-classic) "]),
    }
)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.lists(events, min_size=1, max_size=8))
def test_one_event_at_a_time_matches_as_the_vectorised_rule(rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    frame["grade"] = pd.array(frame["grade"], dtype="Int64")
    for rule in RULES:
        assert [rule.matches_event(r) for r in rows] == list(rule.matches_events(frame)), rule.name
