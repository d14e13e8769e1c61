"""Leases on sources for scale-out workers: who holds a source's refresh, until when.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_source_lease_until", ["lease_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.drop_index("ix_source_lease_until")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
