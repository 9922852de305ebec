"""Data queries on site-reported CTCAE grades (AETOXGR): reported, never corrected.

A grade the term does not define (grade 5 "ALT increased"), a grade 5 without a death,
or a death whose event is not graded 5 are questions for the site; the data manager
gets one row per problem, phrased so it can be pasted into a query. Death caused by an
AE is grade 5 of that AE's term (CTCAE v5.0), not a separate "Death NOS".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aewatch.ctcae.dictionary import TermDictionary, load_dictionary

QUERY_COLUMNS = ["index", "field", "value", "reason", "check"]

FATAL = "FATAL"


def _allowed_text(grades: tuple[int, ...]) -> str:
    return ", ".join(str(g) for g in grades)


def _v4_hint(dictionary: TermDictionary, term: str, grade: int) -> str:
    """NCI's v4→v5 sheet sometimes says where a vanished grade went (grade 5 Agitation)."""
    moved = dictionary.recode_v4(term, grade)
    if not moved:
        return ""
    target = moved[0].v5_term
    return f"; NCI's v4→v5 mapping moves grade {grade} '{term}' to '{target}'"


_YES = {"Y", "YES", "TRUE", "1"}
_NO = {"N", "NO", "FALSE", "0"}


def _flag(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(is yes, is known) of a bool or Y/N column; other text counts as unknown."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    yes = [u is True or (isinstance(u, str) and u.strip().upper() in _YES) for u in uniques]
    no = [u is False or (isinstance(u, str) and u.strip().upper() in _NO) for u in uniques]
    yes_arr = np.asarray([*yes, False], dtype=bool)[codes]
    known = np.asarray([y or k for y, k in zip(yes, no, strict=True)] + [False], dtype=bool)
    return yes_arr, known[codes]


def check_reported_grades(
    df: pd.DataFrame, dictionary: TermDictionary | None = None
) -> pd.DataFrame:
    """One row per problem: ``index`` (input label), ``field``, ``value``, ``reason``, ``check``.

    Input columns: ``ctcae_term`` (may be None), ``grade`` (AETOXGR: int, digit text or
    NaN), ``outcome`` (AEOUT) and ``death`` (AESDTH=Y as bool). Checks are vectorised per
    column and written once per distinct (term, grade) pair.
    """
    d = dictionary or load_dictionary()
    n = len(df)
    labels = df.index.to_numpy()
    raw_grade = df["grade"] if "grade" in df.columns else pd.Series([None] * n, index=df.index)
    grade = pd.to_numeric(raw_grade, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    raw_missing = (
        raw_grade.isna().to_numpy()
        | (raw_grade.astype(object).astype(str).str.strip() == "").to_numpy()
    )
    terms = df["ctcae_term"] if "ctcae_term" in df.columns else pd.Series([None] * n, dtype=object)
    outcome = (
        df["outcome"]
        .astype(object)
        .where(df["outcome"].notna(), "")
        .astype(str)
        .str.strip()
        .str.upper()
        .to_numpy()
        if "outcome" in df.columns
        else np.full(n, "", dtype=object)
    )
    death_raw = df["death"] if "death" in df.columns else pd.Series([None] * n, dtype=object)
    death, death_known = _flag(death_raw)
    fatal = outcome == FATAL

    frames: list[pd.DataFrame] = []
    positions = np.arange(n)

    def add(
        mask: np.ndarray, field: str, values: np.ndarray, reasons: np.ndarray | str, check: str
    ) -> None:
        if mask.any():
            frames.append(
                pd.DataFrame(
                    {
                        "index": labels[mask],
                        "field": field,
                        "value": np.asarray(values, dtype=object)[mask],
                        "reason": reasons if isinstance(reasons, str) else reasons[mask],
                        "check": check,
                        "_position": positions[mask],
                    }
                )
            )

    raw_values = raw_grade.astype(object).to_numpy()
    is_integer = ~np.isnan(grade) & (np.floor(grade) == grade)
    valid_scale = is_integer & (grade >= 1) & (grade <= 5)
    not_number = ~raw_missing & np.isnan(grade)
    add(
        raw_missing,
        "AETOXGR",
        raw_values,
        "AETOXGR is missing: a CTCAE grade (1-5) is required",
        "grade_missing",
    )
    bad_scale = ~raw_missing & ~valid_scale
    scale_reason = np.where(
        not_number,
        np.char.add(np.char.add("AETOXGR '", raw_values.astype(str)), "' is not a grade 1-5"),
        np.char.add(
            np.char.add("Grade ", raw_values.astype(str)), " is outside the CTCAE scale (1-5)"
        ),
    ).astype(object)
    add(bad_scale, "AETOXGR", raw_values, scale_reason, "grade_out_of_scale")

    # Per distinct (term, grade): unknown term, or grade the term does not define.
    term_codes, term_uniques = pd.factorize(terms.astype(object), use_na_sentinel=True)
    term_objs = [d.lookup(str(t)) for t in term_uniques]
    unknown = np.asarray([t is None for t in term_objs] + [False], dtype=bool)[term_codes]
    term_text = np.asarray([*term_uniques, None], dtype=object)[term_codes]
    add(
        term_codes < 0,
        "ctcae_term",
        term_text,
        "No CTCAE v5.0 term: the grade cannot be checked against the term's grades",
        "term_missing",
    )
    add(
        (term_codes >= 0) & unknown,
        "ctcae_term",
        term_text,
        np.char.add(np.char.add("'", term_text.astype(str)), "' is not a CTCAE v5.0 term").astype(
            object
        ),
        "term_unknown",
    )

    allowed_mask = np.asarray(
        [sum(1 << g for g in t.grades) if t else 0b111110 for t in term_objs] + [0b111110],
        dtype=np.int64,
    )[term_codes]
    grade_int = np.where(valid_scale, grade, 0).astype(np.int64)
    undefined = valid_scale & (term_codes >= 0) & ~unknown & ((allowed_mask >> grade_int) & 1 == 0)
    if undefined.any():
        pair_key = term_codes.astype(np.int64) * 8 + grade_int
        pair_codes, pairs = pd.factorize(pair_key[undefined])
        texts = []
        for pair in pairs:
            term = term_objs[int(pair) // 8]
            g = int(pair) % 8
            assert term is not None
            texts.append(
                f"Grade {g} is not defined for '{term.term}' in CTCAE v5.0 "
                f"(allowed: {_allowed_text(term.grades)}){_v4_hint(d, term.term, g)}"
            )
        reasons = np.full(n, None, dtype=object)
        reasons[undefined] = np.asarray(texts, dtype=object)[pair_codes]
        add(undefined, "AETOXGR", raw_values, reasons, "grade_not_defined")

    # Grade 5 and death must agree.
    grade5 = valid_scale & (grade == 5)
    add(
        grade5 & ~fatal & ~death,
        "AETOXGR",
        raw_values,
        "Grade 5 (death) reported but AEOUT is not FATAL and AESDTH is not Y",
        "grade5_without_death",
    )
    died = fatal | death
    has_grade5 = np.asarray([bool(t and 5 in t.grades) for t in term_objs] + [True], dtype=bool)[
        term_codes
    ]
    below5 = died & valid_scale & (grade < 5)
    reason_dead = np.where(
        has_grade5,
        np.char.add(
            np.char.add(
                "AEOUT is FATAL (or AESDTH=Y) but grade is ",
                np.where(valid_scale, grade_int, 0).astype(str),
            ),
            ": a death caused by the event is grade 5",
        ),
        np.char.add(
            np.char.add("AEOUT is FATAL (or AESDTH=Y) but '", term_text.astype(str)),
            "' has no grade 5 in CTCAE v5.0: code the fatal event to a term that allows grade 5",
        ),
    ).astype(object)
    add(below5, "AETOXGR", raw_values, reason_dead, "death_not_grade5")
    add(
        fatal & death_known & ~death,
        "AESDTH",
        death_raw.astype(object).to_numpy(),
        "AEOUT is FATAL but AESDTH is not Y",
        "fatal_without_aesdth",
    )
    add(
        death & ~fatal & (outcome != ""),
        "AEOUT",
        outcome,
        "AESDTH is Y but AEOUT is not FATAL",
        "aesdth_without_fatal",
    )

    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in QUERY_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values("_position", kind="stable").reset_index(drop=True)
    return out[QUERY_COLUMNS]
