"""Per-recipient deliveries of an alert (emails with personal links)

Revision ID: w016
Revises: 0002
Create Date: 2026-11-28 03:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aewatch.models

revision: str = 'w016'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_pk', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', aewatch.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['alert_pk'], ['alerts.id'], name=op.f('fk_alert_deliveries_alert_pk_alerts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
    sa.UniqueConstraint('alert_pk', 'recipient', name=op.f('uq_alert_deliveries_alert_pk_recipient'))
    )


def downgrade() -> None:
    op.drop_table('alert_deliveries')
