"""Everything grading and derivation need about a set of subjects, read at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from aewatch.db import fast_frame, frame_of, iso_dates
from aewatch.models import AdverseEvent, AeVersion, LabResult, RtCourse, Subject
from aewatch.store.labs import TOX_COLUMNS


@dataclass
class SubjectData:
    """Labs (SDTM-named, with stored grades as ``old_<col>``), current AEs and RT courses
    (dates, lesion, liver involvement) of some subjects, and each subject's baseline
    reference date.

    ``labs`` holds only plausible results: an implausible one is never graded, a baseline
    or the evidence of a derived AE. ``implausible_labs`` lists those (``lab_pk``, the
    reason and the stored grades), so grades they had before are cleared."""

    subject_pks: dict[str, int]
    labs: pd.DataFrame
    ae: pd.DataFrame
    courses: pd.DataFrame
    ref_start: dict[str, Any]
    implausible_labs: pd.DataFrame | None = None


def load_subject_data(
    session: Session, pks: set[int], new_labs: Sequence[pd.DataFrame] = ()
) -> SubjectData:
    """The subjects' data; ``new_labs`` are results of theirs not written yet
    (``store.labs.NewLabs.frame``), taken as if they were."""
    ids = list(pks)
    subjects = session.execute(
        select(Subject.id, Subject.subject_id, Subject.reference_start).where(Subject.id.in_(ids))
    ).all()
    subject_pks = {s.subject_id: s.id for s in subjects}
    by_pk = {s.id: s.subject_id for s in subjects}
    labs = fast_frame(
        session,
        select(
            LabResult.id,
            LabResult.subject_pk,
            LabResult.test_code,
            LabResult.value,
            LabResult.unit,
            LabResult.lower_limit,
            LabResult.upper_limit,
            LabResult.collected_dtc,
            LabResult.baseline_flag,
            LabResult.implausible,
            *[getattr(LabResult, c) for c in TOX_COLUMNS],
        ).where(LabResult.subject_pk.in_(ids)),
        columns=[
            "lab_pk",
            "subject_pk",
            "LBTESTCD",
            "LBSTRESN",
            "LBSTRESU",
            "LBSTNRLO",
            "LBSTNRHI",
            "LBDTC",
            "baseline_flag",
            "implausible",
            *[f"old_{c}" for c in TOX_COLUMNS],
        ],
    )
    if new_labs:  # one order whichever were written first: the subject's, then entry
        labs = pd.concat([labs, *new_labs], ignore_index=True)
        labs = labs.sort_values(["subject_pk", "lab_pk"], kind="stable", ignore_index=True)
    flagged = labs["implausible"].notna().to_numpy(dtype=bool)
    implausible = labs.loc[flagged, ["lab_pk", "implausible", *[f"old_{c}" for c in TOX_COLUMNS]]]
    labs = labs.loc[~flagged].drop(columns=["implausible"]).reset_index(drop=True)
    labs["USUBJID"] = labs["subject_pk"].map(by_pk)
    labs["LBBLFL"] = np.where(labs["baseline_flag"].astype(bool), "Y", "")
    courses = frame_of(
        session,
        select(
            RtCourse.subject_pk,
            RtCourse.start_on,
            RtCourse.end_on,
            RtCourse.lesion,
            RtCourse.liver_involved,
        ).where(RtCourse.subject_pk.in_(ids)),
        ["subject_pk", "start_on", "end_on", "lesion", "liver_involved"],
    )
    courses["USUBJID"] = courses["subject_pk"].map(by_pk)
    ae = fast_frame(
        session,
        select(
            AdverseEvent.subject_pk,
            AdverseEvent.origin,
            AeVersion.ctcae_term,
            AeVersion.grade,
            AeVersion.onset_on,
            AeVersion.end_on,
        )
        .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
        .where(AdverseEvent.subject_pk.in_(ids), AeVersion.set_aside.is_(None)),
        ["subject_pk", "origin", "ctcae_term", "grade", "AESTDTC", "AEENDTC"],
    )
    ae["USUBJID"] = ae["subject_pk"].map(by_pk)
    for column in ("AESTDTC", "AEENDTC"):  # ISO text, whichever form the driver gives
        ae[column] = iso_dates(ae[column])
    # Baseline reference: the first RT start (this trial), else DM.RFXSTDTC.
    ref = {s.subject_id: s.reference_start for s in subjects if s.reference_start}
    if not courses.empty:
        first = courses.dropna(subset=["start_on"]).groupby("USUBJID")["start_on"].min()
        ref.update(first.to_dict())
    return SubjectData(subject_pks, labs, ae, courses, ref, implausible.reset_index(drop=True))
