"""A derived event's evidence as the numbers a clinician checks: value, the limit it is
judged against (ULN; LLN for a value below the normal range, e.g. platelets) and the
ratio to it, baseline, × baseline and study day per lab test, then the other findings.

Read generically from the evidence items the derivation stored (aewatch.ctcae.hepatic,
the derive stage), so a richer derivation shows up without changing this module:

* a test is an item ``X`` (or ``X_value``) with a companion ``X_ULN``/``X_uln`` or
  ``X_LLN``/``X_lln``; ``X_unit``, ``X_baseline`` and ``X_date``/``X_day`` complete it;
  ``transaminase`` names the test of the ``transaminase_*`` items (Hy's law);
* calendar dates become study days (day 1 = first RT day): exact dates stay inside
  aewatch (safety_domain §7);
* every other scalar item is listed as "label: value" (the event's own date and grade are
  already in the alert's header lines).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from aewatch.alerts.privacy import one_line, redact_dates
from aewatch.alerts.requests import study_day

TEST_NAMES = {"bilirubin": "BILI", "alp": "ALP", "alt": "ALT", "ast": "AST", "bili": "BILI"}
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
_SKIP = frozenset(
    {"summary", "source", "lab_result_id", "test", "transaminase", "date", "grade"}
)


@dataclass(frozen=True)
class LabValue:
    test: str
    value: float | None
    unit: str | None
    uln: float | None
    lln: float | None
    times_uln: float | None
    times_lln: float | None
    baseline: float | None
    times_baseline: float | None
    study_day: int | None

    def as_dict(self) -> dict[str, Any]:
        below = self.lln is not None and self.value is not None and self.value < self.lln
        limit, ratio = ("LLN", self.times_lln) if below else ("ULN", self.times_uln)
        bound = self.lln if below else self.uln
        return {
            "test": self.test,
            "value": _round(self.value),
            "unit": self.unit or "",
            "uln": _round(self.uln),
            "lln": _round(self.lln),
            "times_uln": _round(self.times_uln, 2),
            "limit": f"{limit} {bound:g}" if bound is not None else "",
            "times_limit": _round(ratio, 2),
            "baseline": _round(self.baseline),
            "times_baseline": _round(self.times_baseline, 2),
            "study_day": self.study_day,
        }


def lab_values(
    items: Mapping[str, Any],
    reference_start: date | None,
    baselines: Mapping[str, float] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(one row per lab test, other findings as label/value pairs) from evidence items.

    ``baselines`` maps test codes (ALT, BILI …) to the patient's baseline value, used
    where the items carry none.
    """
    baselines = baselines or {}
    used: set[str] = set()
    rows: list[LabValue] = []
    event_day = _day(items.get("date"), reference_start)
    for key in items:
        base = key[: -len("_value")] if key.endswith("_value") else key
        limits = [f"{base}{s}" for s in ("_ULN", "_uln", "_LLN", "_lln")]
        if base in used or not any(k in items for k in limits) or not _number(items[key]):
            continue
        test = str(items.get(base)) if base == "transaminase" else TEST_NAMES.get(base, base)
        value = float(items[key])
        uln = _first_number(items, f"{base}_ULN", f"{base}_uln")
        lln = _first_number(items, f"{base}_LLN", f"{base}_lln")
        baseline = _first_number(items, f"{base}_baseline")
        if baseline is None:
            baseline = baselines.get(test)
        when = next((items[k] for k in (f"{base}_date", f"{base}_day") if k in items), None)
        rows.append(
            LabValue(
                test=test,
                value=value,
                unit=_text(items.get(f"{base}_unit")),
                uln=uln,
                lln=lln,
                times_uln=value / uln if uln else None,
                times_lln=value / lln if lln else None,
                baseline=baseline,
                times_baseline=value / baseline if baseline else None,
                study_day=_day(when, reference_start) if when is not None else event_day,
            )
        )
        used.add(base)
        used.update({key, base, f"{base}_value", f"{base}_unit", f"{base}_baseline", *limits})
        used.update({f"{base}_date", f"{base}_day"})
    findings = []
    for key, value in items.items():
        if key in used or key in _SKIP or value is None or isinstance(value, dict):
            continue
        label = key.replace("_", " ")
        if isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        elif key in ("date", "rt_start", "rt_end") or key.endswith(("_date", "_day")):
            day = _day(value, reference_start)
            text = f"study day {day}" if day is not None else ""
            label = "event" if key == "date" else label
        else:
            text = f"{value:.3g}" if isinstance(value, float) else str(value)
        if text:
            findings.append({"label": label, "value": redact_dates(one_line(text, 200))})
    return [r.as_dict() for r in rows], findings


def _day(value: Any, reference_start: date | None) -> int | None:
    if isinstance(value, str) and _ISO_DAY.match(value):
        value = date.fromisoformat(value[:10])
    return study_day(value, reference_start) if isinstance(value, date) else None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _first_number(items: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        if _number(items.get(key)):
            return float(items[key])
    return None


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None:
        return None
    return float(f"{value:.{digits}g}") if digits > 2 else round(value, digits)
