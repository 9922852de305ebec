"""Read the CSV files shipped in ``ctcae/data/`` (never ``../shared`` at run time)."""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

DATA_PACKAGE = "aewatch.ctcae"


def data_path(name: str) -> Path:
    """Filesystem path of a shipped data file (the package is installed from a folder)."""
    return Path(str(resources.files(DATA_PACKAGE).joinpath("data", name)))


def read_rows(name: str | Path) -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV as dicts of stripped strings: a ``str`` names a shipped file,
    a ``Path`` is any file.

    The csv module (not pandas) keeps "NA" as text: sodium's LBTESTCD is "NA".
    """
    path = name if isinstance(name, Path) else data_path(name)
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    return [
        {key.strip(): (value or "").strip() for key, value in row.items() if key is not None}
        for row in reader
    ]
