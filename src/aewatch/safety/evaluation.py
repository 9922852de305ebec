"""Where a trial stands against one stopping rule: evaluable patients, toxicities, state.

Pure and vectorised: two DataFrames and a cut-off in, a frozen ``RuleStatus`` out; the
caller stores it (``rule_status`` table) and raises alerts on changes.

Definitions (stopping_rules.md pitfalls 10–14):

* **at risk** — radiotherapy started on or before ``as_of``.
* **toxic** — a matching event with onset in [rt_start, rt_end + window_days] (no upper
  limit while RT has no end date). Evaluable on the onset date.
* **followed through the window** — rt_end + window <= ``as_of``, the patient is known
  to be followed (last contact, death or withdrawal date) up to the window's end, and did
  not die before it. Evaluable on the window's end date.
* **died / withdrew early** without toxicity — policy ``exclude`` (default) leaves them out
  of numerator and denominator (the designs assume a known outcome); ``include`` counts
  them as non-toxic on the date they left.
* otherwise **pending** (at risk, outcome not yet known).

Evaluable patients are taken in the order their status became final; on the same day
toxic patients come first (the conservative choice: it can only cross earlier, pitfall
10), then by subject id. The history is replayed look by look and **crossed is latched**
at the first look where the count met the boundary (pitfall 12): the OC assume the trial
stops there, so later toxicity-free patients never "uncross" it. Latching across data
versions (a grade downgraded after an alert, pitfall 13) is the caller's job.

**approaching** — not crossed, at least one toxicity, and either the cushion at the current
n is <= the rule's ``approaching_margin`` or one more toxic patient would cross at the
next look (pitfall 14). With no toxicity nothing is approaching, so a stop-at-first rule
(k = 1) does not report "approaching" on an empty trial.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aewatch.safety.rules import StoppingRule

if TYPE_CHECKING:
    import pandas as pd

    from aewatch.safety.boundaries import Boundary

STATES = ("ok", "approaching", "crossed")
PATIENT_COLUMNS = (
    "subject_id",
    "rt_start",
    "rt_end",
    "last_contact",
    "died_on",
    "withdrawn_on",
)


@dataclass(frozen=True)
class EvaluablePatient:
    """One step of the history: the n-th patient whose outcome became final."""

    n: int
    subject_id: str
    evaluable_on: datetime
    toxic: bool
    reason: str  # toxic | completed window | died early | withdrawn early
    toxic_n: int  # cumulative toxic patients among the first n
    stop_at: int | None  # boundary checked at this n (None: not a look, or cannot stop)
    event_key: str | None = None  # the AE (ae_key) that made the patient toxic


@dataclass(frozen=True)
class RuleStatus:
    """A rule's status as of a cut-off: numbers, state and who is behind them."""

    rule: StoppingRule
    as_of: datetime
    evaluable_n: int
    toxic_n: int
    stop_at: int | None
    cushion: int | None
    state: str
    toxic_subjects: tuple[str, ...]
    evaluable_subjects: tuple[str, ...]
    pending_subjects: tuple[str, ...]
    excluded_subjects: tuple[str, ...] = ()
    crossed_at_n: int | None = None
    crossed_subject: str | None = None
    crossed_on: datetime | None = None
    crossed_regardless_of_pending: bool = False
    could_cross_with_pending: bool = False
    history: tuple[EvaluablePatient, ...] = ()
    # When each pending patient becomes evaluable if followed without toxicity (RT end +
    # window; None while RT has no end date), in the order of ``pending_subjects``.
    pending_evaluable_on: tuple[datetime | None, ...] = ()

    @property
    def crossing(self) -> EvaluablePatient | None:
        """The look at which the boundary was first met: what "crossed" latches on."""
        return None if self.crossed_at_n is None else self.history[self.crossed_at_n - 1]


@dataclass(frozen=True)
class PatientDates:
    """One patient's dates as UTC midnights (None when unknown): what a rule needs."""

    subject_id: str
    rt_start: datetime | None
    rt_end: datetime | None
    last_contact: datetime | None
    died_on: datetime | None
    withdrawn_on: datetime | None


def evaluate_rule(
    rule: StoppingRule, patients: pd.DataFrame, events: pd.DataFrame, as_of: Any
) -> RuleStatus:
    """Evaluate ``rule`` on the data known at ``as_of`` (see the module docstring).

    The frames come from ``store.rule_inputs``; events are matched vectorised
    (``StoppingRule.matches_events``) and the rest is ``evaluate_rows``.
    """
    missing = [c for c in PATIENT_COLUMNS if c not in patients.columns]
    if missing:
        raise ValueError(f"patients: missing column(s) {missing}")
    days = {column: _python_days(patients[column]) for column in PATIENT_COLUMNS[1:]}
    rows = [
        PatientDates(str(subject), *values)
        for subject, *values in zip(patients["subject_id"].astype(str), *days.values(), strict=True)
    ]
    onsets: list[tuple[str, datetime | None, str | None]] = []
    if not events.empty:  # no events yet: accept a frame without the columns too
        hits = events[rule.matches_events(events).to_numpy()]
        keys = (
            [None if k is None or k != k else str(k) for k in hits["ae_key"]]
            if "ae_key" in hits
            else [None] * len(hits)
        )
        onsets = list(
            zip(
                hits["subject_id"].astype(str),
                _python_days(_imputed_onsets(hits, patients)),
                keys,
                strict=True,
            )
        )
    return evaluate_rows(rule, rows, onsets, as_of)


def _imputed_onsets(hits: pd.DataFrame, patients: pd.DataFrame) -> pd.Series:
    """A partial onset whose period contains the first RT day counts from that day
    (aewatch.safety.onsets), so it is inside the toxicity window."""
    import pandas as pd

    from aewatch.safety.onsets import impute_onsets

    if "onset_until" not in hits or hits.empty:
        return hits["onset"]
    first_rt = (
        hits["subject_id"]
        .astype(str)
        .map(dict(zip(patients["subject_id"].astype(str), patients["rt_start"], strict=True)))
    )
    return impute_onsets(hits["onset"], hits["onset_until"], pd.to_datetime(first_rt, utc=True))


def evaluate_rows(
    rule: StoppingRule,
    patients: Sequence[PatientDates],
    onsets: Iterable[tuple[str, datetime | None] | tuple[str, datetime | None, str | None]],
    as_of: datetime,
) -> RuleStatus:
    """The evaluation itself, on plain rows: ``onsets`` are the (subject, onset day) of
    the events that match the rule, optionally with the event's ``ae_key`` as a third
    item (the event that made the patient toxic: the earliest, then the lowest key).
    No pandas, so `aewatch status` starts fast."""
    cutoff = _utc_moment(as_of)
    window = timedelta(days=rule.window_days)
    at_risk: dict[str, dict[str, Any]] = {}
    for p in patients:
        if p.rt_start is None or p.rt_start > cutoff:
            continue
        died = p.died_on if p.died_on is not None and p.died_on <= cutoff else None
        withdrawn = (
            p.withdrawn_on if p.withdrawn_on is not None and p.withdrawn_on <= cutoff else None
        )
        last = p.last_contact
        if last is not None and last > cutoff:
            last = cutoff
        at_risk[p.subject_id] = {
            "subject_id": p.subject_id,
            "rt_start": p.rt_start,
            "window_end": None if p.rt_end is None else p.rt_end + window,
            "last_contact": last,
            "died_on": died,
            "withdrawn_on": withdrawn,
            "toxic_on": None,
            "toxic_event": None,
        }
    for subject, onset, *key in onsets:
        patient = at_risk.get(subject)
        if patient is None or onset is None or onset > cutoff or onset < patient["rt_start"]:
            continue
        if patient["window_end"] is not None and onset > patient["window_end"]:
            continue
        event = key[0] if key else None
        if patient["toxic_on"] is None or (onset, _key_order(event)) < (
            patient["toxic_on"],
            _key_order(patient["toxic_event"]),
        ):
            patient["toxic_on"], patient["toxic_event"] = onset, event

    evaluable, pending, excluded = [], [], []
    for p in at_risk.values():
        known = [d for d in (p["last_contact"], p["died_on"], p["withdrawn_on"]) if d]
        left = [d for d in (p["died_on"], p["withdrawn_on"]) if d]
        known_until, left_on = max(known, default=None), min(left, default=None)
        end, died = p["window_end"], p["died_on"]
        toxic = p["toxic_on"] is not None
        followed = (
            not toxic
            and end is not None
            and end <= cutoff
            and known_until is not None
            and known_until >= end
            and not (died is not None and died < end)  # the dead cannot be followed
        )
        left_early = not toxic and not followed and left_on is not None
        if toxic:
            p["status"], p["evaluable_on"] = "toxic", p["toxic_on"]
        elif followed:
            p["status"], p["evaluable_on"] = "completed window", end
        elif left_early:
            withdrawn = p["withdrawn_on"]
            died_first = died is not None and (withdrawn is None or died <= withdrawn)
            p["status"] = "died early" if died_first else "withdrawn early"
            p["evaluable_on"] = left_on if rule.evaluability == "include" else None
        else:
            p["status"], p["evaluable_on"] = "pending", None
        if toxic or followed or (left_early and rule.evaluability == "include"):
            evaluable.append(p)
        elif left_early:
            excluded.append(p)
        else:
            pending.append(p)
    evaluable.sort(key=lambda p: (p["evaluable_on"], p["status"] != "toxic", p["subject_id"]))
    pending.sort(
        key=lambda p: (p["window_end"] is None, p["window_end"] or cutoff, p["subject_id"])
    )
    return _status(rule, cutoff, evaluable, pending, excluded)


def status_row(status: RuleStatus) -> dict[str, Any]:
    """One line of the rules table, as alerts, `aewatch status` and the report show it.

    A crossed rule is told as it happened: the n at which it crossed, the day that
    patient became evaluable, and the count and boundary then; the current count
    follows. Its "cushion" is meaningless once crossed, so it is left empty.
    """
    crossing = status.crossing
    return {
        "rule": status.rule.name,
        "state": status.state,
        "evaluable_n": status.evaluable_n,
        "toxic_n": status.toxic_n,
        "stop_at": status.stop_at,
        "cushion": None if crossing else status.cushion,
        "crossed_at_n": crossing.n if crossing else None,
        "crossed_on": crossing.evaluable_on.date().isoformat() if crossing else None,
        "crossed_toxic_n": crossing.toxic_n if crossing else None,
        "crossed_stop_at": crossing.stop_at if crossing else None,
        "pending_n": len(status.pending_subjects),
    }


def crossing_text(row: dict[str, Any]) -> str:
    """ "crossed at the 2nd evaluable patient on 2026-02-10 (2 toxic, boundary 2); now 3 of
    14" — or the current count for a rule that has not crossed."""
    now = f"{row['toxic_n']} toxic of {row['evaluable_n']} evaluable"
    if row.get("crossed_at_n") is None:
        stop = row.get("stop_at")
        return f"{now}; stop at {stop}" if stop is not None else f"{now}; cannot stop yet"
    return (
        f"crossed at the {ordinal(int(row['crossed_at_n']))} evaluable patient on "
        f"{row['crossed_on']} ({row['crossed_toxic_n']} toxic, boundary "
        f"{row['crossed_stop_at']}); now {row['toxic_n']} of {row['evaluable_n']}"
    )


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def what_if(status: RuleStatus, extra_toxicities: int) -> bool:
    """Would ``extra_toxicities`` more toxic patients, each a new evaluable patient, cross?"""
    if status.state == "crossed":
        return True
    return _first_crossing_ahead(status.rule.boundary(), status, extra_toxicities) is not None


# ----------------------------------------------------------------------------- helpers


def _key_order(key: str | None) -> tuple[bool, str]:
    """Event keys in order, an event without one last."""
    return (key is None, key or "")


def _status(
    rule: StoppingRule,
    cutoff: datetime,
    ordered: list[dict[str, Any]],
    pending: list[dict[str, Any]],
    excluded: list[dict[str, Any]],
) -> RuleStatus:
    boundary = rule.boundary()
    history: list[EvaluablePatient] = []
    crossed: EvaluablePatient | None = None
    count = 0
    for i, patient in enumerate(ordered):
        n = i + 1
        is_toxic = patient["status"] == "toxic"
        count += int(is_toxic)
        bound = boundary.stop_at_n(n) if boundary.is_look(n) else None
        step = EvaluablePatient(
            n=n,
            subject_id=patient["subject_id"],
            evaluable_on=patient["evaluable_on"],
            toxic=is_toxic,
            reason=str(patient["status"]),
            toxic_n=count,
            stop_at=bound,
            event_key=patient["toxic_event"] if is_toxic else None,
        )
        history.append(step)
        if crossed is None and bound is not None and count >= bound:
            crossed = step
    subjects = [p["subject_id"] for p in ordered]
    evaluable_n = len(subjects)
    stop_at = boundary.stop_at_n(evaluable_n)
    cushion = None if stop_at is None else stop_at - count - 1
    pending_n = len(pending)
    future = boundary.stop_at_n(evaluable_n + pending_n)
    draft = RuleStatus(
        rule=rule,
        as_of=cutoff,
        evaluable_n=evaluable_n,
        toxic_n=count,
        stop_at=stop_at,
        cushion=cushion,
        state="ok",
        toxic_subjects=tuple(p["subject_id"] for p in ordered if p["status"] == "toxic"),
        evaluable_subjects=tuple(subjects),
        pending_subjects=tuple(p["subject_id"] for p in pending),
        excluded_subjects=tuple(sorted(p["subject_id"] for p in excluded)),
        crossed_regardless_of_pending=future is not None and count >= future,
        could_cross_with_pending=future is not None and count + pending_n >= future,
        history=tuple(history),
        pending_evaluable_on=tuple(p["window_end"] for p in pending),
    )
    if crossed is not None:
        return _replace(
            draft,
            state="crossed",
            crossed_at_n=crossed.n,
            crossed_subject=crossed.subject_id,
            crossed_on=crossed.evaluable_on,
        )
    near = cushion is not None and cushion <= rule.approaching_margin
    if count >= 1 and (near or _first_crossing_ahead(boundary, draft, 1) is not None):
        return _replace(draft, state="approaching")
    return draft


def _first_crossing_ahead(boundary: Boundary, status: RuleStatus, extra: int) -> int | None:
    """The n at which ``extra`` consecutive toxic patients would first cross, if any."""
    for j in range(1, max(int(extra), 0) + 1):
        n = status.evaluable_n + j
        bound = boundary.stop_at_n(n) if boundary.is_look(n) else None
        if bound is not None and status.toxic_n + j >= bound:
            return n
    return None


def _replace(status: RuleStatus, **changes: Any) -> RuleStatus:
    from dataclasses import replace

    return replace(status, **changes)


def _utc_moment(value: Any) -> datetime:
    """``as_of`` as an aware UTC datetime (a naive one is taken as UTC; a date, or ISO
    text of a day, as midnight)."""
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
        if value != value:  # NaT
            raise ValueError("as_of must be a date or datetime")
        moment = value.to_pydatetime()
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):  # ISO 8601, as a pandas Timestamp would read it
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"as_of must be a date or datetime, got {value!r}") from exc
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        raise ValueError("as_of must be a date or datetime")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_day(value: Any) -> datetime | None:
    """A stored date (ISO text on SQLite, a date or datetime on PostgreSQL) as its UTC
    midnight: CRF dates are days, so comparisons are by day."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _python_days(column: pd.Series) -> list[datetime | None]:
    """A frame column of dates as UTC midnights (None for missing), as ``utc_day``."""
    import pandas as pd

    values = pd.to_datetime(column, utc=True).dt.floor("D")
    return [None if v is pd.NaT else v.to_pydatetime() for v in values]
