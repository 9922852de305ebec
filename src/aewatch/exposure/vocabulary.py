"""What an EX record is: radiotherapy or a systemic drug, in the liver or not, dose in Gy.

The words live in ``exposure/data/`` (see its SOURCE.md) and the trial config adds its
own. Each function works on the distinct values of a column (a few dozen in a trial),
so it costs nothing per row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

RADIOTHERAPY = "radiotherapy"
SYSTEMIC = "systemic"
UNKNOWN = "unknown"

_NON_WORD = re.compile(r"[^0-9A-Za-z\u0080-\uffff]+")
_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8"}
_SEGMENT = re.compile(r"\b(?:segment|seg|s)\s?(viii|vii|vi|iv|v|iii|ii|i|[1-8])([ab]?)\b")


def _rows(name: str) -> list[dict[str, str]]:
    path = resources.files("aewatch.exposure").joinpath("data", name)
    text = path.read_text(encoding="utf-8-sig")
    return [
        {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        for row in csv.DictReader(io.StringIO(text))
    ]


def words(text: str) -> str:
    """Upper case, punctuation as single spaces: 'Radiotherapy (SBRT)' → 'RADIOTHERAPY SBRT'."""
    return " ".join(_NON_WORD.sub(" ", text).upper().split())


@dataclass(frozen=True)
class TreatmentTerm:
    words: str
    category: str
    agent: str
    line: str


@dataclass(frozen=True)
class Vocabulary:
    treatments: tuple[TreatmentTerm, ...]
    sites: tuple[tuple[re.Pattern[str], str], ...]  # (pattern, liver | other | segment)
    gy_per_unit: dict[str, float]
    interval_days: dict[str, int]


@lru_cache(maxsize=8)
def load_vocabulary(
    radiotherapy: tuple[str, ...] = (),
    systemic: tuple[str, ...] = (),
    liver_sites: tuple[str, ...] = (),
    other_sites: tuple[str, ...] = (),
) -> Vocabulary:
    """The shipped words plus the trial's own (config), extra words first."""
    terms = [TreatmentTerm(words(t), RADIOTHERAPY, "", "") for t in radiotherapy]
    terms += [TreatmentTerm(words(t), SYSTEMIC, t.strip().lower(), "") for t in systemic]
    terms += [
        TreatmentTerm(words(r["term"]), r["category"], r["agent"], r["line"])
        for r in _rows("treatments.csv")
    ]
    sites = [(_word_pattern(w), "liver") for w in liver_sites]
    sites += [(_word_pattern(w), "other") for w in other_sites]
    sites += [(re.compile(r["pattern"]), r["kind"]) for r in _rows("sites.csv")]
    units = {r["unit"]: float(r["gy_per_unit"]) for r in _rows("dose_units.csv")}
    intervals = {r["frequency"]: int(r["interval_days"]) for r in _rows("dose_frequencies.csv")}
    return Vocabulary(tuple(t for t in terms if t.words), tuple(sites), units, intervals)


def _word_pattern(word: str) -> re.Pattern[str]:
    text = " ".join(_NON_WORD.sub(" ", word).lower().split())
    if text.isascii():
        return re.compile(rf"\b{re.escape(text)}\b")
    return re.compile(re.escape(text))


def _contains(text: str, term: str) -> bool:
    """A term is found as whole words ('RT' is not in 'SBRT'); Chinese terms as substrings."""
    if term.isascii():
        return f" {term} " in f" {text} "
    return term in text


@dataclass(frozen=True)
class Treatment:
    category: str  # radiotherapy | systemic | unknown
    agent: str | None  # systemic: INN(s), e.g. "atezolizumab + bevacizumab"
    line: str | None  # systemic: first | later
    recognised: bool  # False: taken from the dose unit, or not classified at all
    both: bool  # EXTRT names radiotherapy and a drug


def classify_treatment(extrt: str, radiation_unit: bool, vocabulary: Vocabulary) -> Treatment:
    """EXTRT → radiotherapy or systemic drug. A text naming neither is radiotherapy only if
    its dose is in a radiation unit (only radiation is dosed in Gy); otherwise unknown."""
    text = words(extrt)
    rt = any(t.category == RADIOTHERAPY and _contains(text, t.words) for t in vocabulary.treatments)
    drugs = [
        t for t in vocabulary.treatments if t.category == SYSTEMIC and _contains(text, t.words)
    ]
    if rt and drugs:
        return Treatment(UNKNOWN, None, None, False, True)
    if rt:
        return Treatment(RADIOTHERAPY, None, None, True, False)
    if drugs:
        positions = sorted(drugs, key=lambda t: _position(text, t.words))
        agents = list(dict.fromkeys(t.agent for t in positions))
        line = "later" if any(t.line == "later" for t in drugs) else (drugs[0].line or None)
        return Treatment(SYSTEMIC, " + ".join(agents), line, True, False)
    if radiation_unit:
        return Treatment(RADIOTHERAPY, None, None, False, False)
    return Treatment(UNKNOWN, None, None, False, False)


def _position(text: str, term: str) -> int:
    found = f" {text} ".find(f" {term} ") if term.isascii() else text.find(term)
    return found if found >= 0 else len(text)


def classify_treatments(
    extrt: pd.Series, radiation_unit: pd.Series, vocabulary: Vocabulary
) -> pd.DataFrame:
    """``classify_treatment`` for each row, computed once per distinct (EXTRT, unit kind)."""
    keys = pd.MultiIndex.from_arrays(
        [extrt.fillna("").astype(str).to_numpy(), radiation_unit.fillna(False).to_numpy(bool)]
    )
    codes, uniques = pd.factorize(keys)
    found = [classify_treatment(text, bool(unit), vocabulary) for text, unit in uniques]
    index = extrt.index
    return pd.DataFrame(
        {
            "category": np.asarray([t.category for t in found], dtype=object)[codes],
            "agent": np.asarray([t.agent for t in found], dtype=object)[codes],
            "line": np.asarray([t.line for t in found], dtype=object)[codes],
            "recognised": np.asarray([t.recognised for t in found], dtype=bool)[codes],
            "both": np.asarray([t.both for t in found], dtype=bool)[codes],
        },
        index=index,
    )


def liver_involvement(exloc: str, vocabulary: Vocabulary) -> bool | None:
    """True: the target is in the liver; False: elsewhere; None: not recognised (or empty).

    A liver word wins over another organ (a target naming both involves the liver); an
    organ wins over a bare segment ("bone S1" is the sacrum); a bare segment is the liver.
    """
    text = " ".join(_NON_WORD.sub(" ", exloc).lower().split())
    if not text:
        return None
    kinds = {kind for pattern, kind in vocabulary.sites if pattern.search(text)}
    if "liver" in kinds:
        return True
    if "other" in kinds:
        return False
    if "segment" in kinds:
        return True
    return None


def liver_involvements(exloc: pd.Series, vocabulary: Vocabulary) -> pd.Series:
    codes, uniques = pd.factorize(exloc.fillna("").astype(str))
    found = np.asarray([liver_involvement(u, vocabulary) for u in uniques], dtype=object)
    return pd.Series(found[codes], index=exloc.index, dtype=object)


def gy_per_unit(unit: pd.Series, vocabulary: Vocabulary) -> pd.Series:
    """Factor to Gy of each dose unit (NaN: empty or not a radiation dose unit)."""
    key = unit.fillna("").astype(str).str.upper().str.replace(r"\s+", "", regex=True)
    return key.map(vocabulary.gy_per_unit).astype("float64")


def lesion_base(exloc: pd.Series) -> pd.Series:
    """EXLOC in one spelling for grouping: lower case, punctuation as spaces, liver
    segments as s1–s8 ('Liver segment VII', 'liver S7' and 'LIVER, SEG. 7' → 'liver s7')."""
    text = exloc.fillna("").astype(str).str.lower().str.replace(_NON_WORD, " ", regex=True)
    text = text.str.split().str.join(" ")
    return text.str.replace(
        _SEGMENT, lambda m: f"s{_ROMAN.get(m.group(1), m.group(1))}{m.group(2)}", regex=True
    )


def interval_days(frequency: pd.Series, vocabulary: Vocabulary) -> pd.Series:
    """Days between doses for an EXDOSFRQ code (NaN when unknown or empty)."""
    key = frequency.fillna("").astype(str).str.upper().str.strip()
    return key.map(vocabulary.interval_days).astype("float64")


def systemic_agents(vocabulary: Vocabulary) -> Iterable[str]:
    return sorted({t.agent for t in vocabulary.treatments if t.category == SYSTEMIC})
