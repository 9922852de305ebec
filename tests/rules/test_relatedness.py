"""One reading of the attribution words for rules, SAE clocks, emails, tables and the
subject timeline (aewatch.safety.relatedness)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aewatch.safety.relatedness import RELATED, RELATIONS, normalise_relation
from aewatch.safety.sae import is_related


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.floats(), st.text(max_size=12), st.sampled_from(RELATIONS)))
def test_every_value_reads_as_one_word_of_the_scale_or_not_assessed(value: object) -> None:
    word = normalise_relation(value)
    blank = value is None or value != value or not str(value).strip()
    assert (word is None) == blank
    assert word is None or word in RELATIONS
    assert normalise_relation(word) == word  # reading twice changes nothing


def test_the_scale_is_read_whatever_the_case_and_an_unknown_word_counts_as_possible() -> None:
    assert [normalise_relation(w) for w in (" Probable ", "UNLIKELY", "unassessable", "")] == [
        "probable",
        "unlikely",
        "possible",
        None,
    ]
    assert [w for w in RELATIONS if is_related(w)] == list(RELATED)
