"""Mastodon sources: access token and sync state on the source; language and booster on items.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('boosted_by', sa.String(length=300), nullable=True))

    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_token', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('state', sa.JSON(), server_default='{}', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_column('state')
        batch_op.drop_column('access_token')

    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_column('boosted_by')
        batch_op.drop_column('language')

