"""EX records as aewatch reads them, and the data queries each record raises by itself.

A record is kept whatever its problem (its dates still place the patient on treatment);
what it cannot support is said in a query that tells the site what to send. Problems of
a whole course (BED too high, overlapping records) are found when courses are built.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aewatch.exposure.rules import ExposureRules
from aewatch.exposure.vocabulary import (
    RADIOTHERAPY,
    UNKNOWN,
    classify_treatments,
    gy_per_unit,
    liver_involvements,
)

QUERY_COLUMNS = ["field", "value", "reason"]


def read_records(frame: pd.DataFrame, rules: ExposureRules) -> pd.DataFrame:
    """Add what each record is: ``category`` (radiotherapy | systemic | unknown),
    ``agent``, ``line``, ``recognised``, ``dose_gy`` (per fraction, Gy; NaN when the unit is
    not a radiation unit), ``liver`` (True / False / None) and ``fractions_known``."""
    vocabulary = rules.vocabulary
    factor = gy_per_unit(frame["dose_unit"], vocabulary)
    kinds = classify_treatments(frame["treatment"], factor.notna(), vocabulary)
    out = frame.copy()
    for column in ("category", "agent", "line", "recognised", "both"):
        out[column] = kinds[column]
    dose = pd.to_numeric(frame["dose"], errors="coerce").astype("float64")
    out["dose_gy"] = dose * factor
    out["liver"] = liver_involvements(frame["lesion"], vocabulary)
    single_day = (frame["end_on"].isna() | (frame["end_on"] == frame["start_on"])) & (
        frame["start_precision"].fillna("day") == "day"
    )
    out["fractions_known"] = frame["fractions"].notna() | single_day
    return out


def record_queries(records: pd.DataFrame, rules: ExposureRules) -> pd.DataFrame:
    """One row per data query (indexed like ``records``): field, value, reason."""
    parts: list[pd.DataFrame] = []

    def ask(
        mask: pd.Series | np.ndarray, field: str, values: pd.Series, reasons: pd.Series
    ) -> None:
        mask = pd.Series(mask, index=records.index).fillna(False).astype(bool)
        if mask.any():
            parts.append(
                pd.DataFrame(
                    {"field": field, "value": values[mask], "reason": reasons[mask]},
                    index=records.index[mask],
                )
            )

    treatment = records["treatment"].fillna("").astype(str)
    lesion = records["lesion"].fillna("").astype(str)
    unit = records["dose_unit"].fillna("").astype(str)
    dose = pd.to_numeric(records["dose"], errors="coerce")
    rt = records["category"] == RADIOTHERAPY
    limit = rules.max_dose_per_fraction_gy

    ask(
        records["both"],
        "EXTRT",
        treatment,
        "EXTRT '" + treatment + "' names radiotherapy and a drug in one record: send one "
        "record per treatment; not counted as radiotherapy until then",
    )
    ask(
        (records["category"] == UNKNOWN) & ~records["both"],
        "EXTRT",
        treatment,
        "EXTRT '" + treatment + "' is neither a radiotherapy term nor a known systemic drug: "
        "correct EXTRT (or add it to [radiotherapy].treatments or "
        "[systemic_therapy].treatments); not counted as radiotherapy (first-RT date, safety "
        "population) until it is recognised",
    )
    ask(
        rt & ~records["recognised"],
        "EXTRT",
        treatment,
        "EXTRT '" + treatment + "' is not a known radiotherapy term; read as radiotherapy "
        "because the dose is in " + unit + ": confirm (or add it to [radiotherapy].treatments)",
    )
    ask(
        rt & dose.isna(),
        "EXDOSE",
        pd.Series("", index=records.index),
        pd.Series(
            "EXDOSE is empty: give the dose per fraction (Gy); the course keeps its dates, "
            "its BED is unknown until then",
            index=records.index,
        ),
    )
    ask(
        rt & dose.notna() & records["dose_gy"].isna(),
        "EXDOSU",
        unit,
        np.where(
            unit == "",
            "EXDOSU is empty: give the unit of EXDOSE (Gy or cGy)",
            "EXDOSU '" + unit + "' is not a radiotherapy dose unit (Gy or cGy)",
        )
        + "; the course keeps its dates, its BED is unknown until then",
    )
    ask(
        rt & ~records["fractions_known"],
        "EXNFRAC",
        pd.Series("", index=records.index),
        "EXNFRAC is empty but the record covers "
        + _span_text(records)
        + ": give the number of fractions (or send one record per fraction); the course "
        "keeps its dates, its BED is unknown until then",
    )
    ask(
        rt & (records["dose_gy"] > limit),
        "EXDOSE",
        dose.map(lambda v: f"{v:g}"),
        _too_high_reasons(records, limit, rules.alpha_beta_gy),
    )
    ask(
        rt & (lesion.str.strip() == ""),
        "EXLOC",
        lesion,
        pd.Series(
            "EXLOC is empty: name the irradiated lesion (e.g. 'liver segment VII', 'bone T10') "
            "so the course is known per lesion and as liver or not; until then RILD is "
            "assessed as if the liver was irradiated",
            index=records.index,
        ),
    )
    ask(
        rt & (lesion.str.strip() != "") & records["liver"].isna(),
        "EXLOC",
        lesion,
        "EXLOC '" + lesion + "' is not a recognised site: say whether the target is in the "
        "liver (e.g. 'liver segment VII', 'bone T10') or add the word to "
        "[radiotherapy].liver_sites / other_sites; until then RILD is assessed as if the "
        "liver was irradiated",
    )
    if not parts:
        return pd.DataFrame(columns=QUERY_COLUMNS)
    return pd.concat(parts)[QUERY_COLUMNS]


def _span_text(records: pd.DataFrame) -> pd.Series:
    days = (records["end_on"] - records["start_on"]).dt.days
    partial = records["start_precision"].fillna("day") != "day"
    text = (days + 1).astype("Int64").astype(str) + " days"
    return text.where(~partial, "a partial date")


def _too_high_reasons(records: pd.DataFrame, limit: float, alpha_beta: float) -> pd.Series:
    """Say what the number probably is: a total dose, or cGy written as Gy."""
    dose_gy = records["dose_gy"]
    n = pd.to_numeric(records["fractions"], errors="coerce")
    reasons = []
    for d, fractions in zip(dose_gy.to_numpy(float), n.to_numpy(float), strict=True):
        text = f"EXDOSE {d:g} Gy per fraction is above the plausible {limit:g} Gy"
        if not np.isnan(fractions) and fractions > 1:
            bed = fractions * d * (1 + d / alpha_beta)
            text += (
                f" (with EXNFRAC {fractions:g}: {d * fractions:g} Gy in total, "
                f"BED {bed:.1f} Gy{alpha_beta:g})"
                f": EXDOSE must be the dose per fraction; if {d:g} Gy is the total dose, "
                f"EXDOSE is {d / fractions:g}"
            )
        elif d / 100 <= limit:
            text += f": is the unit cGy ({d / 100:g} Gy)?"
        reasons.append(
            text + "; the course is kept but not used for the BED deviation check until "
            "the dose is corrected"
        )
    return pd.Series(reasons, index=records.index)
