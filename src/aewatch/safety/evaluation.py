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

from dataclasses import dataclass
from datetime import datetime
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


def evaluate_rule(
    rule: StoppingRule, patients: pd.DataFrame, events: pd.DataFrame, as_of: Any
) -> RuleStatus:
    """Evaluate ``rule`` on the data known at ``as_of`` (see the module docstring)."""
    import pandas as pd

    cutoff = _utc_timestamp(as_of)
    missing = [c for c in PATIENT_COLUMNS if c not in patients.columns]
    if missing:
        raise ValueError(f"patients: missing column(s) {missing}")
    frame = pd.DataFrame({"subject_id": patients["subject_id"].astype(str).to_numpy()})
    for column in PATIENT_COLUMNS[1:]:
        frame[column] = _utc_days(patients[column]).array
    frame = frame[frame["rt_start"].notna() & (frame["rt_start"] <= cutoff)].copy()
    for column in ("died_on", "withdrawn_on"):
        frame.loc[frame[column] > cutoff, column] = pd.NaT  # had not happened at the cut-off
    frame["last_contact"] = frame["last_contact"].where(
        frame["last_contact"].isna() | (frame["last_contact"] <= cutoff), cutoff
    )
    frame["window_end"] = frame["rt_end"] + pd.Timedelta(days=rule.window_days)
    first = _first_toxicity(rule, frame, events, cutoff)
    frame["toxic_on"] = first["onset"].reindex(frame["subject_id"]).array
    frame["toxic_event"] = first["event_key"].reindex(frame["subject_id"]).array

    known_until = frame[["last_contact", "died_on", "withdrawn_on"]].max(axis=1)
    left_on = frame[["died_on", "withdrawn_on"]].min(axis=1)
    toxic = frame["toxic_on"].notna()
    followed = (
        ~toxic
        & frame["window_end"].notna()
        & (frame["window_end"] <= cutoff)
        & (known_until >= frame["window_end"]).fillna(False)
        & ~(frame["died_on"] < frame["window_end"]).fillna(False)  # dead cannot be followed
    )
    left_early = ~toxic & ~followed & left_on.notna()
    frame["status"] = "pending"
    frame.loc[toxic, "status"] = "toxic"
    frame.loc[followed, "status"] = "completed window"
    died_first = frame["died_on"].notna() & (
        frame["withdrawn_on"].isna() | (frame["died_on"] <= frame["withdrawn_on"])
    )
    frame.loc[left_early, "status"] = died_first[left_early].map(
        {True: "died early", False: "withdrawn early"}
    )
    frame["evaluable_on"] = frame["toxic_on"].where(toxic, frame["window_end"].where(followed))
    if rule.evaluability == "include":
        frame.loc[left_early, "evaluable_on"] = left_on[left_early]
        evaluable = toxic | followed | left_early
        excluded = pd.Series(False, index=frame.index)
    else:
        evaluable = toxic | followed
        excluded = left_early

    ordered = frame[evaluable].assign(not_toxic=~toxic[evaluable])
    ordered = ordered.sort_values(["evaluable_on", "not_toxic", "subject_id"], kind="mergesort")
    pending = frame[~evaluable & ~excluded].sort_values(["window_end", "subject_id"])
    return _status(rule, cutoff, ordered, pending, frame[excluded])


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


def _first_toxicity(
    rule: StoppingRule, frame: pd.DataFrame, events: pd.DataFrame, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """Earliest onset of a matching event inside each patient's window, and that event's
    ``ae_key`` when the events carry one (by subject id)."""
    import pandas as pd

    if events.empty:  # no events yet: accept a frame without the columns too
        return pd.DataFrame(
            {
                "onset": pd.Series([], dtype="datetime64[ns, UTC]"),
                "event_key": pd.Series([], dtype=object),
            },
            index=pd.Index([], dtype=object),
        )
    hits = events[rule.matches_events(events).to_numpy()]
    onset = _utc_days(hits["onset"])
    keys = hits["ae_key"] if "ae_key" in hits else pd.Series(None, index=hits.index)
    hits = hits.assign(subject_id=hits["subject_id"].astype(str), onset=onset, event_key=keys)
    hits = hits[hits["onset"].notna() & (hits["onset"] <= cutoff)]
    joined = hits[["subject_id", "onset", "event_key"]].merge(
        frame[["subject_id", "rt_start", "window_end"]], on="subject_id", how="inner"
    )
    inside = (joined["onset"] >= joined["rt_start"]) & (
        joined["window_end"].isna() | (joined["onset"] <= joined["window_end"])
    )
    first = joined[inside].sort_values(["subject_id", "onset", "event_key"], kind="mergesort")
    return first.drop_duplicates("subject_id").set_index("subject_id")[["onset", "event_key"]]


def _status(
    rule: StoppingRule,
    cutoff: pd.Timestamp,
    ordered: pd.DataFrame,
    pending: pd.DataFrame,
    excluded: pd.DataFrame,
) -> RuleStatus:
    import pandas as pd

    boundary = rule.boundary()
    toxic_flags = (~ordered["not_toxic"]).to_numpy(dtype=bool)
    subjects = [str(s) for s in ordered["subject_id"]]
    history: list[EvaluablePatient] = []
    crossed: EvaluablePatient | None = None
    count = 0
    events = ordered["toxic_event"].astype(object).where(ordered["toxic_event"].notna(), None)
    for i, (subject, is_toxic, on, reason, event) in enumerate(
        zip(
            subjects,
            toxic_flags,
            ordered["evaluable_on"],
            ordered["status"],
            events,
            strict=True,
        )
    ):
        n = i + 1
        count += int(is_toxic)
        bound = boundary.stop_at_n(n) if boundary.is_look(n) else None
        step = EvaluablePatient(
            n=n,
            subject_id=subject,
            evaluable_on=on.to_pydatetime(),
            toxic=bool(is_toxic),
            reason=str(reason),
            toxic_n=count,
            stop_at=bound,
            event_key=str(event) if is_toxic and event is not None else None,
        )
        history.append(step)
        if crossed is None and bound is not None and count >= bound:
            crossed = step
    evaluable_n = len(subjects)
    stop_at = boundary.stop_at_n(evaluable_n)
    cushion = None if stop_at is None else stop_at - count - 1
    pending_n = len(pending)
    future = boundary.stop_at_n(evaluable_n + pending_n)
    draft = RuleStatus(
        rule=rule,
        as_of=cutoff.to_pydatetime(),
        evaluable_n=evaluable_n,
        toxic_n=count,
        stop_at=stop_at,
        cushion=cushion,
        state="ok",
        toxic_subjects=tuple(s for s, t in zip(subjects, toxic_flags, strict=True) if t),
        evaluable_subjects=tuple(subjects),
        pending_subjects=tuple(str(s) for s in pending["subject_id"]),
        excluded_subjects=tuple(sorted(str(s) for s in excluded["subject_id"])),
        crossed_regardless_of_pending=future is not None and count >= future,
        could_cross_with_pending=future is not None and count + pending_n >= future,
        history=tuple(history),
        pending_evaluable_on=tuple(
            None if pd.isna(on) else on.to_pydatetime() for on in pending["window_end"]
        ),
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


def _utc_timestamp(value: Any) -> pd.Timestamp:
    import pandas as pd

    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        raise ValueError("as_of must be a date or datetime")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _utc_days(column: pd.Series) -> pd.Series:
    """Dates as UTC midnights: CRF dates are days, so comparisons are by day."""
    import pandas as pd

    values = pd.to_datetime(column, utc=True)
    return values.dt.floor("D")
