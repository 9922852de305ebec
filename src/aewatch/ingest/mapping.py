"""Turn raw tables into SDTM-named tables per domain, applying a source's mapping."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import pandas as pd

from aewatch.config import SourceMapping
from aewatch.ingest.readers import RawTable, UnreadableFile
from aewatch.ingest.vocab import DOMAINS, FILE_STEMS


@dataclass(frozen=True)
class DomainTable:
    domain: str
    frame: pd.DataFrame  # SDTM variable names, text values, plus ROW (1-based data row)
    problems: tuple[tuple[int, str], ...] = ()


def source_for(file_name: str, sources: tuple[SourceMapping, ...]) -> SourceMapping | None:
    """The first configured source whose `match` glob fits the file name."""
    for source in sources:
        if any(fnmatch.fnmatch(file_name.lower(), pattern.lower()) for pattern in source.match):
            return source
    return None


def to_domain_tables(
    tables: list[RawTable], file_name: str, source: SourceMapping | None
) -> list[DomainTable]:
    out: list[DomainTable] = []
    for table in tables:
        frame = _rename_columns(table.frame, source)
        frame = _map_values(frame, source)
        frame = frame.assign(ROW=table.row_numbers.to_numpy())
        if "DOMAIN" in frame.columns and (frame["DOMAIN"] != "").any():
            domains = frame["DOMAIN"].str.upper().replace("", pd.NA)
            fallback = _domain_from_name(table.name, source, file_name)
            domains = domains.fillna(fallback or "")
            for domain, part in frame.groupby(domains.to_numpy(), sort=False):
                out.append(DomainTable(str(domain), part.reset_index(drop=True)))
            if table.problems:
                out.append(DomainTable(fallback or "", frame.iloc[0:0], table.problems))
            continue
        domain = _domain_from_name(table.name, source, file_name)
        if domain is None:
            raise UnreadableFile(
                f"cannot tell which SDTM domain '{table.name}' holds: add a DOMAIN column, name "
                "the file or sheet after it (dm, ae, lb, ex, ds) or set `domain` for its source"
            )
        out.append(DomainTable(domain, frame, table.problems))
    return out


def _domain_from_name(name: str, source: SourceMapping | None, file_name: str) -> str | None:
    if source is not None and source.domain:
        return source.domain
    for candidate in (name, file_name.rsplit(".", 1)[0]):
        lowered = candidate.lower()
        if lowered.upper() in DOMAINS:
            return lowered.upper()
        tokens = [t for t in _tokens(lowered) if t]
        for token in tokens:
            stem = token.rstrip("0123456789") or token  # ae2, lb20250301
            if stem in FILE_STEMS:
                return FILE_STEMS[stem]
    return None


def _tokens(text: str) -> list[str]:
    out, current = [], []
    for ch in text:
        if ch.isalnum():
            current.append(ch)
        else:
            out.append("".join(current))
            current = []
    out.append("".join(current))
    return out


def _rename_columns(frame: pd.DataFrame, source: SourceMapping | None) -> pd.DataFrame:
    """Source headers → SDTM names (case-insensitive); other headers are upper-cased."""
    renames = {}
    wanted = {k.strip().lower(): v for k, v in (source.columns.items() if source else [])}
    for column in frame.columns:
        target = wanted.get(column.strip().lower())
        renames[column] = target if target else column.strip().upper()
    renamed = frame.rename(columns=renames)
    if renamed.columns.duplicated().any():
        dupes = sorted(set(renamed.columns[renamed.columns.duplicated()]))
        raise UnreadableFile(f"two columns map to the same variable {dupes}: fix the mapping")
    return renamed


def _map_values(frame: pd.DataFrame, source: SourceMapping | None) -> pd.DataFrame:
    if source is None or not source.values:
        return frame
    frame = frame.copy()
    for variable, mapping in source.values.items():
        if variable in frame.columns:
            lowered = {k.strip().lower(): v for k, v in mapping.items()}
            column = frame[variable]
            mapped = column.str.strip().str.lower().map(lowered)
            frame[variable] = mapped.fillna(column)
    return frame
