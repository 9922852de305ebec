"""The liver picture in multiples of ULN: eDISH and each patient's liver panel over time.

eDISH (evaluation of drug-induced serious hepatotoxicity; FDA DILI guidance 2009, as in
safetyGraphics): per patient, the peak post-baseline ALT or AST (× ULN, the higher of
the two) against the peak total bilirubin (× ULN), with the Hy's law lines at 3 × ULN
and 2 × ULN. The peaks need not be on the same day, so the upper-right quadrant is
"potential Hy's law" to look at, never a diagnosis (in HCC the tumour, HBV and the
systemic therapy confound it, safety_domain §3.4). ULN is each result's own site
limit (LBSTNRHI). Pure pandas.
"""

from __future__ import annotations

import pandas as pd

PANEL_TESTS = ("ALT", "AST", "ALP", "BILI")
TRANSAMINASE_LIMIT = 3.0
BILIRUBIN_LIMIT = 2.0
QUADRANTS = (
    "Potential Hy's law",
    "Hyperbilirubinemia",
    "Temple's corollary",
    "Normal range",
    "Not assessable",
)
PANEL_MAX_PATIENTS = 16


def liver_panel(graded: pd.DataFrame) -> pd.DataFrame:
    """Long frame: subject, test, study day, value × ULN (post-baseline and baseline)."""
    labs = graded[
        graded["test_code"].isin(PANEL_TESTS)
        & graded["value"].notna()
        & (pd.to_numeric(graded["upper_limit"], errors="coerce") > 0)
    ].copy()
    labs["x_uln"] = (labs["value"] / pd.to_numeric(labs["upper_limit"])).round(3)
    delta = (labs["collected_on"] - labs["first_rt_on"]).dt.days
    labs["study_day"] = delta.where(delta < 0, delta + 1).astype("Int64")
    columns = ["subject_id", "test_code", "study_day", "x_uln", "is_baseline", "is_post"]
    return (
        labs[columns].sort_values(["subject_id", "test_code", "study_day"]).reset_index(drop=True)
    )


def peaks(panel: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Per patient: peak post-baseline ALT, AST, transaminase and bilirubin × ULN, quadrant."""
    post = panel[panel["is_post"]]
    table = post.pivot_table(
        index="subject_id", columns="test_code", values="x_uln", aggfunc="max"
    ).reindex(columns=list(PANEL_TESTS))
    table = table.reindex(population["subject_id"])
    out = pd.DataFrame(
        {
            "subject_id": table.index,
            "peak_alt_x_uln": table["ALT"].to_numpy(),
            "peak_ast_x_uln": table["AST"].to_numpy(),
            "peak_alp_x_uln": table["ALP"].to_numpy(),
            "peak_bili_x_uln": table["BILI"].to_numpy(),
        }
    )
    out["peak_transaminase_x_uln"] = out[["peak_alt_x_uln", "peak_ast_x_uln"]].max(axis=1)
    out["quadrant"] = quadrant(out["peak_transaminase_x_uln"], out["peak_bili_x_uln"])
    return out.reset_index(drop=True)


def quadrant(transaminase: pd.Series, bilirubin: pd.Series) -> pd.Series:
    high_t = transaminase >= TRANSAMINASE_LIMIT
    high_b = bilirubin >= BILIRUBIN_LIMIT
    out = pd.Series("Normal range", index=transaminase.index, dtype=object)
    out[high_t & ~high_b] = "Temple's corollary"
    out[~high_t & high_b] = "Hyperbilirubinemia"
    out[high_t & high_b] = "Potential Hy's law"
    out[transaminase.isna() | bilirubin.isna()] = "Not assessable"
    return out


def quadrant_counts(peak: pd.DataFrame) -> pd.DataFrame:
    """Open part: patients per eDISH quadrant."""
    counts = peak["quadrant"].value_counts().reindex(list(QUADRANTS), fill_value=0)
    return counts.rename_axis("quadrant").reset_index(name="patients")


def patients_of_interest(peak: pd.DataFrame) -> list[str]:
    """Whose panel the closed part draws: outside the normal quadrant or ALP ≥ 2 × ULN,
    worst first (at most PANEL_MAX_PATIENTS)."""
    flagged = peak[
        peak["quadrant"].isin(QUADRANTS[:3]) | (peak["peak_alp_x_uln"] >= BILIRUBIN_LIMIT)
    ]
    order = flagged.assign(
        score=flagged[["peak_transaminase_x_uln", "peak_bili_x_uln"]].max(axis=1)
    ).sort_values(["score", "subject_id"], ascending=[False, True])
    return list(order["subject_id"].head(PANEL_MAX_PATIENTS))
