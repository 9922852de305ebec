"""Drop subject indexes that the (subject_pk, key) unique constraints already cover.

Each one cost every insert of a large lab file a second B-tree update for nothing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:15:27.978581
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('adverse_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adverse_events_subject_pk'))

    with op.batch_alter_table('lab_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_results_subject_pk'))

    with op.batch_alter_table('rt_courses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rt_courses_subject_pk'))



def downgrade() -> None:
    with op.batch_alter_table('rt_courses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rt_courses_subject_pk'), ['subject_pk'], unique=False)

    with op.batch_alter_table('lab_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_results_subject_pk'), ['subject_pk'], unique=False)

    with op.batch_alter_table('adverse_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adverse_events_subject_pk'), ['subject_pk'], unique=False)

