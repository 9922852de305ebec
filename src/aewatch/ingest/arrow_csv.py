"""A regular CSV read by Arrow's parser: the same table of text as Python's ``csv`` module
gives (``aewatch.ingest.readers``), ten times faster on a large export.

Only for files Arrow reads exactly as ``csv`` does: every row splits into the header's
fields, the header is the first line, and no cell holds whitespace other than ASCII
(Python's ``str.strip`` and Arrow's trim disagree on a few control and Unicode
characters). Anything else returns None and the caller reads the file with ``csv``,
which also reports rows that do not split. A property test holds the two readers to the
same tables.
"""

from __future__ import annotations

import io
import re

import pandas as pd

# Whitespace to Python but not ASCII: \x1c-\x1f, NEL, NBSP and the Unicode spaces.
_OTHER_WHITESPACE = re.compile(
    "[\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


def read_regular_csv(text: str, delimiter: str) -> tuple[list[str], pd.DataFrame] | None:
    """(header, frame of trimmed text with blank rows dropped), or None if this file
    needs Python's reader."""
    first = text.split("\n", 1)[0].strip()
    if not first or _OTHER_WHITESPACE.search(text):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    try:
        table = pcsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pcsv.ReadOptions(autogenerate_column_names=True, block_size=1 << 24),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(first.count(delimiter) + 1)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    if table.num_rows == 0 or any(t != pa.string() for t in table.schema.types):
        return None
    columns = [pc.utf8_trim_whitespace(column) for column in table.columns]
    header = [str(column[0].as_py()) for column in columns]
    body = [column.slice(1) for column in columns]
    if body and body[0].length():
        blank = pc.equal(body[0], "")
        for column in body[1:]:
            blank = pc.and_(blank, pc.equal(column, ""))
        if pc.any(blank).as_py():
            keep = pc.invert(blank)
            body = [column.filter(keep) for column in body]
    frame = pd.DataFrame(
        {position: pd.Series(column, dtype="str") for position, column in enumerate(body)}
    )
    return header, frame
