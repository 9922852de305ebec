"""One reconciled view of each death, from DM, DS and the AEs (pure pandas).

Sites record a death in DM (DTHFL / DTHDTC), in DS (DSDECOD = DEATH), as a fatal AE
(AETOXGR 5, AEOUT FATAL, AESDTH Y), or in any subset of these. A death known from any
source is a death everywhere (safety_domain §4; CTCAE v5.0: a death caused by an AE is
grade 5 of that AE):

* With a fatal site-reported AE, that AE is the death: it counts, alerts and carries the
  cause and its attribution.
* Without one, aewatch derives a grade 5 "Death NOS" AE (CTCAE v5.0, General disorders)
  dated at the death, of unknown attribution: it alerts as a death and counts in every
  table and stopping rule as the rule's ``missing_attribution`` says, until the site
  reports the fatal AE (which then counts instead) or a person confirms the death was not
  caused by an AE (``aewatch quarantine resolve``). The data query asks the site which.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from aewatch.ctcae import DICTIONARY_VERSION

DEATH_TERM = "Death NOS"
DEATH_SOC = "General disorders and administration site conditions"
DEATH_KEY = "DEATH"


def fatal_events(events: pd.DataFrame) -> pd.DataFrame:
    """The AE versions that record a death: grade 5, outcome FATAL or AESDTH = Y."""
    grade = pd.to_numeric(events["grade"], errors="coerce")
    return events[
        grade.eq(5).fillna(False)
        | events["outcome"].eq("FATAL").fillna(False)
        | events["death"].fillna(False).astype(bool)
    ]


def reconciled_deaths(
    subjects: pd.DataFrame, ds_deaths: pd.DataFrame, events: pd.DataFrame
) -> pd.DataFrame:
    """One row per subject known to have died: ``subject_id``, ``died_on`` (the earliest
    date any domain gives; None if only flagged), ``sources`` ("DM, DS, AE" …) and
    ``fatal_ae_pk`` (the first fatal site AE, or None).

    ``subjects``: subject_id, died_on, death_flag (DM). ``ds_deaths``: subject_id,
    start_on (DS death records). ``events``: current site AE versions with subject_id,
    ae_pk, grade, outcome, death, onset_on, end_on.
    """
    by_subject: dict[str, dict[str, Any]] = {}

    def note(subject: str, source: str, day: Any) -> dict[str, Any]:
        entry = by_subject.setdefault(
            subject, {"subject_id": subject, "died_on": None, "sources": [], "fatal_ae_pk": None}
        )
        if source not in entry["sources"]:
            entry["sources"].append(source)
        if _present(day) and (entry["died_on"] is None or day < entry["died_on"]):
            entry["died_on"] = day
        return entry

    flagged = subjects["died_on"].notna() | subjects["death_flag"].astype("object").eq(True)
    for row in subjects[flagged].itertuples(index=False):
        note(str(row.subject_id), "DM", row.died_on)
    for row in ds_deaths.itertuples(index=False):
        note(str(row.subject_id), "DS", row.start_on)
    fatal = fatal_events(events).sort_values(["subject_id", "ae_pk"])
    for row in fatal.itertuples(index=False):
        # A fatal AE's end date is the day of death when given (SDTM: AEENDTC of a fatal
        # AE); its onset is not.
        entry = note(str(row.subject_id), "AE", row.end_on)
        if entry["fatal_ae_pk"] is None:
            entry["fatal_ae_pk"] = int(row.ae_pk)
    frame = pd.DataFrame(
        list(by_subject.values()), columns=["subject_id", "died_on", "sources", "fatal_ae_pk"]
    )
    frame["sources"] = frame["sources"].map(", ".join)
    return frame.sort_values("subject_id", ignore_index=True)


def death_derived_events(deaths: pd.DataFrame) -> pd.DataFrame:
    """The grade 5 "Death NOS" AE of each death no site AE reports, in the AE table's
    columns (see the module docstring)."""
    unreported = deaths[deaths["fatal_ae_pk"].isna()]
    if unreported.empty:
        return pd.DataFrame()
    dated = unreported["died_on"].map(_present)
    return pd.DataFrame(
        {
            "USUBJID": unreported["subject_id"].to_numpy(),
            "ae_key": DEATH_KEY,
            "verbatim_term": [
                f"death recorded in {s}, no fatal AE reported" for s in unreported["sources"]
            ],
            "decoded_term": DEATH_TERM,
            "ctcae_term": DEATH_TERM,
            "ctcae_soc": DEATH_SOC,
            "reported_grade": pd.array([None] * len(unreported), dtype="Int64"),
            "grade": pd.array([5] * len(unreported), dtype="Int64"),
            "serious": True,
            "death": True,
            "life_threatening": False,
            "hospitalisation": False,
            "disability": False,
            "congenital_anomaly": False,
            "medically_important": False,
            "outcome": "FATAL",
            "onset_on": pd.to_datetime(unreported["died_on"].where(dated)).to_numpy(),
            "onset_precision": ["day" if d else None for d in dated],
            "coding": "exact",
            "dictionary_version": DICTIONARY_VERSION,
            "evidence": [
                {
                    "source": f"death recorded in {s} without a fatal AE",
                    "date_of_death": _iso(d),
                    "attribution": "unknown until the site reports the fatal AE",
                }
                for s, d in zip(unreported["sources"], unreported["died_on"], strict=True)
            ],
            "ROW": None,
        }
    )


def _present(value: Any) -> bool:
    return value is not None and not pd.isna(value)


def _iso(value: Any) -> str | None:
    return value.isoformat()[:10] if _present(value) and hasattr(value, "isoformat") else None
