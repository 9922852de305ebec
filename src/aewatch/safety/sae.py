"""Seriousness, relatedness and expectedness of one AE version (ICH E2A; safety_domain §2).

Pure functions over any object with the ``AeFacts`` attribute names, so the alert rules,
the CLI and the DSMB report judge an SAE the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from aewatch.safety.relatedness import RELATED

# SDTM flag → criterion wording shown to the safety officer (ICH E2A).
CRITERIA: tuple[tuple[str, str], ...] = (
    ("death", "results in death"),
    ("life_threatening", "life-threatening"),
    ("hospitalisation", "requires or prolongs hospitalisation"),
    ("disability", "persistent or significant disability"),
    ("congenital_anomaly", "congenital anomaly"),
    ("medically_important", "important medical event"),
)
FATAL_OUTCOME = "FATAL"
RECOVERED_OUTCOMES = frozenset({"RECOVERED/RESOLVED", "RECOVERED/RESOLVED WITH SEQUELAE"})


class SeriousnessFacts(Protocol):
    serious: bool
    death: bool
    life_threatening: bool
    hospitalisation: bool
    disability: bool
    congenital_anomaly: bool
    medically_important: bool
    grade: int | None
    outcome: str | None
    ctcae_term: str | None
    rt_relation: str | None
    systemic_relation: str | None


def criteria_met(facts: Any) -> tuple[str, ...]:
    """The seriousness criteria flagged, by name (``death``, ``hospitalisation`` …)."""
    met = [name for name, _ in CRITERIA if getattr(facts, name)]
    if is_fatal(facts) and "death" not in met:
        met.insert(0, "death")
    return tuple(met)


def criteria_labels(names: Iterable[str]) -> tuple[str, ...]:
    labels = dict(CRITERIA)
    return tuple(labels[name] for name in names)


def is_fatal(facts: Any) -> bool:
    """Death from an AE is grade 5 of that term (CTCAE v5), AESDTH, or a fatal outcome."""
    return bool(facts.death) or facts.grade == 5 or (facts.outcome or "").upper() == FATAL_OUTCOME


def is_serious(facts: Any) -> bool:
    """AESER = Y iff any criterion is Y; either is enough here (exports disagree)."""
    return bool(facts.serious) or is_fatal(facts) or any(getattr(facts, n) for n, _ in CRITERIA)


def is_related(relation: str | None) -> bool:
    """'A reasonable possibility' of causation: possible, probable or definite."""
    return (relation or "").lower() in RELATED


def followup_reasons(previous: Any, current: Any) -> tuple[str, ...]:
    """Why a later version of a serious AE is news: worse grade, a new criterion, a new
    outcome that matters (fatal, recovered), and the changes that undo what was reported
    (ICH E2D 5.3: follow-up information, including a downgrade, is reported): no longer
    serious, a fatal outcome withdrawn, an attribution changed from related to not
    related. A lower grade alone or a cosmetic change is not."""
    reasons: list[str] = []
    if is_serious(previous) and not is_serious(current):
        reasons.append("downgraded to non-serious")
    if is_fatal(previous) and not is_fatal(current):
        now = (current.outcome or "not reported").lower()
        reasons.append(f"fatal outcome withdrawn (outcome now: {now})")
    for label, name in (("RT", "rt_relation"), ("systemic therapy", "systemic_relation")):
        before_relation, after_relation = getattr(previous, name), getattr(current, name)
        if is_related(before_relation) and not is_related(after_relation):
            reasons.append(
                f"attribution to {label}: {before_relation} → {after_relation or 'not assessed'}"
                " (no longer related)"
            )
    if current.grade is not None and (previous.grade is None or current.grade > previous.grade):
        reasons.append(f"grade {previous.grade or '?'} → {current.grade}")
    added = [c for c in criteria_met(current) if c not in criteria_met(previous)]
    reasons.extend(f"criterion added: {label}" for label in criteria_labels(added))
    before, after = (previous.outcome or "").upper(), (current.outcome or "").upper()
    if after != before and (after == FATAL_OUTCOME or after in RECOVERED_OUTCOMES):
        reasons.append(f"outcome: {after.lower()}")
    return tuple(reasons)


@dataclass(frozen=True)
class SusarAssessment:
    """Whether a serious AE may be a SUSAR: suspected (related) and unexpected."""

    possible: bool
    treatments: tuple[str, ...]  # "radiotherapy", "systemic therapy"
    fatal_or_life_threatening: bool
    # Why each treatment's event is unexpected, in the safety officer's words.
    reasons: tuple[str, ...] = ()


def susar_assessment(
    facts: Any, expected_rt: Iterable[Any], expected_systemic: Iterable[Any]
) -> SusarAssessment:
    """Expectedness comes from the configured reference safety information only; never
    inferred (§2.3). An expected term is unexpected at a severity beyond what the entry
    lists (ICH E2A II.C): a higher grade than its ``max_grade``, or a fatal or
    life-threatening event whose outcome its ``outcomes`` do not list. Entries are
    terms or ``aewatch.config.ExpectedEvent``-like objects."""
    term = (facts.ctcae_term or "").strip()
    treatments: list[str] = []
    reasons: list[str] = []
    for name, relation, expected in (
        ("radiotherapy", facts.rt_relation, expected_rt),
        ("systemic therapy", facts.systemic_relation, expected_systemic),
    ):
        if not is_related(relation):
            continue
        why = unexpected_because(facts, term, expected)
        if why is not None:
            treatments.append(name)
            reasons.append(f"{name}: {why}")
    serious = is_serious(facts)
    return SusarAssessment(
        possible=serious and bool(treatments),
        treatments=tuple(treatments) if serious else (),
        fatal_or_life_threatening=is_fatal(facts) or bool(facts.life_threatening),
        reasons=tuple(reasons) if serious else (),
    )


def unexpected_because(facts: Any, term: str, expected: Iterable[Any]) -> str | None:
    """Why ``facts`` is unexpected against one treatment's entries (None: expected)."""
    entry = next((e for e in expected if _term_of(e).strip().casefold() == term.casefold()), None)
    label = term or "the uncoded term"
    if entry is None:
        return f"{label} is not in its expected events"
    max_grade = getattr(entry, "max_grade", None)
    outcomes = getattr(entry, "outcomes", None)
    listed = _listed(max_grade, outcomes)
    if outcomes is not None and is_fatal(facts) and "fatal" not in outcomes:
        return f"fatal {label}; expected {listed}"
    if outcomes is not None and facts.life_threatening and "life-threatening" not in outcomes:
        return f"life-threatening {label}; expected {listed}"
    if max_grade is not None and facts.grade is not None and facts.grade > max_grade:
        return f"grade {facts.grade} {label}; expected {listed}"
    return None


def _term_of(entry: Any) -> str:
    return entry if isinstance(entry, str) else str(entry.term)


def _listed(max_grade: int | None, outcomes: tuple[str, ...] | None) -> str:
    grades = "at any grade" if max_grade is None else f"up to grade {max_grade}"
    if not outcomes:
        return f"{grades}, not fatal or life-threatening" if outcomes is not None else grades
    return f"{grades}, {' or '.join(outcomes)} listed"
