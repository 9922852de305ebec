"""The CTCAE v5.0 term dictionary (837 terms, 26 SOCs) and AE term coding.

``load_dictionary()`` reads ``data/ctcae_v5_terms.csv`` once. ``code_terms`` codes SDTM AE
rows to CTCAE terms: AEDECOD first, then AETERM; each tried as written, after British →
US spelling (MedDRA PTs are British: "Diarrhoea"), through the synonym table
(``data/term_synonyms.csv``: "Thrombocytopenia" → "Platelet count decreased", so one
toxicity is never split over two terms), and as a v4.03 term that NCI's mapping sheet
moves to a v5.0 term. Anything else falls back to "<SOC> - Other, specify" from
AEBODSYS, flagged for review; nothing is coded silently, and the coding method is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import get_close_matches
from functools import cache
from typing import TYPE_CHECKING

from aewatch.ctcae import DICTIONARY_VERSION
from aewatch.ctcae._data import read_rows

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DICTIONARY_VERSION",
    "Synonym",
    "Term",
    "TermDictionary",
    "V4Recode",
    "code_terms",
    "load_dictionary",
]

_SPACES = re.compile(r"\s+")


def term_key(text: str) -> str:
    """Case- and whitespace-insensitive key ("Chest pain - cardiac" = "chest pain-cardiac")."""
    return _SPACES.sub("", text).casefold()


@dataclass(frozen=True)
class Term:
    """One CTCAE v5.0 term with its grade texts (None where NCI writes "-")."""

    term: str
    soc: str
    meddra_code: int
    grade_texts: tuple[str | None, str | None, str | None, str | None, str | None]
    definition: str | None
    navigational_note: str | None = None
    change_note: str | None = None

    @property
    def grades(self) -> tuple[int, ...]:
        """Grades defined for this term, e.g. (1, 2, 3, 4) for ALT increased."""
        return tuple(g for g, text in enumerate(self.grade_texts, start=1) if text is not None)

    def grade_text(self, grade: int) -> str | None:
        if 1 <= grade <= 5:
            return self.grade_texts[grade - 1]
        return None

    @property
    def is_other_specify(self) -> bool:
        return self.term.endswith("- Other, specify")


@dataclass(frozen=True)
class Synonym:
    """A verbatim name sites use for a CTCAE term; ``review`` asks a person to confirm."""

    synonym: str
    term: str
    review: bool = False
    note: str = ""


@dataclass(frozen=True)
class V4Recode:
    """Where NCI's v4.03 → v5.0 sheet sends a v4.03 term (for one v4 grade, or all)."""

    v4_term: str
    v4_grade: str  # "1".."5" or "Definition"
    v5_term: str
    other_specify: str | None  # the text to put after "Other, specify", if any


def _text(value: str) -> str | None:
    return None if value in ("", "-") else value


class TermDictionary:
    """Lookups over the CTCAE v5.0 term list; build it with ``load_dictionary()``."""

    def __init__(
        self,
        terms: Iterable[Term],
        recodes: Iterable[V4Recode] = (),
        spelling: Iterable[tuple[str, str]] = (),
        synonyms: Iterable[Synonym] = (),
    ) -> None:
        self.terms: tuple[Term, ...] = tuple(terms)
        self.version = DICTIONARY_VERSION
        self._by_key = {term_key(t.term): t for t in self.terms}
        self._by_code = {t.meddra_code: t for t in self.terms}
        self._other_by_soc = {term_key(t.soc): t for t in self.terms if t.is_other_specify}
        self._socs = {term_key(t.soc): t.soc for t in self.terms}
        self._spelling = tuple(spelling)
        self._by_spelling_key = {term_key(self.americanise(t.term)): t for t in self.terms}
        self._synonyms = {term_key(self.americanise(s.synonym)): s for s in synonyms}
        self._recodes: dict[str, list[V4Recode]] = {}
        for recode in recodes:
            self._recodes.setdefault(term_key(recode.v4_term), []).append(recode)

    def __len__(self) -> int:
        return len(self.terms)

    def lookup(self, term_or_code: str | int | None) -> Term | None:
        """A term by name (case/whitespace-insensitive) or MedDRA code (int or digits)."""
        if term_or_code is None:
            return None
        if isinstance(term_or_code, int):
            return self._by_code.get(term_or_code)
        text = str(term_or_code).strip()
        if text.isdigit():
            return self._by_code.get(int(text))
        return self._by_key.get(term_key(text))

    def other_specify(self, soc: str | None) -> Term | None:
        """The "<SOC> - Other, specify" term of a SOC (SOC matched case-insensitively)."""
        if not soc:
            return None
        return self._other_by_soc.get(term_key(soc))

    def soc(self, name: str | None) -> str | None:
        """NCI's spelling of a SOC name, or None if it is not a CTCAE SOC."""
        return self._socs.get(term_key(name)) if name else None

    def americanise(self, text: str) -> str:
        """British → US spelling of a term, by the substitutions in spelling_variants.csv."""
        out = text.casefold()
        for british, american in self._spelling:
            out = out.replace(british, american)
        return out

    def lookup_spelling(self, text: str) -> Term | None:
        """A term matched after British → US spelling normalisation."""
        return self._by_spelling_key.get(term_key(self.americanise(text)))

    def lookup_synonym(self, text: str) -> tuple[Term, Synonym] | None:
        """The CTCAE term a synonym stands for (matched after British → US spelling)."""
        found = self._synonyms.get(term_key(self.americanise(text)))
        if found is None:
            return None
        term = self.lookup(found.term)
        return (term, found) if term is not None else None

    def recode_v4(self, term: str, grade: int | None = None) -> list[V4Recode]:
        """NCI's v5.0 targets for a v4.03 term; with ``grade``, only that grade's row."""
        rows = self._recodes.get(term_key(term), [])
        if grade is not None:
            return [r for r in rows if r.v4_grade == str(grade)]
        return rows

    def suggest(self, text: str, n: int = 5) -> list[str]:
        """Close term names for a misspelt query (difflib), best first."""
        names = {t.term.casefold(): t.term for t in self.terms}
        matches = get_close_matches(text.casefold(), list(names), n=n, cutoff=0.6)
        return [names[m] for m in matches]


@cache
def load_dictionary() -> TermDictionary:
    """The shipped CTCAE v5.0 dictionary, read once per process."""
    terms = [
        Term(
            term=row["term"],
            soc=row["soc"],
            meddra_code=int(row["meddra_code"]),
            grade_texts=(
                _text(row["grade1"]),
                _text(row["grade2"]),
                _text(row["grade3"]),
                _text(row["grade4"]),
                _text(row["grade5"]),
            ),
            definition=_text(row["definition"]),
            navigational_note=_text(row["navigational_note"]),
            change_note=_text(row["ctcae_v5_change"]),
        )
        for row in read_rows("ctcae_v5_terms.csv")
    ]
    recodes = [
        V4Recode(
            v4_term=row["v4_term"],
            v4_grade=row["v4_grade_or_definition"],
            v5_term=row["v5_term"],
            other_specify=None
            if row["v5_other_specify"] in ("", "N/A")
            else row["v5_other_specify"],
        )
        for row in read_rows("ctcae_v4_to_v5_recodes.csv")
    ]
    spelling = [
        (r["british"].casefold(), r["american"].casefold())
        for r in read_rows("spelling_variants.csv")
    ]
    synonyms = [
        Synonym(
            synonym=r["synonym"],
            term=r["ctcae_term"],
            review=r.get("review", "").lower() in ("y", "yes", "true", "1"),
            note=r.get("note", ""),
        )
        for r in read_rows("term_synonyms.csv")
    ]
    return TermDictionary(terms, recodes, spelling, synonyms)


# --------------------------------------------------------------------------- coding


@dataclass(frozen=True)
class Coding:
    """The outcome of coding one (AEDECOD, AETERM, AEBODSYS) combination."""

    term: Term | None
    coding: str  # exact | synonym | other_specify | uncoded
    note: str | None
    review: bool = False  # a person must confirm (other_specify, uncoded, some synonyms)


def _deleted_v4_target(dictionary: TermDictionary, text: str) -> tuple[Term, V4Recode] | None:
    """The v5.0 target of a v4.03 term that no longer exists (its Definition row first)."""
    rows = dictionary.recode_v4(text)
    if not rows:
        return None
    rows = sorted(rows, key=lambda r: r.v4_grade != "Definition")
    target = dictionary.lookup(rows[0].v5_term)
    return (target, rows[0]) if target else None


def _code_one(dictionary: TermDictionary, decod: str, verbatim: str, bodsys: str) -> Coding:
    for source, text in (("AEDECOD", decod), ("AETERM", verbatim)):
        if not text:
            continue
        prefix = ""
        if source == "AETERM":
            prefix = (
                f"AEDECOD '{decod}' is not a CTCAE v5.0 term; " if decod else "AEDECOD is empty; "
            )
        found = dictionary.lookup(text)
        if found:
            note = f"{prefix}matched on AETERM '{text}'" if prefix else None
            if found.is_other_specify:
                return Coding(found, "other_specify", note, review=True)
            return Coding(found, "exact", note)
        found = dictionary.lookup_spelling(text)
        if found:
            return Coding(
                found,
                "exact",
                f"{prefix}{source} '{text}' matched '{found.term}' after British → US spelling",
            )
        if synonym := dictionary.lookup_synonym(text):
            term, entry = synonym
            why = f": {entry.note}" if entry.review and entry.note else ""
            return Coding(
                term,
                "synonym",
                f"{prefix}{source} '{text}' coded to '{term.term}' by the synonym table{why}",
                review=entry.review,
            )
        if target := _deleted_v4_target(dictionary, text):
            term, recode = target
            others = sorted({r.v5_term for r in dictionary.recode_v4(text)} - {term.term})
            listed = ", ".join(repr(t) for t in others)
            also = f" (NCI maps some grades to {listed})" if others else ""
            if term.is_other_specify:
                specify = recode.other_specify or text
                return Coding(
                    term,
                    "other_specify",
                    f"{prefix}{source} '{text}' is a CTCAE v4.03 term removed in v5.0; recoded to "
                    f"'{term.term}' (specify: {specify}) per NCI's v4→v5 mapping{also}",
                    review=True,
                )
            return Coding(
                term,
                "exact",
                f"{prefix}{source} '{text}' is a CTCAE v4.03 term; recoded to v5.0 "
                f"'{term.term}' per NCI's v4→v5 mapping{also}",
            )
    shown = f"AEDECOD '{decod}'" if decod else (f"AETERM '{verbatim}'" if verbatim else "")
    other = dictionary.other_specify(bodsys)
    if other and shown:
        return Coding(
            other,
            "other_specify",
            f"{shown} is not a CTCAE v5.0 term; coded to '{other.term}' from AEBODSYS — review",
            review=True,
        )
    if not shown:
        return Coding(None, "uncoded", "AEDECOD and AETERM are empty", review=True)
    where = f"AEBODSYS '{bodsys}' is not a CTCAE SOC" if bodsys else "AEBODSYS is empty"
    return Coding(
        None,
        "uncoded",
        f"{shown} is not a CTCAE v5.0 term and {where} — code manually",
        review=True,
    )


def code_terms(df: pd.DataFrame, dictionary: TermDictionary | None = None) -> pd.DataFrame:
    """CTCAE v5.0 coding of AE rows, index-aligned: ctcae_term, ctcae_soc, meddra_code,
    coding (exact / synonym / other_specify / uncoded), coding_note (why, when not plainly
    exact) and needs_review (a person must confirm the coding: a data query).

    Columns AEDECOD, AETERM, AEBODSYS are each optional and may hold NaN. Each distinct
    combination is coded once and broadcast, so the cost follows the vocabulary, not
    the number of rows.
    """
    import numpy as np
    import pandas as pd

    d = dictionary or load_dictionary()
    n = len(df)
    key = np.zeros(n, dtype=np.int64)
    vocabularies: list[list[str]] = []
    for name in ("AEDECOD", "AETERM", "AEBODSYS"):
        if name in df.columns:
            codes_i, uniques_i = pd.factorize(df[name].astype(object), use_na_sentinel=True)
            words = [str(u).strip() for u in uniques_i] + [""]
            codes_i = np.where(codes_i < 0, len(words) - 1, codes_i)
        else:
            codes_i, words = np.zeros(n, dtype=np.intp), [""]
        vocabularies.append(words)
        key = key * len(words) + codes_i
    codes, combos = pd.factorize(key)
    results = []
    for combo in combos:
        parts = []
        for words in reversed(vocabularies):
            combo, position = divmod(int(combo), len(words))
            parts.append(words[position])
        bodsys, verbatim, decod = parts
        results.append(_code_one(d, decod, verbatim, bodsys))
    term = np.asarray([r.term.term if r.term else None for r in results], dtype=object)
    soc = np.asarray([r.term.soc if r.term else None for r in results], dtype=object)
    code = pd.array([r.term.meddra_code if r.term else None for r in results], dtype="Int64")
    coding = np.asarray([r.coding for r in results], dtype=object)
    note = np.asarray([r.note for r in results], dtype=object)
    review = np.asarray([r.review for r in results], dtype=bool)
    return pd.DataFrame(
        {
            "ctcae_term": term[codes],
            "ctcae_soc": soc[codes],
            "meddra_code": code.take(codes),
            "coding": coding[codes],
            "coding_note": note[codes],
            "needs_review": review[codes],
        },
        index=df.index,
    )
