"""Values that cross from the pipeline into the outbox: what to send, and the AE facts
alert rules look at. Frozen, so a rule can never edit what another rule sees."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aewatch.safety.onsets import impute_onset
from aewatch.safety.relatedness import normalise_relation

KINDS = (
    "sae-initial", "sae-followup", "death", "liver-event", "lab-derived", "threshold",
    "deviation", "site-silence", "ingest-failure", "reminder", "escalation",
    "delivery-failure", "dsmb-report",
)


@dataclass(frozen=True)
class AlertRequest:
    """One alert to queue; ``context`` holds only whitelisted, JSON-able template values."""

    kind: str
    dedup_key: str
    priority: int
    subject_id: str | None
    recipients: tuple[str, ...]
    context: Mapping[str, Any]
    requires_ack: bool = False
    report_due_at: datetime | None = None
    attachments: tuple[str, ...] = ()
    # Alerts about one patient's event share an email thread (aewatch.alerts.rules
    # ``event_thread``): its first alert's Message-ID threads the later ones.
    thread: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}; expected one of {KINDS}")
        if not self.recipients:
            raise ValueError(f"{self.dedup_key}: an alert needs at least one recipient")


@dataclass(frozen=True)
class AeFacts:
    """One AE version as the alert rules see it: coded fields only, no free text."""

    trial_id: str
    site: str
    subject_id: str
    ae_key: str
    version: int
    ctcae_term: str | None
    ctcae_soc: str | None
    grade: int | None
    serious: bool
    death: bool
    life_threatening: bool
    hospitalisation: bool
    disability: bool
    congenital_anomaly: bool
    medically_important: bool
    rt_relation: str | None
    systemic_relation: str | None
    outcome: str | None
    onset_study_day: int | None
    aware_at: datetime
    origin: str
    # "month" or "year": the onset is partial and its study day imputed (safety.onsets).
    onset_precision: str | None = None
    # False: the site gave no awareness date (AEAWDTC); aware_at is aewatch's receipt.
    aware_at_supplied: bool | None = None


def study_day(on: date | None, reference_start: date | None) -> int | None:
    """SDTM study day: day 1 is the reference start, and there is no day 0."""
    if on is None or reference_start is None:
        return None
    delta = (on - reference_start).days
    return delta + 1 if delta >= 0 else delta


def ae_facts(
    version: Any,
    *,
    trial_id: str,
    site: str,
    subject_id: str,
    ae_key: str,
    origin: str = "site",
    reference_start: date | None = None,
) -> AeFacts:
    """Build facts from an ``AeVersion`` row (or anything with its attribute names).

    Only coded fields are read: the verbatim term, narrative and calendar dates never
    reach an alert; the onset becomes a study day relative to ``reference_start`` (a
    partial onset whose period contains it is taken as that day, and says so).
    """
    grade = getattr(version, "grade", None)
    if grade is None:
        grade = getattr(version, "reported_grade", None)
    aware_at = getattr(version, "aware_at", None) or version.recorded_at
    return AeFacts(
        trial_id=trial_id,
        site=site,
        subject_id=subject_id,
        ae_key=ae_key,
        version=int(version.version),
        ctcae_term=getattr(version, "ctcae_term", None) or getattr(version, "decoded_term", None),
        ctcae_soc=getattr(version, "ctcae_soc", None) or getattr(version, "body_system", None),
        grade=None if grade is None else int(grade),
        serious=bool(getattr(version, "serious", False)),
        death=bool(getattr(version, "death", False)),
        life_threatening=bool(getattr(version, "life_threatening", False)),
        hospitalisation=bool(getattr(version, "hospitalisation", False)),
        disability=bool(getattr(version, "disability", False)),
        congenital_anomaly=bool(getattr(version, "congenital_anomaly", False)),
        medically_important=bool(getattr(version, "medically_important", False)),
        rt_relation=normalise_relation(getattr(version, "rt_relation", None)),
        systemic_relation=normalise_relation(getattr(version, "systemic_relation", None)),
        outcome=getattr(version, "outcome", None),
        onset_study_day=study_day(
            impute_onset(
                getattr(version, "onset_on", None),
                getattr(version, "onset_until", None),
                reference_start,
            ),
            reference_start,
        ),
        aware_at=aware_at,
        origin=origin,
        onset_precision=_partial(version, reference_start),
        aware_at_supplied=getattr(version, "aware_at_supplied", None),
    )


def _partial(version: Any, reference_start: date | None) -> str | None:
    """The precision of a partial onset whose study day is shown (None otherwise)."""
    precision = getattr(version, "onset_precision", None)
    if getattr(version, "onset_on", None) is None or reference_start is None:
        return None
    return precision if precision in ("month", "year") else None


_YES = {"Y", "YES", "TRUE", "1"}


def ae_facts_from_record(
    record: Mapping[str, Any],
    *,
    trial_id: str,
    site: str,
    aware_at: datetime,
    version: int = 1,
    reference_start: date | None = None,
    origin: str = "site",
) -> AeFacts:
    """Build facts from an SDTM-named AE record, reading named variables only.

    Whatever else the export carried (NAME, INITIALS, BRTHDTC, narratives, AETERM)
    is never looked at, so it cannot leak into an alert.
    """

    def flag(name: str) -> bool:
        return str(record.get(name) or "").strip().upper() in _YES

    grade_text = record.get("AETOXGR")
    onset = record.get("AESTDTC")
    onset_on = date.fromisoformat(str(onset)[:10]) if onset and len(str(onset)) >= 10 else None
    return AeFacts(
        trial_id=trial_id,
        site=site,
        subject_id=str(record["USUBJID"]),
        ae_key=str(record.get("AESPID") or record.get("AESEQ")),
        version=version,
        ctcae_term=record.get("AEDECOD") or None,
        ctcae_soc=record.get("AEBODSYS") or None,
        grade=int(grade_text) if grade_text not in (None, "") else None,
        serious=flag("AESER"),
        death=flag("AESDTH"),
        life_threatening=flag("AESLIFE"),
        hospitalisation=flag("AESHOSP"),
        disability=flag("AESDISAB"),
        congenital_anomaly=flag("AESCONG"),
        medically_important=flag("AESMIE"),
        rt_relation=normalise_relation(record.get("AEREL")),
        systemic_relation=normalise_relation(record.get("AERELSYS")),
        outcome=(str(record["AEOUT"]).upper() if record.get("AEOUT") else None),
        onset_study_day=study_day(onset_on, reference_start),
        aware_at=aware_at,
        origin=origin,
    )
