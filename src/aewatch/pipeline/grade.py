"""Stage 6, grade: CTCAE v5.0 grades for the labs of every subject the file touched.

Not only new labs: a new RT course or DM record moves the baseline, so every touched
subject is regraded; only grades that changed are written. An implausible result is not
graded (nor a baseline): a grade it had from an earlier, plausible export is cleared and
its note says why.
"""

from __future__ import annotations

import pandas as pd

from aewatch.pipeline.context import FileContext, GradedLabs, Touched
from aewatch.store.labs import TOX_COLUMNS, store_lab_grades
from aewatch.store.subject_data import SubjectData, load_subject_data


def grade(ctx: FileContext, so_far: Touched) -> Touched:
    """Grade the touched subjects' labs; the file's new results (``so_far.new_labs``,
    not written yet) are graded with the stored ones and written with their grades."""
    if not so_far.subjects:
        return Touched()
    data = load_subject_data(
        ctx.session, so_far.subjects | so_far.lab_subjects, [n.frame() for n in so_far.new_labs]
    )
    from aewatch.ctcae import DICTIONARY_VERSION

    cleared = ungraded(data.implausible_labs)
    labs = grade_subject_labs(data) if not data.labs.empty else None
    written = [f for f in (cleared, labs) if f is not None]
    if written or so_far.new_labs:
        columns = ["lab_pk", *TOX_COLUMNS, *[f"old_{c}" for c in TOX_COLUMNS]]
        store_lab_grades(
            ctx.session,
            pd.concat([f[columns] for f in written], ignore_index=True)
            if written
            else pd.DataFrame(columns=columns),
            DICTIONARY_VERSION,
            so_far.new_labs,
        )
    if labs is None:
        return Touched()
    return Touched(graded=GradedLabs(data, labs))


def ungraded(implausible: pd.DataFrame | None) -> pd.DataFrame | None:
    """Implausible results with no grade, and a note that says why."""
    if implausible is None or implausible.empty:
        return None
    out = implausible.copy()
    for column in TOX_COLUMNS:
        out[column] = None
    out["tox_note"] = "not graded: " + out["implausible"].astype(str)
    return out


def grade_subject_labs(data: SubjectData) -> pd.DataFrame:
    """Each lab with its grades; the baseline is the last value on or before the first
    RT (else DM.RFXSTDTC, else LBBLFL), flagged ``is_baseline``."""
    from aewatch.ctcae.labs import derive_baseline, grade_labs

    labs = data.labs
    ref = pd.Series({k: pd.Timestamp(v) for k, v in data.ref_start.items()}, dtype=object)
    baseline = derive_baseline(labs, ref if len(ref) else None)
    grades = grade_labs(labs, baseline)
    out = pd.concat([labs, grades], axis=1)
    base_rows = set(baseline["BASEROW"].tolist()) if "BASEROW" in baseline else set()
    out["is_baseline"] = out.index.isin(list(base_rows))
    return out
