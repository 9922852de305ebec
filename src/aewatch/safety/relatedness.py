"""The attribution scale every part of aewatch reads relatedness on, in one place: the
rules, the SAE clock, the alert emails, the report tables and the subject timeline must
call the same word related, or a table and an email about one AE could disagree."""

from __future__ import annotations

RELATIONS = ("unrelated", "unlikely", "possible", "probable", "definite")
RELATED = ("possible", "probable", "definite")  # ICH E2A: a reasonable possibility


def normalise_relation(value: object) -> str | None:
    """Lower-case the five-level scale; any other non-empty word (unassessable) counts as
    possible, since relatedness that cannot be ruled out must be reported (ICH E2A).
    None, NaN and blank are "not assessed": None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    word = str(value).strip().lower()
    if not word:
        return None
    return word if word in RELATIONS else "possible"
