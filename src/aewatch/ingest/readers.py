"""Read a site export into tables of text, whatever its format.

Everything is read as text: types are checked later, column by column, so a bad
value becomes a quarantined row with a reason instead of a failed file. A file
that cannot be read at all raises ``UnreadableFile`` with a reason a data manager
can act on.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aewatch.ingest.arrow_csv import read_regular_csv

FORMATS = {".csv": "csv", ".txt": "csv", ".json": "json", ".xpt": "xpt", ".xlsx": "xlsx"}


class UnreadableFile(Exception):
    """The whole file is unusable; the message says why and what to do."""


@dataclass(frozen=True)
class RawTable:
    """One table of text as found in the file (a sheet, or the whole CSV/JSON/XPT)."""

    name: str  # sheet name or file stem: a hint for the domain
    frame: pd.DataFrame  # all columns str; "" for missing
    row_numbers: pd.Series  # 1-based data row number in the file (header excluded)
    problems: tuple[tuple[int, str], ...] = ()  # rows that could not be split into fields


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UnreadableFile(
            f"unsupported file type '{path.suffix}': send .csv, .json, .xpt or .xlsx"
        )
    return fmt


def read_tables(path: Path) -> list[RawTable]:
    fmt = file_format(path)
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableFile("the file is empty: re-export it with a header row and data")
    reader = {"csv": _read_csv, "json": _read_json, "xpt": _read_xpt, "xlsx": _read_xlsx}[fmt]
    return reader(path, data)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                "UTF-16 text that is cut off or corrupted: re-export the file as UTF-8"
            ) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "re-export the file as UTF-8 (in Excel: 'CSV UTF-8')"
        ) from exc


def _read_csv(path: Path, data: bytes) -> list[RawTable]:
    text = _decode(data)
    if "\x00" in text:
        raise UnreadableFile("the file contains NUL bytes: it is binary or corrupted, not CSV")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    regular = read_regular_csv(text, delimiter)
    if regular is not None:
        raw_header, frame = regular
        header = [_clean_header(h) for h in raw_header]
        _check_header(header)
        frame.columns = header
        numbers = pd.Series(range(1, len(frame) + 1), dtype="int64")
        return [RawTable(path.stem, frame if len(frame) else _empty(header), numbers)]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise UnreadableFile(f"CSV structure is broken ({exc}): check quoting") from exc
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise UnreadableFile("the file has no header row")
    header = [_clean_header(h) for h in rows[0]]
    _check_header(header)
    width = len(header)
    good: list[list[str]] = []
    numbers: list[int] = []
    problems: list[tuple[int, str]] = []
    for number, row in enumerate(rows[1:], start=1):
        if len(row) != width:
            problems.append(
                (
                    number,
                    f"row has {len(row)} fields but the header has {width}: "
                    "check for an unquoted delimiter or a missing value",
                )
            )
            continue
        good.append([cell.strip() for cell in row])
        numbers.append(number)
    frame = pd.DataFrame(good, columns=header, dtype="str") if good else _empty(header)
    return [RawTable(path.stem, frame, pd.Series(numbers, dtype="int64"), tuple(problems))]


def _read_json(path: Path, data: bytes) -> list[RawTable]:
    try:
        parsed = json.loads(_decode(data))
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    if isinstance(parsed, dict) and isinstance(parsed.get("records"), list):
        name = str(parsed.get("domain") or path.stem)
        parsed = parsed["records"]
    else:
        name = path.stem
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        raise UnreadableFile("JSON must be one object or a list of objects (records)")
    if not parsed:
        raise UnreadableFile("the JSON list holds no records")
    records: list[dict[str, str]] = []
    numbers: list[int] = []
    problems: list[tuple[int, str]] = []
    for number, item in enumerate(parsed, start=1):
        if not isinstance(item, dict):
            problems.append((number, f"record is a {type(item).__name__}, not an object"))
            continue
        record = {_clean_header(str(k)): _text(v) for k, v in item.items()}
        if nul := _nul_fields(record):
            problems.append((number, _nul_reason(nul)))
            continue
        records.append(record)
        numbers.append(number)
    frame = pd.DataFrame.from_records(records).fillna("") if records else pd.DataFrame()
    frame = frame.astype("str") if not frame.empty else frame
    return [RawTable(name, frame, pd.Series(numbers, dtype="int64"), tuple(problems))]


def _read_xpt(path: Path, data: bytes) -> list[RawTable]:
    if not data.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"):
        raise UnreadableFile("not a SAS transport (XPORT v5) file: the library header is missing")
    try:
        import pyreadstat

        frame, _meta = pyreadstat.read_xport(str(path))
    except Exception as exc:  # pyreadstat raises its own exception types
        raise UnreadableFile(
            f"SAS transport file cannot be read ({exc}): it may be truncated"
        ) from exc
    frame.columns = [_clean_header(c) for c in frame.columns]
    text = pd.DataFrame({col: _column_text(frame[col]) for col in frame.columns})
    numbers = pd.Series(range(1, len(text) + 1), dtype="int64")
    problems: list[tuple[int, str]] = []
    nul = [c for c in text.columns if "\x00" in "".join(text[c].tolist())]
    if nul:  # a corrupted record: quarantine the row, read the rest
        bad = np.zeros(len(text), dtype=bool)
        for position in range(len(text)):
            fields = [c for c in nul if "\x00" in text[c].iat[position]]
            if fields:
                bad[position] = True
                problems.append((position + 1, _nul_reason(fields)))
        text, numbers = text.loc[~bad].reset_index(drop=True), numbers[~bad].reset_index(drop=True)
    return [RawTable(path.stem, text, numbers, tuple(problems))]


def _read_xlsx(path: Path, data: bytes) -> list[RawTable]:
    try:
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise UnreadableFile(f"Excel workbook cannot be opened ({exc})") from exc
    tables: list[RawTable] = []
    for sheet in workbook.worksheets:
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        rows = [r for r in rows if any(c not in (None, "") for c in r)]
        if not rows:
            continue
        header = [_clean_header(_text(h)) for h in rows[0]]
        while header and header[-1] == "":
            header.pop()
        width = len(header)
        body = [[_text(c) for c in (r + [None] * width)[:width]] for r in rows[1:]]
        frame = pd.DataFrame(body, columns=header, dtype="str") if body else _empty(header)
        numbers = pd.Series(range(1, len(body) + 1), dtype="int64")
        tables.append(RawTable(sheet.title, _strip(frame), numbers))
    workbook.close()
    if not tables:
        raise UnreadableFile("the workbook has no sheet with data")
    return tables


def _nul_fields(record: dict[str, str]) -> list[str]:
    return [k for k, v in record.items() if "\x00" in v or "\x00" in k]


def _nul_reason(fields: list[str]) -> str:
    """NUL is binary data, not text (and PostgreSQL refuses to store it)."""
    return f"{', '.join(fields)} contains a NUL character (binary data): remove it and re-export"


def _clean_header(name: str) -> str:
    return name.replace("\ufeff", "").strip()


def _check_header(header: list[str]) -> None:
    if any(h == "" for h in header):
        raise UnreadableFile("the header row has an empty column name")
    seen = {h.upper() for h in header}
    if len(seen) != len(header):
        raise UnreadableFile("the header row names the same column twice")


def _empty(header: list[str]) -> pd.DataFrame:
    return pd.DataFrame({h: pd.Series(dtype="str") for h in header})


def _strip(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda col: col.str.strip()) if len(frame.columns) else frame


def _text(value: Any) -> str:
    """One cell as text: numbers without a spurious '.0', dates as ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _column_text(column: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column):
        # Only exactly representable whole numbers print as integers; a huge or non-finite
        # value (a corrupted record) stays as written, for the row checks to judge.
        finite = np.isfinite(column.astype("float64"))
        whole = finite & (column.abs() < 2**53) & (column == column.round())
        as_int = column.where(whole).astype("Int64").astype("string")
        out = column.astype("string").where(~whole, as_int)
        return out.fillna("").astype("str")
    return column.fillna("").astype("str").str.strip()
