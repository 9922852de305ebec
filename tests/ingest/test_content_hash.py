"""A record's content hash tells a changed re-export from a copy: it must not depend on
which other rows share the file (the hash is computed once per distinct value)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from aewatch.store.frames import _canonical_of, content_hash

TEXTS = st.one_of(st.none(), st.sampled_from(["Fatigue", "fatigue", " ", "", "1", "1.0"]))
DATES = st.one_of(st.none(), st.sampled_from(["2025-01-02", "2025-01", "2025-13-40", "x"]))
NUMBERS = st.one_of(
    st.none(), st.sampled_from(["1", "1.0", "-0", "1e400", "abc"]), st.floats(allow_nan=True)
)
COLUMNS = ("verbatim_term", "onset_on", "grade", "serious")


@settings(derandomize=True, max_examples=50, deadline=None)
@given(st.lists(st.tuples(TEXTS, DATES, NUMBERS, st.one_of(st.none(), st.booleans())), max_size=8))
def test_a_rows_hash_is_its_own_whatever_the_file_repeats(rows: list[tuple]) -> None:
    frame = pd.DataFrame(rows, columns=list(COLUMNS), dtype=object)
    repeated = pd.concat([frame] * 3, ignore_index=True)  # distinct values now repeat
    hashes = content_hash(repeated, COLUMNS)
    for i in range(len(frame)):  # each row alone, against each of its three copies
        alone = content_hash(frame.iloc[[i]].reset_index(drop=True), COLUMNS)
        assert list(hashes.iloc[[i, i + len(frame), i + 2 * len(frame)]]) == [alone.iloc[0]] * 3


def test_zero_and_minus_zero_and_one_and_true_keep_their_own_text() -> None:
    floats = pd.Series([0.0, -0.0, 0.0, -0.0, 0.0])
    mixed = pd.Series([1, 1.0, True, 1, 1.0, True], dtype=object)
    assert content_hash(pd.DataFrame({"value": floats}), ("value",)).nunique() == 1  # one number
    assert list(_canonical_of(mixed, "verbatim_term")[:3]) == ["1", "1.0", "True"]
    assert content_hash(pd.DataFrame({"verbatim_term": mixed}), ("verbatim_term",)).nunique() == 3
