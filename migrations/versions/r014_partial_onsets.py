"""Partial AE onsets keep their last possible day.

- ``ae_versions.onset_until``: the last day a partial onset (``2026-03``, ``2026``) can
  mean; None for a full date. Existing month- and year-precision versions are filled in
  from their first day and precision.

Revision ID: r014
Revises: r013
Create Date: 2026-11-28 07:20:00.000000
"""
import calendar
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = 'r014'
down_revision: str | None = 'r013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ae_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('onset_until', sa.Date(), nullable=True))
    versions = sa.table(
        'ae_versions',
        sa.column('id', sa.Integer),
        sa.column('onset_on', sa.Date),
        sa.column('onset_precision', sa.String),
        sa.column('onset_until', sa.Date),
    )
    bind = op.get_bind()
    partial = bind.execute(
        sa.select(versions.c.id, versions.c.onset_on, versions.c.onset_precision).where(
            versions.c.onset_on.is_not(None), versions.c.onset_precision.in_(['month', 'year'])
        )
    ).all()
    updates = [
        {'b_id': pk, 'b_until': _last_day(on, precision)} for pk, on, precision in partial
    ]
    if updates:
        bind.execute(
            versions.update()
            .where(versions.c.id == sa.bindparam('b_id'))
            .values(onset_until=sa.bindparam('b_until')),
            updates,
        )


def _last_day(first: date, precision: str) -> date:
    if isinstance(first, str):
        first = date.fromisoformat(first[:10])
    if precision == 'year':
        return date(first.year, 12, 31)
    return date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])


def downgrade() -> None:
    with op.batch_alter_table('ae_versions', schema=None) as batch_op:
        batch_op.drop_column('onset_until')
