"""The stages of one file, in order. Read this module to know what ingest does.

    read → map → check → plausibility → code    (pure, before the transaction opens)
    store → exposure → emergence → reconcile → grade → derive → rules → alerts   (one transaction)

Each stage is one function in a module of its own name. A stage takes the file's
context (and, in the transaction, what the file touched so far) and returns what it
touched; it never calls the runner or a later stage.
"""

from __future__ import annotations

from datetime import datetime

from aewatch.config import Settings
from aewatch.ingest.mapping import DomainTable
from aewatch.pipeline.alerts import queue_alerts
from aewatch.pipeline.check import check
from aewatch.pipeline.code import code
from aewatch.pipeline.context import DOMAIN_ORDER, FileContext, PreparedTable, Touched
from aewatch.pipeline.derive import derive
from aewatch.pipeline.emergence import emergence
from aewatch.pipeline.exposure import exposure
from aewatch.pipeline.grade import grade
from aewatch.pipeline.plausibility import plausibility
from aewatch.pipeline.reconcile import reconcile
from aewatch.pipeline.rules import evaluate_rules
from aewatch.pipeline.store import store

# After every table is stored, each of these runs once for the whole file.
FILE_STAGES = (exposure, emergence, reconcile, grade, derive, evaluate_rules, queue_alerts)


def prepare(
    tables: list[DomainTable], settings: Settings, received: datetime
) -> list[PreparedTable]:
    """check → plausibility → code for each table, in the order the store stage needs
    them; ``received`` (when the file arrived) is what "in the future" means."""
    ordered = sorted(tables, key=lambda t: DOMAIN_ORDER.get(t.domain, 9))
    return [
        code(plausibility(check(table, settings), settings, received), settings)
        for table in ordered
    ]


def run_stages(ctx: FileContext, tables: list[PreparedTable]) -> Touched:
    """store each table, then exposure → emergence → reconcile → grade → derive → rules →
    alerts; inside transaction, so all of it commits together or not at all."""
    touched = Touched()
    for table in tables:
        touched.add(store(ctx, table))
    for stage in FILE_STAGES:
        touched.add(stage(ctx, touched))
    if any(not new.written for new in touched.new_labs):  # the whole file rolls back
        raise RuntimeError("new lab results were stored but never written with their grades")
    return touched
