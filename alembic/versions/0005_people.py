"""People: manual weight, pin and mute, relationship types, cadence, snooze and dismiss.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manual_weight', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('pinned', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('muted', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('relationships', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('cadence_days', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dismissed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('dismissed_at')
        batch_op.drop_column('snoozed_until')
        batch_op.drop_column('cadence_days')
        batch_op.drop_column('relationships')
        batch_op.drop_column('muted')
        batch_op.drop_column('pinned')
        batch_op.drop_column('manual_weight')

