"""Stage 3, check: each row typed and checked; a bad row becomes a fault with its reason.

Pure (no database), so it runs before the transaction opens. Rows of a domain aewatch
does not read, and rows the reader could not split, are faults too: every row of the
file is accounted for.
"""

from __future__ import annotations

from dataclasses import replace

from aewatch.config import Settings
from aewatch.ingest.mapping import DomainTable
from aewatch.ingest.validate import Checked, Fault, check_table
from aewatch.pipeline.context import DOMAIN_ORDER


def check(table: DomainTable, settings: Settings) -> Checked:
    """The table's good rows, typed, and a fault for every bad one."""
    reader_faults = [Fault(row, None, None, reason) for row, reason in table.problems]
    rows = len(table.frame) + len(reader_faults)
    if table.domain not in DOMAIN_ORDER:
        faults = [
            Fault(
                int(r),
                "DOMAIN",
                table.domain or None,
                f"domain '{table.domain or '?'}' is not read by aewatch "
                "(expected DM, AE, LB, EX or DS)",
            )
            for r in table.frame["ROW"]
        ]
        return Checked(table.domain, table.frame.iloc[0:0], faults + reader_faults, rows=rows)
    checked = check_table(table.domain, table.frame, settings.trial.studies)
    return replace(checked, faults=[*checked.faults, *reader_faults], rows=rows)
