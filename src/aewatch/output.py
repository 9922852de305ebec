"""One way to print results: a table for people, JSON or CSV for scripts.

Rich draws the table only when stdout is a terminal; piped output is plain
tab-separated text, so `aewatch … | grep` and spreadsheets just work.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMATS = ("table", "json", "csv")


def emit(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    fmt: str = "table",
    title: str | None = None,
    json_document: Any = None,
) -> None:
    """Print rows in the chosen format; ``json_document`` overrides the JSON shape."""
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        document = json_document if json_document is not None else list(rows)
        sys.stdout.write(json.dumps(document, indent=2, default=str, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    elif fmt == "table":
        table(rows, columns, title=title)
    else:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], title: str | None = None
) -> None:
    rows = list(rows)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        grid = Table(title=title, show_lines=False)
        for column in columns:
            grid.add_column(column)
        for row in rows:
            grid.add_row(*[_cell(row.get(c)) for c in columns])
        Console().print(grid)
        return
    if title:
        sys.stdout.write(f"# {title}\n")
    sys.stdout.write("\t".join(columns) + "\n")
    for row in rows:
        sys.stdout.write("\t".join(_cell(row.get(c)) for c in columns) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
