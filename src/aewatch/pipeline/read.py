"""Stage 1–2, read and map: the file's bytes into SDTM-named tables per domain.

Runs before the transaction opens. An unreadable file raises ``UnreadableFile``
(the runner files it in failed/ with the reason); nothing here touches the database.
"""

from __future__ import annotations

from pathlib import Path

from aewatch.config import Settings
from aewatch.ingest.mapping import DomainTable, source_for, to_domain_tables
from aewatch.ingest.readers import read_tables


def read_file(path: Path, settings: Settings) -> list[DomainTable]:
    tables = read_tables(path)
    source = source_for(path.name, settings.sources)
    return to_domain_tables(tables, path.name, source)
