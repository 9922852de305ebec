"""Stage 6, reconcile: DM and AE must agree on deaths, across files.

A death recorded in DM without a fatal (grade 5) AE, or a fatal AE without a death in DM,
is a data query (aewatch.safety.data_queries). DM and AE may arrive in different files,
so this runs in the transaction on the stored data of every subject the file touched; a
query is resolved as soon as the two domains agree.
"""

from __future__ import annotations

from aewatch.pipeline.context import FileContext, Touched
from aewatch.safety.data_queries import death_queries
from aewatch.store.deaths import death_records, sync_death_queries


def reconcile(ctx: FileContext, so_far: Touched) -> Touched:
    if not so_far.subjects:
        return Touched()
    subjects, events = death_records(ctx.session, so_far.subjects)
    queries = death_queries(subjects, events)
    opened = sync_death_queries(
        ctx.session,
        ctx.trial_pk,
        [str(s) for s in subjects["subject_id"]],
        queries,
        subjects,
        events,
        ctx.file_name,
        ctx.now,
    )
    return Touched(queries=opened)
