"""SDTM CSV in and out through Arrow: the I/O half of ``grade-labs`` on large exports.

Reading: every cell as text, exactly as written (the output repeats it), empty cells
missing, a UTF-8 BOM tolerated, "NA" kept as text (sodium's LBTESTCD): what
``pandas.read_csv(dtype=str, keep_default_na=False, na_values=[""])`` gives, read by
Arrow's multi-threaded parser into Arrow-backed text columns (no Python string per cell).

Writing: the bytes ``DataFrame.to_csv(index=False)`` writes (comma, ``\\n``, a field
quoted only when it holds a comma, a quote or a line break, quotes doubled, missing as
empty, whole numbers as digits, floats as Python prints them). Columns go to Arrow as they
are; a block of rows in which no cell needs quotes is written by Arrow's CSV writer
unquoted, any other block is joined column-wise with Arrow compute, quoting the cells that
need it. A column of another kind sends the whole frame to pandas' writer, so the output
never depends on which writer ran.
"""

from __future__ import annotations

import functools
import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
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


BLOCK_ROWS = 1 << 16  # rows per block: one cell that needs quotes slows only its block
STRUCTURAL = (b",", b'"', b"\n", b"\r")  # what Arrow's unquoted writer refuses


# reads started by read_ahead, by absolute path, with the file's size and time then
_AHEAD: dict[str, tuple[tuple[int, int], Future[Any]]] = {}


def read_ahead(paths: Iterable[str | Path]) -> None:
    """Start reading these files' CSV text with Arrow on a background thread: the parse
    runs while the caller goes on importing pandas and the grading modules (most of a
    command's start-up), and ``read_text_csv`` of the same path takes the result, or
    raises what the read raised. Other files are left alone. Imports only pyarrow."""
    wanted = [p for p in paths if Path(p).suffix.lower() == ".csv"]
    if not wanted:
        return
    pool = ThreadPoolExecutor(max_workers=1)
    for path in wanted:
        try:
            version = _version(path)
        except OSError:  # reading it will say what is wrong
            continue
        _AHEAD[os.path.abspath(path)] = (version, pool.submit(_read_text_table, Path(path)))
    pool.shutdown(wait=False)  # the thread ends when the last read is done


def read_text_csv(path: Path) -> pd.DataFrame:
    """A CSV file with every column as text (see the module docstring)."""
    version, started = _AHEAD.pop(os.path.abspath(path), (None, None))
    if started is not None and version == _version(path):
        table = started.result()
    else:  # not read ahead, or the file changed since
        table = _read_text_table(path)
    if table is None:  # Arrow needs distinct names to type columns
        import pandas as pd

        return pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig"
        )
    return table.to_pandas()


def _version(path: str | Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns


def _read_text_table(path: Path) -> Any:
    """The file as an Arrow table of large strings, or None when column names repeat."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = pacsv.open_csv(path).schema.names
    if len(set(names)) != len(names):
        return None
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.large_string() for name in names},  # pandas' own layout
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


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

    header = ",".join(_quote(str(name)) for name in frame.columns) + "\n"
    table = pa.Table.from_arrays(cells, names=[str(i) for i in range(len(cells))])
    # Arrow formats a block without holding the GIL: blocks are formatted on every core
    # while the finished ones are written in order, a few blocks ahead at most.
    workers = max(1, min(pa.cpu_count(), 4))
    with open(path, "wb") as out, ThreadPoolExecutor(max_workers=workers) as pool:
        out.write(header.encode("utf-8"))
        ahead: deque[Future[Any]] = deque()
        for block in table.to_batches(max_chunksize=BLOCK_ROWS):
            ahead.append(pool.submit(_block_bytes, block))
            if len(ahead) > 2 * workers:
                out.write(ahead.popleft().result())
        while ahead:
            out.write(ahead.popleft().result())


def _block_bytes(block: Any) -> Any:
    """The CSV lines of a record batch (text and integer columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if not any(_has_structural(column) for column in block.columns):
        sink = pa.BufferOutputStream()
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        pacsv.write_csv(block, sink, options)
        return sink.getvalue()
    text = pa.large_string()
    cells = [_quoted(pc.fill_null(pc.cast(column, text), "")) for column in block.columns]
    rows = pc.binary_join_element_wise(*cells, pa.scalar(",", text))
    lines = pc.binary_join_element_wise(rows, pa.scalar("", text), pa.scalar("\n", text))
    return _value_bytes(lines)


def _has_structural(column: Any) -> bool:
    """Whether any cell of a text array holds a delimiter, a quote or a line break (looked
    up in the array's bytes, not cell by cell); numbers never do."""
    import numpy as np
    import pyarrow as pa

    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return False
    data = column.buffers()[2]
    if data is None or len(column) == 0:
        return False
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    offsets = np.frombuffer(column.buffers()[1], dtype=width)
    start, end = int(offsets[column.offset]), int(offsets[column.offset + len(column)])
    written = memoryview(data)[start:end].tobytes()
    return any(mark in written for mark in STRUCTURAL)


def _cells(column: pd.Series) -> Any:
    """The column as an Arrow array (text as pandas would print it, or integers), or None
    for a kind we leave to pandas."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype):  # Arrow-backed text: no Python objects
        return pa.chunked_array(pa.array(column, from_pandas=True))
    if dtype.kind == "O" and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        return pa.array(column, type=pa.large_string(), from_pandas=True)
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return pa.array(column, from_pandas=True)
    if pd.api.types.is_float_dtype(dtype) and isinstance(dtype, np.dtype):
        values = column.to_numpy()
        printed = np.where(np.isnan(values), "", values.astype(str))
        return pa.array(printed, type=pa.large_string())  # digits never need quotes
    return None


def _quoted(text: Any) -> Any:
    """Text cells quoted where Python's csv module quotes them, quotes doubled."""
    import pyarrow as pa
    import pyarrow.compute as pc

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
