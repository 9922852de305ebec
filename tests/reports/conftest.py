"""A hand-built five-patient trial in which every count is known.

Safety population = P01–P04 (P05 has not started RT). Data cut February 2026.

P01 S01  RT 5×8 Gy (BED 72) from 01-10. ALT increased v1 grade 2 (recorded 02-01) → v2
         grade 3 (recorded 02-20), RT possible. Hypertension grade 2 with onset 01-06,
         before RT: not treatment-emergent. Derived RILD (syndrome, evidence JSON).
         Labs: ALT 0 → 3; BILI/ALB for ALBI (−2.586 grade 2 → −1.538 grade 2);
         with INR, Child-Pugh 5 (A) → 8 (B): a rise of 3 points.
P02 S01  RT 3×10 Gy (BED 60) from 01-12. Fatigue twice: grade 1 (systemic probable),
         grade 2 (RT possible): one patient at worst grade 2, two events.
P03 S02  RT 5×7 Gy (BED 59.5, deviation) from 01-25. SAE gastric hemorrhage grade 3,
         hospitalisation, RT probable, systemic possible, drug interrupted, 24 h aware→recorded.
P04 S02  RT 5×8 Gy from 01-26, died 02-25. Hepatic failure grade 5 (SAE, death, RT
         possible); lab-derived platelet count decreased grade 3 (no attribution).
         Labs: PLAT 1 → 3.
P05 S01  enrolled 02-20, no RT: not in the denominator; its nausea is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest

from aewatch.models import (
    AdverseEvent,
    AeVersion,
    Alert,
    LabResult,
    QuarantineEntry,
    RtCourse,
    RuleStatusRecord,
    Site,
    Subject,
)
from aewatch.trials import ensure_trial


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@dataclass(frozen=True)
class SmallTrial:
    trial_pk: int


class Builder:
    def __init__(self, session: Any, trial_pk: int) -> None:
        self.session = session
        self.trial_pk = trial_pk
        self.subjects: dict[str, Subject] = {}

    def subject(self, subject_id: str, site: str, enrolled: str, **extra: Any) -> Subject:
        row = Subject(
            trial_pk=self.trial_pk,
            subject_id=subject_id,
            study_id="NCT06261047",
            site=site,
            enrolled_on=date.fromisoformat(enrolled),
            updated_at=at(enrolled),
            **extra,
        )
        self.session.add(row)
        self.session.flush()
        self.subjects[subject_id] = row
        return row

    def rt(self, subject_id: str, fractions: int, dose: float, start: str, end: str) -> None:
        bed = round(fractions * dose * (1 + dose / 10), 6)
        self.session.add(
            RtCourse(
                subject_pk=self.subjects[subject_id].id,
                course_key=f"{subject_id}-L1",
                lesion="liver segment",
                treatment="SBRT",
                dose_per_fraction_gy=dose,
                fractions=fractions,
                total_dose_gy=fractions * dose,
                start_on=date.fromisoformat(start),
                end_on=date.fromisoformat(end),
                bed_gy=bed,
                eqd2_gy=round(bed / 1.2, 6),
                alpha_beta_gy=10.0,
                bed_below_minimum=bed < 60,
                updated_at=at(start),
            )
        )

    def ae(
        self, subject_id: str, key: str, versions: list[dict[str, Any]], origin: str = "site"
    ) -> None:
        identity = AdverseEvent(
            trial_pk=self.trial_pk,
            subject_pk=self.subjects[subject_id].id,
            ae_key=key,
            origin=origin,
            current_version=len(versions),
            created_at=versions[0]["recorded_at"],
        )
        self.session.add(identity)
        self.session.flush()
        for number, content in enumerate(versions, start=1):
            self.session.add(
                AeVersion(
                    ae_pk=identity.id,
                    version=number,
                    is_current=number == len(versions),
                    content_hash=f"{key}-{number}",
                    **content,
                )
            )

    def lab(
        self,
        subject_id: str,
        test: str,
        day: str,
        value: float,
        unit: str,
        high: int | None = None,
        low: int | None = None,
        baseline: bool = False,
    ) -> None:
        self.session.add(
            LabResult(
                subject_pk=self.subjects[subject_id].id,
                lab_key=f"{subject_id}-{test}-{day}",
                test_code=test,
                value=value,
                unit=unit,
                collected_on=date.fromisoformat(day),
                baseline_flag=baseline,
                tox_grade_high=high,
                tox_grade_low=low,
                updated_at=at(day),
            )
        )


def ae_version(
    term: str, soc: str, grade: int, onset: str, recorded: str, **extra: Any
) -> dict[str, Any]:
    return {
        "ctcae_term": term,
        "ctcae_soc": soc,
        "grade": grade,
        "onset_on": date.fromisoformat(onset),
        "recorded_at": at(recorded),
        **extra,
    }


INV = "Investigations"
GEN = "General disorders and administration site conditions"
GI = "Gastrointestinal disorders"
HEP = "Hepatobiliary disorders"


def build_small_trial(sessions: Any, settings: Any) -> SmallTrial:
    with sessions() as session, session.begin():
        trial = ensure_trial(session, settings, at("2026-01-01"))
        b = Builder(session, trial.id)
        b.subject(
            "P01",
            "S01",
            "2026-01-05",
            oligoprogression="intrahepatic",
            systemic_therapy="atezolizumab + bevacizumab",
            last_contact_on=date(2026, 2, 26),
        )
        b.subject(
            "P02",
            "S01",
            "2026-01-08",
            oligoprogression="intrahepatic",
            systemic_therapy="lenvatinib",
            last_contact_on=date(2026, 2, 20),
        )
        b.subject(
            "P03",
            "S02",
            "2026-01-20",
            oligoprogression="extrahepatic",
            systemic_therapy="lenvatinib",
            last_contact_on=date(2026, 2, 24),
        )
        b.subject(
            "P04",
            "S02",
            "2026-01-22",
            oligoprogression="intrahepatic",
            systemic_therapy="sorafenib",
            died_on=date(2026, 2, 25),
        )
        b.subject(
            "P05",
            "S01",
            "2026-02-20",
            oligoprogression="extrahepatic",
            systemic_therapy="lenvatinib",
        )
        b.rt("P01", 5, 8.0, "2026-01-10", "2026-01-16")
        b.rt("P02", 3, 10.0, "2026-01-12", "2026-01-16")
        b.rt("P03", 5, 7.0, "2026-01-25", "2026-01-31")
        b.rt("P04", 5, 8.0, "2026-01-26", "2026-02-01")

        b.ae(
            "P01",
            "AE-1",
            [
                ae_version(
                    "Alanine aminotransferase increased",
                    INV,
                    2,
                    "2026-01-25",
                    "2026-02-01",
                    rt_relation="possible",
                    systemic_relation="unlikely",
                ),
                ae_version(
                    "Alanine aminotransferase increased",
                    INV,
                    3,
                    "2026-01-25",
                    "2026-02-20",
                    rt_relation="possible",
                    systemic_relation="unlikely",
                ),
            ],
        )
        b.ae(
            "P01",
            "AE-0",
            [
                ae_version(
                    "Hypertension",
                    "Vascular disorders",
                    2,
                    "2026-01-06",
                    "2026-01-07",
                    systemic_relation="definite",
                )
            ],
        )
        b.ae(
            "P01",
            "RILD-1",
            [
                ae_version(
                    "Radiation-induced liver disease (non-classic)",
                    HEP,
                    3,
                    "2026-01-25",
                    "2026-02-20",
                    evidence={"form": "non-classic", "alt_x_uln": 6.2, "window_days": 90},
                )
            ],
            origin="syndrome",
        )
        b.ae(
            "P02",
            "AE-1",
            [
                ae_version(
                    "Fatigue",
                    GEN,
                    1,
                    "2026-01-20",
                    "2026-01-21",
                    rt_relation="unrelated",
                    systemic_relation="probable",
                )
            ],
        )
        b.ae(
            "P02",
            "AE-2",
            [
                ae_version(
                    "Fatigue",
                    GEN,
                    2,
                    "2026-02-05",
                    "2026-02-06",
                    rt_relation="possible",
                    systemic_relation="unlikely",
                )
            ],
        )
        b.ae(
            "P03",
            "AE-1",
            [
                ae_version(
                    "Gastric hemorrhage",
                    GI,
                    3,
                    "2026-02-10",
                    "2026-02-11",
                    serious=True,
                    hospitalisation=True,
                    rt_relation="probable",
                    systemic_relation="possible",
                    action_taken="DRUG INTERRUPTED",
                    outcome="RECOVERING/RESOLVING",
                    aware_at=at("2026-02-10"),
                    aware_at_supplied=True,
                )
            ],
        )
        b.ae(
            "P04",
            "AE-1",
            [
                ae_version(
                    "Hepatic failure",
                    HEP,
                    5,
                    "2026-02-20",
                    "2026-02-21",
                    serious=True,
                    death=True,
                    rt_relation="possible",
                    systemic_relation="unlikely",
                    outcome="FATAL",
                    aware_at=at("2026-02-21", 8),
                    aware_at_supplied=False,  # no AEAWDTC: the receipt time stands in
                )
            ],
        )
        b.ae(
            "P04",
            "LAB-PLAT-1",
            [ae_version("Platelet count decreased", INV, 3, "2026-02-15", "2026-02-16")],
            origin="lab",
        )
        b.ae(
            "P05",
            "AE-1",
            [ae_version("Nausea", GI, 1, "2026-02-21", "2026-02-22", rt_relation="unrelated")],
        )

        b.lab("P01", "ALT", "2026-01-09", 30, "U/L", high=0, baseline=True)
        b.lab("P01", "ALT", "2026-01-25", 210, "U/L", high=3)
        b.lab("P01", "BILI", "2026-01-09", 17.1, "umol/L", high=0, baseline=True)
        b.lab("P01", "ALB", "2026-01-09", 40, "g/L", low=0, baseline=True)
        b.lab("P01", "BILI", "2026-01-25", 34.2, "umol/L", high=1)
        b.lab("P01", "ALB", "2026-01-25", 30, "g/L", low=1)
        b.lab("P01", "INR", "2026-01-09", 1.0, "ratio", high=0, baseline=True)
        b.lab("P01", "INR", "2026-01-25", 1.8, "ratio", high=2)
        b.lab("P04", "PLAT", "2026-01-25", 120, "10^9/L", low=1)
        b.lab("P04", "PLAT", "2026-02-15", 40, "10^9/L", low=3)

        session.add_all(
            [
                RuleStatusRecord(
                    trial_pk=trial.id,
                    rule_name="grade3-rt-related",
                    evaluated_at=at("2026-02-11", 10),
                    evaluable_n=2,
                    toxic_n=1,
                    stop_at=2,
                    cushion=1,
                    state="approaching",
                    previous_state="ok",
                ),
                RuleStatusRecord(
                    trial_pk=trial.id,
                    rule_name="grade3-rt-related",
                    evaluated_at=at("2026-02-21", 10),
                    evaluable_n=3,
                    toxic_n=2,
                    stop_at=3,
                    cushion=1,
                    state="approaching",
                    previous_state="approaching",
                ),
            ]
        )
        alert = {
            "trial_pk": trial.id,
            "priority": 0,
            "recipients": ["so@example.org"],
            "payload": {},
            "status": "sent",
            "attempts": 1,
            "message_id": "<m>",
        }
        session.add_all(
            [
                Alert(
                    dedup_key="deviation:P03",
                    kind="deviation",
                    subject_id="P03",
                    subject_line="deviation",
                    created_at=at("2026-01-31"),
                    next_attempt_at=at("2026-01-31"),
                    sent_at=at("2026-01-31"),
                    **{**alert, "message_id": "<m0>"},
                ),
                Alert(
                    dedup_key="sae-initial:P03",
                    kind="sae-initial",
                    subject_id="P03",
                    subject_line="SAE",
                    created_at=at("2026-02-11"),
                    next_attempt_at=at("2026-02-11"),
                    sent_at=at("2026-02-11", 10),
                    requires_ack=True,
                    acknowledged_at=at("2026-02-11", 13),
                    **{**alert, "message_id": "<m1>"},
                ),
                Alert(
                    dedup_key="death:P04",
                    kind="death",
                    subject_id="P04",
                    subject_line="death",
                    created_at=at("2026-02-21"),
                    next_attempt_at=at("2026-02-21"),
                    sent_at=at("2026-02-21", 10),
                    requires_ack=True,
                    **{**alert, "message_id": "<m2>"},
                ),
            ]
        )
        quarantine = {"trial_pk": trial.id, "file_name": "ae.csv", "reason": "test"}
        session.add_all(
            [
                QuarantineEntry(
                    kind="rejected", state="open", created_at=at("2026-02-03"), **quarantine
                ),
                QuarantineEntry(
                    kind="pending", state="open", created_at=at("2026-02-04"), **quarantine
                ),
                QuarantineEntry(
                    kind="query", state="resolved", created_at=at("2026-02-05"), **quarantine
                ),
            ]
        )
        session.add_all(
            [
                Site(
                    trial_pk=trial.id,
                    site_code="S01",
                    first_data_at=at("2026-01-05"),
                    last_data_at=at("2026-02-25"),
                ),
                Site(
                    trial_pk=trial.id,
                    site_code="S02",
                    first_data_at=at("2026-01-10"),
                    last_data_at=at("2026-01-15"),
                ),
            ]
        )
        return SmallTrial(trial_pk=trial.id)


@pytest.fixture
def small_trial(sessions: Any, settings: Any) -> SmallTrial:
    return build_small_trial(sessions, settings)
