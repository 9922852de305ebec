"""Rule tables from the trial config: parsing, error messages, event selection."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aewatch.safety.boundaries import fixed, pocock
from aewatch.safety.rules import StoppingRule, parse_rule

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "nct06261047.toml"

GRADE3 = {
    "name": "grade3-rt-related",
    "method": "pocock",
    "p0": 0.15,
    "p1": 0.30,
    "alpha": 0.10,
    "window_days": 90,
}


def _rule(**changes: Any) -> StoppingRule:
    return parse_rule({**GRADE3, **changes}, "stopping_rule[0]", n_max=36)


def _events(*rows: dict[str, Any]) -> pd.DataFrame:
    base = {
        "subject_id": "P01",
        "onset": pd.Timestamp("2024-03-01", tz="UTC"),
        "grade": 3,
        "ctcae_term": "Gastric ulcer",
        "ctcae_soc": "Gastrointestinal disorders",
        "rt_relation": "probable",
        "systemic_relation": "unlikely",
        "serious": False,
        "derived": None,
    }
    frame = pd.DataFrame([{**base, **row} for row in rows])
    frame["grade"] = frame["grade"].astype("Int64")
    return frame


def test_a_minimal_pocock_rule_gets_the_documented_defaults() -> None:
    rule = _rule()
    assert rule.min_grade == 3
    assert rule.attribution == ("possible", "probable", "definite")
    assert rule.attribution_to == "rt"
    assert rule.evaluability == "exclude"
    assert rule.approaching_margin == 1
    assert rule.n_max == 36
    assert rule.boundary() == pocock(0.15, 0.30, 36, 0.10)


def test_boundary_is_computed_once_per_design() -> None:
    assert _rule().boundary() is _rule(description="same design").boundary()


def test_n_max_in_the_table_overrides_the_planned_enrolment() -> None:
    assert _rule(n_max=30).boundary().n_max == 30


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"p0": "high"}, "stopping_rule[0].p0: expected a number between 0 and 1, got 'high'"),
        ({"p0": 1.5}, "stopping_rule[0].p0: expected a number between 0 and 1"),
        ({"p1": 0.10}, "stopping_rule[0].p1: expected a rate above p0=0.15"),
        ({"min_grade": 6}, "stopping_rule[0].min_grade: expected an integer from 1 to 5"),
        ({"min_grade": True}, "stopping_rule[0].min_grade: expected an integer from 1 to 5"),
        ({"attribution": ["maybe"]}, "stopping_rule[0].attribution: expected a non-empty list"),
        ({"attribution_to": "surgery"}, "stopping_rule[0].attribution_to: expected one of rt"),
        ({"evaluability": "drop"}, "stopping_rule[0].evaluability: expected one of exclude"),
        ({"window_days": 0}, "stopping_rule[0].window_days: expected an integer >= 1"),
        ({"serious_only": "yes"}, "stopping_rule[0].serious_only: expected true or false"),
        ({"terms": "Gastric ulcer"}, "stopping_rule[0].terms: expected a list of non-empty"),
        ({"method": "sprt"}, "stopping_rule[0].method: expected one of pocock, obf, bayes"),
        ({"windows_days": 90}, "stopping_rule[0].windows_days: unknown key"),
        ({"threshold": 0.9}, "stopping_rule[0].threshold: not used by method 'pocock'"),
        ({"every": 40}, "stopping_rule[0]: every=40 is larger than n_max=36"),
        ({"looks": [12, 24, 36], "every": 2}, "stopping_rule[0].looks: give either looks"),
    ],
)
def test_a_wrong_key_is_named_with_what_was_expected(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        _rule(**change)
    assert str(caught.value).startswith(message)


def test_missing_required_keys_are_named() -> None:
    table = {k: v for k, v in GRADE3.items() if k != "alpha"}
    with pytest.raises(ValueError, match=r"stopping_rule\[0\]\.alpha: required"):
        parse_rule(table, "stopping_rule[0]", n_max=36)
    with pytest.raises(ValueError, match=r"\.n_max: expected an integer"):
        parse_rule(GRADE3, "stopping_rule[0]")


def test_bayesian_and_fixed_rules_parse_with_their_own_keys() -> None:
    bayes = parse_rule(
        {"name": "b", "method": "bayes", "prior": [0.6, 2.4], "p_max": 0.2, "threshold": 0.9,
         "min_n": 3, "window_days": 90},
        "stopping_rule[1]",
        n_max=36,
    )  # fmt: skip
    assert bayes.boundary().looks[0] == 3
    first = parse_rule(
        {"name": "g5", "method": "fixed", "k": 1, "min_grade": 5, "window_days": 365},
        "stopping_rule[2]",
        n_max=36,
    )
    assert first.boundary() == fixed(1, None, 36)


def test_the_trial_rules_parse_into_three_rules_with_the_documented_boundaries() -> None:
    tables = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["stopping_rule"]
    rules = [parse_rule(t, f"stopping_rule[{i}]", n_max=36) for i, t in enumerate(tables)]
    assert [r.name for r in rules] == ["grade3-rt-related", "rild", "grade5-rt-related"]
    grade3, rild, grade5 = (r.boundary() for r in rules)
    assert grade3 == pocock(0.15, 0.30, 36, 0.10)
    assert [rild.stop_at_n(n) for n in (1, 2, 3, 4, 7, 8, 13, 14, 19, 20, 25, 26, 32, 33, 36)] == [
        None, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8,
    ]  # fmt: skip
    assert set(grade5.stop_at) == {1}


def test_the_trial_config_loads_its_three_rules() -> None:
    from aewatch.config import load_settings

    settings = load_settings(CONFIG, env={})
    assert [r.name for r in settings.stopping_rules] == [
        "grade3-rt-related", "rild", "grade5-rt-related",
    ]  # fmt: skip


def test_only_related_grade_3_or_worse_events_count_for_the_grade3_rule() -> None:
    events = _events(
        {"grade": 3},
        {"grade": 2},
        {"grade": 4, "rt_relation": "unlikely"},
        {"grade": 5, "rt_relation": "definite"},
        {"grade": 3, "rt_relation": None},  # not yet assessed: counts (conservative default)
        {"grade": 4, "derived": "RILD (non-classic)", "rt_relation": None},
    )
    assert _rule().matches_events(events).tolist() == [True, False, False, True, True, False]
    strict = _rule(missing_attribution="unrelated")
    assert strict.matches_events(events).tolist() == [True, False, False, True, False, False]


def test_attribution_to_systemic_either_or_both() -> None:
    events = _events(
        {"rt_relation": "possible", "systemic_relation": "unrelated"},
        {"rt_relation": "unrelated", "systemic_relation": "probable"},
        {"rt_relation": "definite", "systemic_relation": "possible"},
    )
    assert _rule(attribution_to="systemic").matches_events(events).tolist() == [False, True, True]
    assert _rule(attribution_to="either").matches_events(events).tolist() == [True, True, True]
    assert _rule(attribution_to="both").matches_events(events).tolist() == [False, False, True]


def test_terms_socs_and_seriousness_narrow_the_selection() -> None:
    events = _events(
        {"ctcae_term": "Gastric ulcer", "serious": True},
        {"ctcae_term": "Duodenal ulcer", "serious": False},
        {"ctcae_term": "Fatigue", "ctcae_soc": "General disorders", "serious": True},
    )
    ulcers = _rule(terms=["gastric ulcer", "Duodenal ulcer"])
    assert ulcers.matches_events(events).tolist() == [True, True, False]
    gi = _rule(socs=["Gastrointestinal disorders"], serious_only=True)
    assert gi.matches_events(events).tolist() == [True, False, False]


def test_the_rild_rule_counts_only_the_named_derived_syndromes() -> None:
    rild = parse_rule(
        {"name": "rild", "method": "pocock", "p0": 0.1, "p1": 0.2, "alpha": 0.1,
         "window_days": 90, "site_reported": False,
         "derived": ["RILD (classic)", "RILD (non-classic)"]},
        "stopping_rule[1]",
        n_max=36,
    )  # fmt: skip
    events = _events(
        {"derived": "RILD (classic)", "grade": None, "rt_relation": None},
        {"derived": "RILD (non-classic)", "grade": None, "rt_relation": None},
        {"derived": "Potential Hy's law", "grade": None, "rt_relation": None},
        {"grade": 4},
    )
    assert rild.matches_events(events).tolist() == [True, True, False, False]
