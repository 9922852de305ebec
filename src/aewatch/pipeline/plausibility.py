"""Stage 4, plausibility: impossible values are kept, flagged and queried, never graded.

After the row checks and before anything is coded, graded, derived or counted. An
implausible value (a lab result outside its analyte's range, a non-finite result, an
inverted reference range, a date in the future or long before the trial) does not reject
its row: the row is stored, a data query tells the site what to correct, and the value is
left out of everything that could turn it into a safety signal:

* a lab result is flagged (``implausible``) and not graded, not a baseline, not a derived
  AE or syndrome, not a last contact and not in the report tables;
* an AE onset, end or awareness date, an RT course date, becomes unknown (an AE with an
  unknown onset still counts, as treatment-emergent: the safe reading); the AE keeps the
  reason in ``implausible``;
* a disposition (DS) date becomes unknown;
* a DM date is not applied: a stored value stays until a plausible one arrives.

A corrected re-export replaces the row, closes the query and is graded as usual. Pure (the
file's receipt time is an input), so it runs before the transaction opens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd

from aewatch.config import Settings
from aewatch.ingest.plausibility import DateWindow, date_reason, date_window, implausible_dates
from aewatch.ingest.validate import (
    DM_DATE_LABELS,
    DM_DATES,
    RECORD_KEY_COLUMNS,
    Checked,
    Fault,
    dm_dates,
)


@dataclass(frozen=True)
class DateField:
    """A date variable, the typed columns it fills, and what happens while it is wrong."""

    label: str
    columns: tuple[str, ...]
    until: str


AFTER_LAB = "until then the result is not graded, counted or used as a baseline"
DATE_FIELDS: dict[str, dict[str, DateField]] = {
    "AE": {
        "AESTDTC": DateField(
            "onset date",
            ("onset_on", "onset_precision"),
            "until then the onset is unknown and the AE counts as treatment-emergent",
        ),
        "AEENDTC": DateField(
            "end date", ("end_on", "end_precision"), "until then the end date is unknown"
        ),
        "AEAWDTC": DateField(
            "awareness date",
            ("aware_on", "aware_offset"),
            "until then the reporting clock runs from when the file was received",
        ),
    },
    "LB": {"LBDTC": DateField("collection date", (), AFTER_LAB)},
    "EX": {
        "EXSTDTC": DateField("start date", ("start_on",), "until then the course start is unknown"),
        "EXENDTC": DateField("end date", ("end_on",), "until then the course end is unknown"),
    },
    "DS": {
        "DSSTDTC": DateField(
            "event date",
            ("start_on", "start_precision"),
            "until then the event's date is unknown and it neither ends follow-up nor counts "
            "in a period",
        ),
    },
    "DM": {
        name: DateField(label, (), "until then it is not used (a stored date is kept)")
        for name, label in DM_DATE_LABELS.items()
    },
}


def plausibility(checked: Checked, settings: Settings, now: datetime) -> Checked:
    """The checked table with implausible values flagged, made unknown or held back, and a
    data query for each (``Fault`` kind "query")."""
    if checked.frame.empty or checked.domain not in DATE_FIELDS:
        return checked
    config = settings.plausibility
    window = date_window(
        now,
        config.first_enrolment_date,
        config.history_margin_days,
        config.future_tolerance_days,
    )
    frame = checked.frame.copy()
    found = _Found(frame, checked.domain)
    implausible_by_variable = _dates(checked, window, found)
    if checked.domain == "LB":
        _lab_results(frame, settings, found)
    _apply_dates(frame, checked, implausible_by_variable)
    if checked.domain in ("AE", "LB"):
        frame["implausible"] = found.reasons()
    frame = frame.drop(columns=["value_text"], errors="ignore")
    return replace(checked, frame=frame, faults=[*checked.faults, *found.faults])


class _Found:
    """The queries raised so far, and the reasons per row."""

    def __init__(self, frame: pd.DataFrame, domain: str) -> None:
        self.frame = frame
        self.domain = domain
        self.faults: list[Fault] = []
        self.by_row: dict[int, list[str]] = {}
        # Plain arrays: a column looked up per query cost more than the check itself.
        key_column = RECORD_KEY_COLUMNS.get(domain)
        self._keys = frame[key_column].to_numpy(dtype=object) if key_column else None
        self._rows = frame["ROW"].to_numpy()
        self._subjects = frame["USUBJID"].to_numpy(dtype=object)

    def add(self, position: int, field: str, value: str | None, reason: str, until: str) -> None:
        key = str(self._keys[position]) if self._keys is not None else "DM"
        self.faults.append(
            Fault(
                int(self._rows[position]),
                field,
                value or None,
                f"{reason}: correct it; {until}",
                kind="query",
                subject=str(self._subjects[position]) or None,
                key=key if key and key not in ("SEQ:", "|") else None,
            )
        )
        self.by_row.setdefault(position, []).append(reason)

    def reasons(self) -> pd.Series:
        out = np.full(len(self.frame), None, dtype=object)
        for position, reasons in self.by_row.items():
            out[position] = "; ".join(dict.fromkeys(reasons))
        return pd.Series(out, index=self.frame.index, dtype=object)


def _dates(checked: Checked, window: DateWindow, found: _Found) -> dict[str, np.ndarray]:
    """Query every implausible date; return, per variable, which rows are implausible."""
    out: dict[str, np.ndarray] = {}
    for variable, spec in DATE_FIELDS[checked.domain].items():
        parsed = checked.dates.get(variable)
        if parsed is None:
            continue
        kinds = implausible_dates(parsed, window)
        bad = kinds.notna().to_numpy(dtype=bool)
        out[variable] = bad
        texts = parsed["text"].to_numpy(dtype=object)
        for position in np.flatnonzero(bad):
            reason = date_reason(
                spec.label, variable, str(texts[position]), str(kinds.iat[position]), window
            )
            found.add(int(position), variable, str(texts[position]), reason, spec.until)
    return out


def _apply_dates(frame: pd.DataFrame, checked: Checked, bad: dict[str, np.ndarray]) -> None:
    """Make implausible dates unknown (AE, EX, DS) or hold them back (DM)."""
    if not any(mask.any() for mask in bad.values()):
        return
    domain = checked.domain
    if domain == "DM":
        _dm_dates(frame, checked, bad)
        return
    for variable, spec in DATE_FIELDS[domain].items():
        mask = bad.get(variable)
        if mask is None or not mask.any():
            continue
        for column in spec.columns:
            frame.loc[mask, column] = None
    if domain == "EX" and "EXENDTC" in bad:
        # A course without a plausible end ends on its start (as with no EXENDTC at all).
        no_end = bad["EXENDTC"]
        frame.loc[no_end, "end_on"] = frame.loc[no_end, "start_on"]


def _dm_dates(frame: pd.DataFrame, checked: Checked, bad: dict[str, np.ndarray]) -> None:
    """Recompute DM dates from their plausible variables only; a date whose variables were
    all implausible is not applied, so the stored value stays (``keep_stored``)."""
    plausible = {
        name: parsed["date"].mask(bad.get(name, np.zeros(len(parsed), dtype=bool)))
        for name, parsed in checked.dates.items()
        if name in DM_DATE_LABELS
    }
    recomputed = dm_dates(plausible, frame.index)
    keep: list[list[str]] = [[] for _ in range(len(frame))]
    for target, sources in DM_DATES.items():
        frame[target] = recomputed[target]
        withheld = np.zeros(len(frame), dtype=bool)
        for source in sources:
            if source in bad:
                withheld |= bad[source]
        withheld &= recomputed[target].isna().to_numpy(dtype=bool)
        for position in np.flatnonzero(withheld):
            keep[position].append(target)
    frame["keep_stored"] = [tuple(k) for k in keep]


def _lab_results(frame: pd.DataFrame, settings: Settings, found: _Found) -> None:
    """Query implausible results and reference ranges; non-finite numbers become missing."""
    from aewatch.ctcae.plausibility import PlausibleRange, implausible_results, plausibility_ranges

    ranges = plausibility_ranges(
        PlausibleRange(r.analyte.upper(), r.unit, r.low, r.high, "trial config")
        for r in settings.plausibility.lab_ranges
    )
    problems = implausible_results(
        frame["test_code"],
        frame["value"].to_numpy(dtype=np.float64, na_value=np.nan),
        frame["unit"],
        frame["lower_limit"].to_numpy(dtype=np.float64, na_value=np.nan),
        frame["upper_limit"].to_numpy(dtype=np.float64, na_value=np.nan),
        ranges,
        value_texts=frame.get("value_text", None),
    )
    for problem in problems.itertuples(index=False):
        found.add(
            int(problem.index),
            str(problem.field),
            str(problem.value),
            str(problem.reason),
            AFTER_LAB,
        )
    for column in ("value", "lower_limit", "upper_limit"):
        numbers = frame[column].astype("float64")
        frame[column] = numbers.where(np.isfinite(numbers))
