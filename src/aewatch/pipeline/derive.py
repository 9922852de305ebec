"""Stage 7, derive: AEs the site did not report, stored as AEs of their own origin.

- a lab grade ≥ the configured level with no site AE of that CTCAE term: "lab-derived";
- liver syndromes after radiotherapy that involved the liver (classic and non-classic
  RILD) and potential Hy's law cases: "syndrome".

Then every lab-derived AE of the subjects the file touched is linked to the site AE that
reports the same abnormality, if any (aewatch.safety.lab_links): the site's AE counts.
"""

from __future__ import annotations

import pandas as pd

from aewatch.config import Settings
from aewatch.pipeline.context import FileContext, Touched
from aewatch.store.adverse_events import store_adverse_events
from aewatch.store.subject_data import SubjectData

SERIOUSNESS = (
    "serious",
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "medically_important",
)


def derive(ctx: FileContext, so_far: Touched) -> Touched:
    touched = _derive_events(ctx, so_far)
    from aewatch.store.lab_links import reconcile_lab_events

    touched.queries += reconcile_lab_events(
        ctx.session,
        ctx.trial_pk,
        so_far.subjects | so_far.lab_subjects,
        ctx.settings.grading.lab_ae_link_days,
        ctx.file_name,
        ctx.now,
    )
    return touched


def _derive_events(ctx: FileContext, so_far: Touched) -> Touched:
    graded = so_far.graded
    if graded is None:
        return Touched()
    touched = Touched()
    lab_events = lab_derived_events(graded.labs, graded.data, ctx.settings)
    syndromes = liver_syndromes(graded.data, ctx.settings)
    for origin, events in (("lab", lab_events), ("syndrome", syndromes)):
        if events.empty:
            continue
        result = store_adverse_events(
            ctx.session,
            ctx.trial_pk,
            events,
            graded.data.subject_pks,
            None,
            ctx.now,
            ctx.now,
            origin=origin,
        )
        touched.ae_versions.extend(result.new_ae_versions)
        touched.derived_versions.extend(result.new_ae_versions)
    return touched


def lab_derived_events(graded: pd.DataFrame, data: SubjectData, settings: Settings) -> pd.DataFrame:
    """Worst post-baseline lab grade ≥ the configured level, per subject and CTCAE term,
    where the site reported no AE with that term: an AE flagged "lab-derived"."""
    level = settings.grading.lab_derived_ae_min_grade
    measured = ["LBTESTCD", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI"]
    measured = [c for c in measured if c in graded.columns]
    parts = []
    for direction in ("low", "high"):
        part = graded[["USUBJID", "LBDTC", "is_baseline", "lab_pk", *measured]].copy()
        part["term"] = graded[f"tox_term_{direction}"]
        part["lab_grade"] = pd.to_numeric(graded[f"tox_grade_{direction}"], errors="coerce")
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    long = long[(long["lab_grade"] >= level) & ~long["is_baseline"] & long["term"].notna()]
    if long.empty:
        return pd.DataFrame()
    long["day"] = long["LBDTC"].astype(str).str[:10]
    ref = pd.Series(data.ref_start).map(lambda d: d.isoformat()) if data.ref_start else None
    if ref is not None:
        starts = long["USUBJID"].map(ref)
        long = long[starts.isna() | (long["day"] >= starts.fillna(""))]
    long = long.sort_values(
        ["USUBJID", "term", "lab_grade", "day"], ascending=[True, True, False, True]
    )
    worst = long.drop_duplicates(["USUBJID", "term"], keep="first")
    site = data.ae[data.ae["origin"] == "site"]
    reported = set(zip(site["USUBJID"], site["ctcae_term"], strict=True))
    worst = worst[
        [(s, t) not in reported for s, t in zip(worst["USUBJID"], worst["term"], strict=True)]
    ]
    if worst.empty:
        return pd.DataFrame()
    from aewatch.ctcae.dictionary import load_dictionary

    dictionary = load_dictionary()
    measures = _lab_measures(worst, graded)
    events = pd.DataFrame(
        {
            "USUBJID": worst["USUBJID"].to_numpy(),
            "ae_key": ("LAB:" + worst["term"]).to_numpy(),
            "ctcae_soc": [getattr(dictionary.lookup(t), "soc", None) for t in worst["term"]],
            "verbatim_term": worst["term"].to_numpy(),
            "decoded_term": worst["term"].to_numpy(),
            "ctcae_term": worst["term"].to_numpy(),
            "reported_grade": pd.array([None] * len(worst), dtype="Int64"),
            "grade": pd.array(worst["lab_grade"].astype(int).to_numpy(), dtype="Int64"),
            "onset_on": pd.to_datetime(worst["day"]).to_numpy(),
            "onset_precision": "day",
            "coding": "exact",
            "evidence": [
                {
                    "source": "lab-derived, not site-reported",
                    "lab_result_id": int(pk),
                    "grade": int(g),
                    "date": day,
                    **measure,
                }
                for pk, g, day, measure in zip(
                    worst["lab_pk"], worst["lab_grade"], worst["day"], measures, strict=True
                )
            ],
            "ROW": None,
        }
    )
    return _not_serious(events)


def _lab_measures(worst: pd.DataFrame, graded: pd.DataFrame) -> list[dict[str, object]]:
    """The value behind each lab-derived AE with its limits and the patient's baseline,
    named the way aewatch.alerts.evidence reads them (ALT, ALT_ULN, ALT_baseline …)."""
    if "LBTESTCD" not in worst.columns:
        return [{} for _ in range(len(worst))]
    base = graded[graded["is_baseline"]]
    baseline = dict(
        zip(
            zip(base["USUBJID"], base["LBTESTCD"], strict=True),
            pd.to_numeric(base["LBSTRESN"], errors="coerce"),
            strict=True,
        )
    )
    out = []
    for row in worst.to_dict("records"):
        code = str(row["LBTESTCD"])
        values = {
            "test": code,
            code: _number(row.get("LBSTRESN")),
            f"{code}_unit": row.get("LBSTRESU") or None,
            f"{code}_ULN": _number(row.get("LBSTNRHI")),
            f"{code}_LLN": _number(row.get("LBSTNRLO")),
            f"{code}_baseline": _number(baseline.get((row["USUBJID"], code))),
            f"{code}_date": row["day"],
        }
        out.append({k: v for k, v in values.items() if v is not None})
    return out


def _number(value: object) -> float | None:
    number = pd.to_numeric(value, errors="coerce")
    return None if pd.isna(number) else float(number)


def liver_syndromes(data: SubjectData, settings: Settings) -> pd.DataFrame:
    """Classic / non-classic RILD within the window after a course that may involve the
    liver (``liver_involved`` not False), and potential Hy's law."""
    from aewatch.ctcae.hepatic import detect_hys_law, detect_rild, liver_timeline

    window = settings.grading.rild_window_days
    courses = data.courses.dropna(subset=["start_on"])
    site_ae = data.ae[data.ae["origin"] == "site"]
    frames = []
    if not courses.empty:
        timeline = liver_timeline(data.labs, site_ae, courses, window)
        frames.append(detect_rild(timeline, window))
    frames.append(detect_hys_law(data.labs, settings.grading.hys_law_window_days))
    found = [f for f in frames if not f.empty]
    if not found:
        return pd.DataFrame()
    events = pd.concat(found, ignore_index=True)
    out = pd.DataFrame(
        {
            "USUBJID": events["USUBJID"].to_numpy(),
            "ae_key": ("SYNDROME:" + events["event"].astype(str)).to_numpy(),
            "verbatim_term": events["event"].to_numpy(),
            "decoded_term": events["event"].to_numpy(),
            "ctcae_term": events["event"].to_numpy(),
            "ctcae_soc": "Hepatobiliary disorders",
            "reported_grade": pd.array([None] * len(events), dtype="Int64"),
            "grade": pd.array([None] * len(events), dtype="Int64"),
            "onset_on": pd.to_datetime(events["onset_date"]).to_numpy(),
            "onset_precision": "day",
            "coding": "derived",
            "evidence": [
                {"summary": str(text), "items": items if isinstance(items, dict) else {}}
                for text, items in zip(events["evidence"], events["evidence_items"], strict=True)
            ],
            "ROW": None,
        }
    )
    return _not_serious(out)


def _not_serious(frame: pd.DataFrame) -> pd.DataFrame:
    """A derived AE carries no seriousness: only a site can say an event was serious."""
    from aewatch.ctcae import DICTIONARY_VERSION

    frame["dictionary_version"] = DICTIONARY_VERSION
    for column in SERIOUSNESS:
        frame[column] = False
    return frame
