"""Treatment emergence on worsening (ICH E9; ADaM OCCDS TRTEMFL conventions).

An AE is treatment-emergent if it starts on or after the first RT day, or if an AE that
began before it **worsens** after it. An AE that began before RT is split in two once
the first RT day is known:

* the pre-RT AE keeps its onset and shows its pre-RT grade (the highest grade of its
  steps before RT): not emergent, still listed;
* the worsening is an AE of its own, treatment-emergent: its onset is the first step
  after RT whose grade exceeds the pre-RT grade (that date anchors the stopping-rule
  windows), its grade the worst grade after RT, its attribution and seriousness those of
  the steps after RT.

A *step* is one grade at one date. A log-form record (SDTM: one record per grade change,
one AESPID) is a step dated by its own start date; a partial date is after RT when its
period reaches the first RT day (as aewatch.safety.onsets imputes it). A re-export that
raises the grade of a record it already sent has no date of its own for the change: the
step is dated at the awareness date of that version (AEAWDTC), else at its receipt, and
the worsening says which. An AE whose steps all lie on or after the first RT day is
emergent by its onset and is never split (it counts once, at its worst grade).

Pure: versions in, the split out; aewatch.store.emergence reads and writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from aewatch.ingest.validate import RELATION_RANK, SEVERITY_RANK
from aewatch.ingest.validate import SERIOUSNESS_FLAGS as CRITERIA

# The key of the AE a worsening becomes: the pre-RT AE's key with this suffix.
WORSENED_SUFFIX = "~worsened"

# How a step got its date.
BY_RECORD = "record"
BY_AWARENESS = "awareness date"
BY_RECEIPT = "receipt"


@dataclass(frozen=True)
class Version:
    """One stored version of a site AE: its records as the site sent them (one for a
    one-record AE), and when the site became aware of it (``aware_supplied``: AEAWDTC
    given; else ``aware_at`` is when aewatch received it)."""

    records: Sequence[dict[str, Any]]
    aware_at: datetime | None
    aware_supplied: bool | None


@dataclass(frozen=True)
class Step:
    day: date | None  # the step's date (first day of a partial date); None: unknown
    until: date | None  # last day of a partial record date; None for an exact day
    precision: str | None
    grade: int | None
    dated_by: str  # BY_RECORD, BY_AWARENESS or BY_RECEIPT
    record: dict[str, Any]
    aware_at: datetime | None
    aware_supplied: bool | None

    def after(self, first_rt: date) -> bool:
        """On or after the first RT day (a period reaching it counts; unknown counts)."""
        last = self.until or self.day
        return last is None or last >= first_rt


@dataclass(frozen=True)
class Split:
    """A pre-RT AE that worsened after RT: the steps each part is made of."""

    pre_rt_grade: int | None
    before: list[Step] = field(default_factory=list)
    worsening: list[Step] = field(default_factory=list)

    @property
    def first(self) -> Step:
        return self.worsening[0]


def steps_of(versions: Iterable[Version]) -> list[Step]:
    """The grade steps of an AE's current records, through its versions in order.

    A record is known by its start date; a record that comes back with a higher grade in
    a later version gets a step dated at that version's awareness date (or receipt), and
    one that comes back lower was corrected: its earlier steps are dropped."""
    chains: dict[tuple[Any, ...], list[Step]] = {}
    for number, version in enumerate(versions):
        seen: dict[tuple[Any, ...], list[Step]] = {}
        for record in version.records:
            ident = _identity(record, seen)
            grade = _grade(record)
            chain = chains.get(ident)
            if number == 0 or chain is None:
                seen[ident] = [_record_step(record, version)]
                continue
            last = chain[-1]
            if grade is not None and (last.grade is None or grade > last.grade):
                seen[ident] = [*chain, _raised_step(record, grade, version)]
            elif grade == last.grade:
                seen[ident] = [*chain[:-1], _with_record(last, record)]
            else:
                seen[ident] = [_record_step(record, version)]
        chains = seen
    steps = [step for chain in chains.values() for step in chain]
    return sorted(steps, key=_order)


def split_worsening(steps: Sequence[Step], first_rt: date | None) -> Split | None:
    """The split of an AE whose grade rose after the first RT day; None when there is
    nothing to split (RT not known, no step before RT, or no step after RT above the
    pre-RT grade)."""
    if first_rt is None:
        return None
    before = [s for s in steps if not s.after(first_rt)]
    if not before:
        return None  # emergent by its onset: counted once, at its worst grade
    graded = [s.grade for s in before if s.grade is not None]
    pre_rt_grade = max(graded) if graded else None
    floor = pre_rt_grade or 0
    after = [s for s in steps if s.after(first_rt)]
    rising = [s for s in after if s.grade is not None and s.grade > floor]
    if not rising:
        return None
    first = min(rising, key=_order)
    worsening = [s for s in after if s is first or _order(s) >= _order(first)]
    parent = [s for s in steps if not any(s is w for w in worsening)]
    return Split(pre_rt_grade, parent, worsening)


def summary(parent_key: str, split: Split) -> str:
    """One line a listing or an audit entry shows for the worsening AE."""
    pre = "ungraded" if split.pre_rt_grade is None else f"grade {split.pre_rt_grade}"
    first = split.first
    if first.dated_by == BY_RECORD:
        how = "dated by the site's record of the higher grade"
    elif first.dated_by == BY_AWARENESS:
        how = (
            "no dated record of the higher grade: dated at the awareness date the site "
            "gave (AEAWDTC)"
        )
    else:
        how = (
            "no dated record of the higher grade and no awareness date (AEAWDTC): dated "
            "at receipt of the re-export"
        )
    return f"worsening of {parent_key} after RT (pre-RT {pre}); {how}"


def aggregate(steps: Sequence[Step]) -> dict[str, Any]:
    """One AE's content from its steps, as aewatch.ingest.validate.collapse_log_form
    merges records: worst grade (then severity), the strongest attribution to each
    treatment, each criterion if any step has it, the latest end (none while any step is
    ongoing) and the latest step's outcome."""
    grades = [s.grade for s in steps if s.grade is not None]
    grade = max(grades) if grades else None
    worst = max(
        steps,
        key=lambda s: (s.grade or 0, SEVERITY_RANK.get(str(s.record.get("severity")), 0)),
    )
    content: dict[str, Any] = {"grade": grade, "severity": worst.record.get("severity")}
    for name in CRITERIA:
        content[name] = any(bool(s.record.get(name)) for s in steps)
    for name in ("rt_relation", "systemic_relation"):
        ranked = [s.record.get(name) for s in steps if s.record.get(name)]
        content[name] = max(ranked, key=lambda r: RELATION_RANK.get(str(r), -1), default=None)
    ends = [_day(s.record.get("end_on")) for s in steps]
    content["end_on"] = None if any(e is None for e in ends) else max(ends)  # type: ignore[type-var]
    content["outcome"] = steps[-1].record.get("outcome") if steps else None
    return content


def _identity(record: dict[str, Any], seen: dict[tuple[Any, ...], Any]) -> tuple[Any, ...]:
    """A record's start date (and precision); the n-th record of one date is its own."""
    base = (record.get("onset_on"), record.get("onset_precision"))
    n = sum(1 for key in seen if key[:2] == base)
    return (*base, n)


def _record_step(record: dict[str, Any], version: Version) -> Step:
    day, precision = _day(record.get("onset_on")), record.get("onset_precision")
    return Step(
        day,
        period_last_day(day, precision),
        precision,
        _grade(record),
        BY_RECORD,
        record,
        version.aware_at,
        version.aware_supplied,
    )


def _raised_step(record: dict[str, Any], grade: int, version: Version) -> Step:
    """A higher grade a re-export gives a record it already sent: dated at that
    version's awareness date (AEAWDTC), else at its receipt."""
    dated_by = BY_AWARENESS if version.aware_supplied else BY_RECEIPT
    day = version.aware_at.date() if version.aware_at is not None else None
    return Step(day, None, "day", grade, dated_by, record, version.aware_at, version.aware_supplied)


def _with_record(step: Step, record: dict[str, Any]) -> Step:
    """The same step, with what the site now says about it (attribution, outcome…)."""
    return Step(
        step.day,
        step.until,
        step.precision,
        step.grade,
        step.dated_by,
        record,
        step.aware_at,
        step.aware_supplied,
    )


def period_last_day(day: date | None, precision: str | None) -> date | None:
    """The last day of a partial date (2026-03 → 2026-03-31); None for an exact one."""
    if day is None or precision not in ("month", "year"):
        return None
    if precision == "year":
        return date(day.year, 12, 31)
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def _order(step: Step) -> tuple[bool, date]:
    """By date, unknown dates last."""
    return (step.day is None, step.day or date.max)


def _grade(record: dict[str, Any]) -> int | None:
    grade = record.get("grade")
    return None if grade is None else int(grade)


def _day(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])
