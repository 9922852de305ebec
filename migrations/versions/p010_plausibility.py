"""Plausibility before grading: implausible values are kept and flagged; queries know
their record, so a corrected re-export closes them; DM's death flag is stored; SEX holds
UNDIFFERENTIATED.

Revision ID: p010
Revises: x011
Create Date: 2026-12-01 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'p010'
down_revision: str | None = "x011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ae_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('implausible', sa.Text(), nullable=True))

    with op.batch_alter_table('lab_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('implausible', sa.Text(), nullable=True))

    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('death_flag', sa.Boolean(), nullable=True))
        # SDTM's SEX codelist includes UNDIFFERENTIATED (16 characters).
        batch_op.alter_column(
            'sex', existing_type=sa.String(length=8), type_=sa.String(length=16)
        )

    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_key', sa.String(length=200), nullable=True))
        batch_op.create_index(
            'ix_quarantine_record', ['trial_pk', 'subject_id', 'record_key'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index('ix_quarantine_record')
        batch_op.drop_column('record_key')

    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.alter_column(
            'sex', existing_type=sa.String(length=16), type_=sa.String(length=8)
        )
        batch_op.drop_column('death_flag')

    with op.batch_alter_table('lab_results', schema=None) as batch_op:
        batch_op.drop_column('implausible')

    with op.batch_alter_table('ae_versions', schema=None) as batch_op:
        batch_op.drop_column('implausible')
