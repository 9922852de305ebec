"""AE versions can be set aside: a derived AE replaced by the site's report of it.

- ``ae_versions.set_aside``: why this version no longer counts (None: it counts). A
  lab-derived AE linked to the site AE reporting the same abnormality, a death-derived AE
  once the site reports the fatal AE, or a death whose removal a person confirmed.
- ``ae_versions.superseded_by``: the site AE that now counts instead, where there is one.
- ``quarantine.resolved_by`` / ``quarantine.resolution``: who resolved a query by hand
  (``aewatch quarantine resolve``) and their note.

Revision ID: d019
Revises: r014
Create Date: 2026-11-28 09:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd019'
down_revision: str | None = 'r014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ae_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('set_aside', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('superseded_by', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_ae_versions_superseded_by_adverse_events'),
            'adverse_events',
            ['superseded_by'],
            ['id'],
        )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('resolution', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_column('resolution')
        batch_op.drop_column('resolved_by')
    with op.batch_alter_table('ae_versions', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_ae_versions_superseded_by_adverse_events'), type_='foreignkey'
        )
        batch_op.drop_column('superseded_by')
        batch_op.drop_column('set_aside')
