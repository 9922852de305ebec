"""Stage 6, reconcile: DM, DS and AE must agree on deaths, across files.

A death recorded in DM or DS without a fatal (grade 5) AE, a fatal AE without a death in
DM, or a death in DS only, is a data query (aewatch.safety.data_queries). A death no site
AE reports becomes a grade 5 "Death NOS" AE of its own (aewatch.safety.deaths), so it
alerts once and counts everywhere; it is set aside when the site reports the fatal AE or
a person confirms the death was not caused by an AE. DM, DS and AE may arrive in
different files, so this runs in the transaction on the stored data of every subject
the file touched; a query is resolved as soon as the domains agree.
"""

from __future__ import annotations

from aewatch.pipeline.context import FileContext, Touched
from aewatch.store.deaths import reconcile_deaths


def reconcile(ctx: FileContext, so_far: Touched) -> Touched:
    if not so_far.subjects:
        return Touched()
    opened, versions = reconcile_deaths(
        ctx.session, ctx.trial_pk, so_far.subjects, ctx.file_name, ctx.now
    )
    return Touched(queries=opened, ae_versions=versions)
