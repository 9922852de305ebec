"""A synthetic 36-patient trial evaluated against the grade >= 3 RT-related Pocock rule.

Patient i (P01…P36) starts RT on day 7·i and finishes 14 days later; the 90-day window
ends 104 days after the start. Toxic patients have a related grade 3 ulcer the day before
their window ends, so patients become evaluable in subject order. The trial boundary
(safety_domain.md §4.3): n=2 -> 2; 3-5 -> 3; 6-8 -> 4; 9-12 -> 5; ...
Toxicities in P03, P06, P09, P11 and P12 cross at n = 12 (5 >= 5) and never earlier.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from aewatch.safety.evaluation import evaluate_rule, what_if
from aewatch.safety.rules import StoppingRule, parse_rule

START = pd.Timestamp("2024-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)
TOXIC = (3, 6, 9, 11, 12)


def _rule(**changes: Any) -> StoppingRule:
    table = {
        "name": "grade3-rt-related",
        "method": "pocock",
        "p0": 0.15,
        "p1": 0.30,
        "alpha": 0.10,
        "window_days": 90,
        **changes,
    }
    return parse_rule(table, "stopping_rule[0]", n_max=36)


def _rt_start(i: int) -> pd.Timestamp:
    return START + 7 * i * DAY


def _window_end(i: int) -> pd.Timestamp:
    return _rt_start(i) + 104 * DAY


def _trial(toxic: tuple[int, ...] = TOXIC) -> tuple[pd.DataFrame, pd.DataFrame]:
    patients = pd.DataFrame(
        {
            "subject_id": f"P{i:02d}",
            "rt_start": _rt_start(i),
            "rt_end": _rt_start(i) + 14 * DAY,
            "last_contact": _rt_start(i) + 400 * DAY,
            "died_on": pd.NaT,
            "withdrawn_on": pd.NaT,
        }
        for i in range(1, 37)
    )
    for column in ("rt_start", "rt_end", "last_contact", "died_on", "withdrawn_on"):
        patients[column] = pd.to_datetime(patients[column], utc=True).astype("datetime64[ns, UTC]")
    events = pd.DataFrame(
        {
            "subject_id": f"P{i:02d}",
            "onset": _window_end(i) - DAY,
            "grade": 3,
            "ctcae_term": "Gastric ulcer",
            "ctcae_soc": "Gastrointestinal disorders",
            "rt_relation": "probable",
            "systemic_relation": "unlikely",
            "serious": True,
            "derived": None,
        }
        for i in toxic
    )
    events["grade"] = events["grade"].astype("Int64")
    return patients, events


def _set(patients: pd.DataFrame, subject: str, **values: Any) -> pd.DataFrame:
    patients = patients.copy()
    for column, value in values.items():
        patients.loc[patients["subject_id"] == subject, column] = value
    return patients


def _add_event(events: pd.DataFrame, **values: Any) -> pd.DataFrame:
    row = events.iloc[[0]].copy()
    for column, value in values.items():
        row[column] = value
    return pd.concat([events, row], ignore_index=True)


def test_toxicities_cross_the_boundary_at_the_twelfth_evaluable_patient() -> None:
    patients, events = _trial()
    status = evaluate_rule(_rule(), patients, events, _window_end(12))
    assert status.state == "crossed"
    assert (status.crossed_at_n, status.crossed_subject) == (12, "P12")
    assert status.crossed_on == _window_end(12) - DAY
    assert (status.evaluable_n, status.toxic_n, status.stop_at) == (12, 5, 5)
    assert status.toxic_subjects == ("P03", "P06", "P09", "P11", "P12")


def test_before_the_twelfth_toxicity_the_rule_is_approaching_not_crossed() -> None:
    patients, events = _trial()
    status = evaluate_rule(_rule(), patients, events, _window_end(11))
    assert status.state == "approaching"
    assert (status.evaluable_n, status.toxic_n, status.stop_at, status.cushion) == (11, 4, 5, 0)
    assert what_if(status, 1)


def test_a_trial_with_room_left_is_ok_and_says_how_many_toxicities_it_can_absorb() -> None:
    patients, events = _trial(toxic=(3,))
    status = evaluate_rule(_rule(), patients, events, _window_end(10) + DAY)
    assert status.state == "ok"
    assert (status.evaluable_n, status.toxic_n, status.stop_at, status.cushion) == (10, 1, 5, 3)
    # Each extra toxicity is a new patient and the boundary rises with n: 5 are needed.
    assert not what_if(status, 4)
    assert what_if(status, 5)


def test_nothing_is_approaching_before_the_first_toxicity() -> None:
    patients, events = _trial(toxic=(30,))
    status = evaluate_rule(_rule(), patients, events, _window_end(2))
    assert (status.evaluable_n, status.toxic_n, status.cushion) == (2, 0, 1)
    assert status.state == "ok"


def test_crossed_stays_crossed_when_later_patients_finish_without_toxicity() -> None:
    patients, events = _trial()
    status = evaluate_rule(_rule(), patients, events, _window_end(36) + DAY)
    assert (status.evaluable_n, status.toxic_n, status.stop_at) == (36, 5, 11)
    assert status.cushion == 5  # today's count is far from today's boundary...
    assert status.state == "crossed"  # ...but the trial should have stopped at n = 12
    assert status.crossed_at_n == 12


def test_a_patient_still_inside_the_window_is_pending_not_evaluable() -> None:
    patients, events = _trial()
    status = evaluate_rule(_rule(), patients, events, _window_end(12))
    assert "P13" in status.pending_subjects
    assert "P13" not in status.evaluable_subjects
    assert status.pending_subjects[0] == "P13"


def test_a_patient_not_followed_to_the_end_of_the_window_stays_pending() -> None:
    patients, events = _trial()
    patients = _set(patients, "P02", last_contact=_window_end(2) - 10 * DAY)
    status = evaluate_rule(_rule(), patients, events, _window_end(5) + DAY)
    assert "P02" in status.pending_subjects
    assert status.evaluable_n == 4


def test_a_patient_who_died_early_without_toxicity_is_excluded_by_default() -> None:
    patients, events = _trial()
    patients = _set(patients, "P04", died_on=_rt_start(4) + 30 * DAY)
    status = evaluate_rule(_rule(), patients, events, _window_end(12))
    assert "P04" in status.excluded_subjects
    assert "P04" not in status.evaluable_subjects + status.pending_subjects
    # One fewer non-toxic patient: 5 toxicities among 11 evaluable, still crossed (b = 5).
    assert (status.evaluable_n, status.toxic_n, status.crossed_at_n) == (11, 5, 11)


def test_with_the_include_policy_an_early_death_counts_as_a_non_toxic_patient() -> None:
    patients, events = _trial()
    patients = _set(patients, "P04", died_on=_rt_start(4) + 30 * DAY)
    status = evaluate_rule(_rule(evaluability="include"), patients, events, _window_end(12))
    assert status.excluded_subjects == ()
    assert status.evaluable_subjects[0] == "P04"  # evaluable on the day of death
    assert (status.evaluable_n, status.crossed_at_n) == (12, 12)


def test_a_related_death_is_a_toxicity_not_an_early_exit() -> None:
    patients, events = _trial(toxic=(3,))
    died = _rt_start(5) + 40 * DAY
    patients = _set(patients, "P05", died_on=died)
    events = _add_event(events, subject_id="P05", onset=died, grade=5)
    status = evaluate_rule(_rule(), patients, events, _window_end(6))
    assert "P05" in status.toxic_subjects
    assert status.excluded_subjects == ()


def test_events_outside_the_window_or_unrelated_do_not_count() -> None:
    patients, events = _trial(toxic=(3,))
    events = _add_event(events, subject_id="P01", onset=_window_end(1) + DAY)
    events = _add_event(events, subject_id="P02", rt_relation="unrelated")
    events = _add_event(events, subject_id="P04", grade=2)
    events = _add_event(events, subject_id="P05", onset=_rt_start(5) - DAY)
    status = evaluate_rule(_rule(), patients, events, _window_end(8))
    assert status.toxic_subjects == ("P03",)


def test_events_after_the_cut_off_are_not_yet_known() -> None:
    patients, events = _trial()
    status = evaluate_rule(_rule(), patients, events, _window_end(3) - 2 * DAY)
    assert status.toxic_subjects == ()
    assert status.evaluable_subjects == ("P01", "P02")


def test_patients_without_radiotherapy_are_not_at_risk() -> None:
    patients, events = _trial()
    patients = _set(patients, "P36", rt_start=pd.NaT, rt_end=pd.NaT)
    status = evaluate_rule(_rule(), patients, events, _window_end(36) + DAY)
    assert "P36" not in status.evaluable_subjects + status.pending_subjects
    assert status.evaluable_n == 35


def test_same_day_ties_put_the_toxic_patient_first() -> None:
    patients, events = _trial(toxic=(2,))
    events.loc[0, "onset"] = _window_end(1)  # P02's toxicity on the day P01's window ends
    status = evaluate_rule(_rule(), patients, events, _window_end(2) + DAY)
    assert status.evaluable_subjects == ("P02", "P01")


def test_evaluating_twice_gives_the_same_status() -> None:
    patients, events = _trial()
    as_of = _window_end(20)
    first = evaluate_rule(_rule(), patients, events, as_of)
    second = evaluate_rule(_rule(), patients.copy(), events.copy(), as_of)
    assert first == second


def test_pending_patients_are_flagged_when_the_crossing_is_certain_or_possible() -> None:
    patients, events = _trial(toxic=(1, 2, 3, 4))
    status = evaluate_rule(_rule(), patients, events, _window_end(4) + DAY)
    assert (status.evaluable_n, status.toxic_n) == (4, 4)
    assert status.state == "crossed"
    assert status.crossed_at_n == 2
    assert status.could_cross_with_pending
    assert not status.crossed_regardless_of_pending


def test_naive_and_aware_cut_offs_agree() -> None:
    patients, events = _trial()
    aware = evaluate_rule(_rule(), patients, events, _window_end(12))
    naive = evaluate_rule(_rule(), patients, events, _window_end(12).tz_localize(None))
    assert aware == naive


def test_missing_columns_are_reported() -> None:
    patients, events = _trial()
    with pytest.raises(ValueError, match="last_contact"):
        evaluate_rule(_rule(), patients.drop(columns="last_contact"), events, _window_end(12))


def test_a_trial_without_any_event_yet_is_ok() -> None:
    patients, _ = _trial()
    status = evaluate_rule(_rule(), patients, pd.DataFrame(), _window_end(5) + DAY)
    assert (status.state, status.evaluable_n, status.toxic_n) == ("ok", 5, 0)
