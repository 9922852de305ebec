"""Treatment emergence on worsening, the pure rule (aewatch.safety.emergence): which
steps make the pre-RT AE and which the emergent worsening, for the grade histories sites
send."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aewatch.safety.emergence import (
    BY_AWARENESS,
    BY_RECEIPT,
    BY_RECORD,
    Version,
    aggregate,
    split_worsening,
    steps_of,
)

FIRST_RT = date(2026, 3, 2)


def record(onset: str, grade: int, precision: str = "day", **more: Any) -> dict[str, Any]:
    return {"onset_on": onset, "onset_precision": precision, "grade": grade, **more}


def version(*records: dict[str, Any], aware: str = "2026-03-20", supplied: bool = True) -> Version:
    return Version(list(records), datetime.fromisoformat(aware).replace(tzinfo=UTC), supplied)


def test_a_log_form_record_after_rt_above_the_pre_rt_grade_is_the_worsening() -> None:
    steps = steps_of(
        [version(record("2026-01-15", 2, rt_relation="unrelated"), record("2026-03-10", 3))]
    )
    split = split_worsening(steps, FIRST_RT)
    assert split is not None
    assert split.pre_rt_grade == 2
    assert (split.first.day, split.first.dated_by) == (date(2026, 3, 10), BY_RECORD)
    assert aggregate(split.before)["grade"] == 2
    assert aggregate(split.before)["rt_relation"] == "unrelated"
    assert aggregate(split.worsening)["grade"] == 3


def test_no_rt_yet_or_no_record_before_rt_means_no_split() -> None:
    before_and_after = steps_of([version(record("2026-01-15", 2), record("2026-03-10", 3))])
    assert split_worsening(before_and_after, None) is None
    all_after = steps_of([version(record("2026-03-04", 1), record("2026-03-12", 3))])
    assert split_worsening(all_after, FIRST_RT) is None


def test_a_grade_after_rt_no_higher_than_before_is_not_a_worsening() -> None:
    steps = steps_of([version(record("2026-01-15", 3), record("2026-03-10", 3))])
    assert split_worsening(steps, FIRST_RT) is None


def test_a_month_record_in_the_rt_month_is_after_rt_and_keeps_its_precision() -> None:
    steps = steps_of([version(record("2026-01-15", 2), record("2026-03-01", 3, "month"))])
    split = split_worsening(steps, FIRST_RT)
    assert split is not None
    first = split.first
    assert (first.day, first.until, first.precision) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
        "month",
    )


def test_the_worsening_starts_at_the_first_rise_not_at_a_same_grade_record_after_rt() -> None:
    steps = steps_of(
        [
            version(
                record("2026-01-15", 2),
                record("2026-03-05", 2, serious=True),
                record("2026-03-10", 3),
                record("2026-04-01", 4),
            )
        ]
    )
    split = split_worsening(steps, FIRST_RT)
    assert split is not None
    assert split.first.day == date(2026, 3, 10)
    assert aggregate(split.worsening)["grade"] == 4
    # The grade-2 record after RT stays with the pre-RT AE (and its seriousness with it).
    assert [s.day for s in split.before] == [date(2026, 1, 15), date(2026, 3, 5)]
    assert aggregate(split.worsening)["serious"] is False


def test_a_re_export_raising_a_record_is_dated_at_its_awareness_else_its_receipt() -> None:
    first = version(record("2026-01-20", 2), aware="2026-02-10T09:00", supplied=False)
    told = version(record("2026-01-20", 3), aware="2026-03-18T00:00", supplied=True)
    received = version(record("2026-01-20", 3), aware="2026-03-25T09:00", supplied=False)
    for raised, day, how in (
        (told, date(2026, 3, 18), BY_AWARENESS),
        (received, date(2026, 3, 25), BY_RECEIPT),
    ):
        split = split_worsening(steps_of([first, raised]), FIRST_RT)
        assert split is not None
        assert (split.pre_rt_grade, split.first.day, split.first.dated_by) == (2, day, how)


def test_a_raise_known_before_rt_is_not_a_worsening_and_a_lowered_grade_undoes_one() -> None:
    first = version(record("2026-01-20", 2), aware="2026-02-10T09:00")
    early = version(record("2026-01-20", 3), aware="2026-02-20T09:00")
    assert split_worsening(steps_of([first, early]), FIRST_RT) is None
    raised = version(record("2026-01-20", 3), aware="2026-03-18T09:00")
    corrected = version(record("2026-01-20", 2), aware="2026-03-30T09:00")
    assert split_worsening(steps_of([first, raised, corrected]), FIRST_RT) is None
    # The same version twice (a split's own copy) changes nothing.
    again = split_worsening(steps_of([first, raised, raised]), FIRST_RT)
    assert again is not None and again.first.day == date(2026, 3, 18)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-60, 60), st.integers(1, 5)),
        min_size=1,
        max_size=6,
    )
)
def test_the_split_counts_each_grade_once_on_its_side_of_rt(
    records: list[tuple[int, int]],
) -> None:
    sent = [
        record(date.fromordinal(FIRST_RT.toordinal() + offset).isoformat(), grade)
        for offset, grade in records
    ]
    split = split_worsening(steps_of([version(*sent)]), FIRST_RT)
    before = [g for offset, g in records if offset < 0]
    after = [g for offset, g in records if offset >= 0]
    worsens = bool(before) and bool(after) and max(after) > max(before)
    assert (split is not None) == worsens
    if split is not None:
        assert split.pre_rt_grade == max(before)
        assert aggregate(split.worsening)["grade"] == max(after)
        assert aggregate(split.before)["grade"] == max(before)
        assert len(split.before) + len(split.worsening) == len(records)
