"""SDTM CSV in and out through Arrow: the I/O half of ``grade-labs`` on large exports.

Reading: every cell as text, exactly as written (the output repeats it), empty cells
missing, a UTF-8 BOM tolerated, "NA" kept as text (sodium's LBTESTCD): what
``pandas.read_csv(dtype=str, keep_default_na=False, na_values=[""])`` gives, read by
Arrow's multi-threaded parser.

Writing: the bytes ``DataFrame.to_csv(index=False)`` writes (comma, ``\\n``, a field
quoted only when it holds a comma, a quote or a line break, quotes doubled, missing as
empty, whole numbers as digits, floats as Python prints them), built column-wise with
Arrow compute instead of row by row. A column of another kind sends the whole frame to
pandas' writer, so the output never depends on which writer ran.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@functools.cache
def _special_characters() -> str:
    """The characters that make Python's csv module (pandas' writer) quote a field:
    always the comma, the quote and \\n; \\r depends on the Python version, so ask."""
    import csv
    import io

    probe = io.StringIO()
    csv.writer(probe, lineterminator="\n").writerow(["a\rb", "c"])
    return ',"\n' + ("\r" if probe.getvalue().startswith('"') else "")


def read_text_csv(path: Path) -> pd.DataFrame:
    """A CSV file with every column as text (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = pacsv.open_csv(path).schema.names
    if len(set(names)) != len(names):  # Arrow needs distinct names to type columns
        import pandas as pd

        return pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig"
        )
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    return table.to_pandas()


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as ``frame.to_csv(path, index=False)`` would, byte for byte."""
    cells = [_cells(frame[column]) for column in frame.columns] if frame.shape[1] else None
    if (
        cells is None
        or len(cells) < 2  # a one-column row of "" is written '""'
        or any(c is None for c in cells)
        or frame.columns.duplicated().any()
    ):
        frame.to_csv(path, index=False)
        return
    import pyarrow as pa
    import pyarrow.compute as pc

    header = ",".join(_quote(str(name)) for name in frame.columns) + "\n"
    with open(path, "wb") as out:
        out.write(header.encode("utf-8"))
        if len(frame) == 0:
            return
        text = pa.large_string()
        rows = pc.binary_join_element_wise(*cells, pa.scalar(",", text))
        empty, newline = pa.scalar("", text), pa.scalar("\n", text)
        lines = pc.binary_join_element_wise(rows, empty, newline)  # each row + "\n"
        chunks = lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]
        for chunk in chunks:
            out.write(_value_bytes(chunk.cast(pa.large_string())))


def _cells(column: pd.Series) -> Any:
    """The column as Arrow text as pandas would print it, or None for a kind we leave
    to pandas."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype):  # Arrow-backed text: no Python objects
        text = pc.cast(pa.array(column, from_pandas=True), pa.large_string())
    elif dtype.kind == "O" and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        text = pa.array(column, type=pa.large_string(), from_pandas=True)
    elif pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        text = pc.cast(pa.array(column, from_pandas=True), pa.large_string())
    elif pd.api.types.is_float_dtype(dtype) and isinstance(dtype, np.dtype):
        values = column.to_numpy()
        printed = np.where(np.isnan(values), "", values.astype(str))
        return pa.array(printed, type=pa.large_string())  # digits never need quotes
    else:
        return None
    text = pc.fill_null(text, "")
    needs = pc.match_substring_regex(text, "[" + _special_characters() + "]")
    if not pc.any(needs).as_py():
        return text
    doubled = pc.replace_substring(text, '"', '""')
    mark, empty = pa.scalar('"', pa.large_string()), pa.scalar("", pa.large_string())
    quoted = pc.binary_join_element_wise(mark, doubled, mark, empty)
    return pc.if_else(needs, quoted, text)


def _value_bytes(array: Any) -> memoryview:
    """The concatenated UTF-8 bytes of a large_string array without nulls."""
    import numpy as np

    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data = array.buffers()[2]
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])]


def _quote(text: str) -> str:
    if any(c in text for c in _special_characters()):
        return '"' + text.replace('"', '""') + '"'
    return text
