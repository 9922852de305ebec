"""HTML (Jinja2, autoescaped, self-contained) and PDF (WeasyPrint, PDF/A-3b) output."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

MAX_ROWS = 150
FIXED_LAYOUT_ROWS = 40


@dataclass(frozen=True)
class TableView:
    """A table as the template draws it: headers and already formatted cells."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""
    row_classes: list[str] = field(default_factory=list)
    empty_text: str = "None."
    numeric: list[bool] = field(default_factory=list)  # right-aligned columns

    @property
    def fixed_layout(self) -> bool:
        """Long tables get fixed column widths: auto layout measures every cell (slow)."""
        return len(self.rows) > FIXED_LAYOUT_ROWS


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("aewatch.templates", "reports"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(**context)


def svg_data_uri(svg: str) -> str:
    """Images go inline as data: URIs so the HTML is one self-contained file."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def frame_view(
    key: str,
    title: str,
    frame: pd.DataFrame,
    headers: dict[str, str | None] | None = None,
    note: str = "",
    empty_text: str = "None.",
    max_rows: int = MAX_ROWS,
) -> TableView:
    """Any DataFrame → TableView, with readable headers and blank missing values.

    Listings longer than ``max_rows`` are cut (a 5,000-patient listing helps no one on
    paper); the note says so and points to the CSV files written next to the report.
    """
    headers = headers or {}
    if len(frame) > max_rows:
        cut_note = f"First {max_rows} of {len(frame)} rows; all rows are in the CSV files."
        note = f"{note} {cut_note}".strip()
        frame = frame.head(max_rows)
    columns = [c for c in frame.columns if headers.get(c, c) is not None]
    rows = [
        [format_cell(value) for value in record]
        for record in frame[columns].itertuples(index=False, name=None)
    ]
    numeric = [
        pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        for c in columns
    ]
    return TableView(
        key,
        title,
        [headers.get(c, c.replace("_", " ")) for c in columns],
        rows,
        note,
        empty_text=empty_text,
        numeric=numeric,
    )


def format_cell(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is not None:
            return value.strftime("%Y-%m-%d %H:%M UTC")
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def write_pdf(html: str, path: Path, base_dir: Path) -> Path:
    """PDF/A-3b; the fetcher allows only data: URIs and local files (no network)."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=("data", "file"), allow_redirects=False)
    HTML(string=html, base_url=str(base_dir), url_fetcher=fetcher).write_pdf(
        str(path), pdf_variant="pdf/a-3b"
    )
    return path
