"""Stage, emergence (after exposure): worsening after RT is treatment-emergent.

A pre-RT AE whose grade rises after the first RT day is split into the pre-RT AE (at its
pre-RT grade) and an emergent worsening AE (aewatch.safety.emergence decides,
aewatch.store.emergence writes). The first RT day comes from the courses the exposure
stage has just rebuilt, and EX may arrive in a later file than the AE, so this runs on
every subject the file touched, whatever domain touched it.

A worsening is alerted (SAE rules) when the site's version behind it arrived in this
file; one found because RT was dated later was already alerted as the AE it worsens.
"""

from __future__ import annotations

from aewatch import audit
from aewatch.pipeline.context import FileContext, Touched
from aewatch.store.emergence import split_worsenings


def emergence(ctx: FileContext, so_far: Touched) -> Touched:
    subjects = so_far.subjects | so_far.ex_subjects
    if not subjects:
        return Touched()
    done = split_worsenings(ctx.session, subjects, set(so_far.ae_versions), ctx.now)
    for change in done.changes:
        audit.record(
            ctx.session,
            at=ctx.now,
            actor=ctx.actor,
            action="ae worsening after rt",
            entity="adverse_event",
            entity_id=change["ae_key"],
            detail=change,
            config_hash=ctx.settings.config_hash,
        )
    return Touched(versions=done.versions, subjects=done.subjects, ae_versions=done.news)
