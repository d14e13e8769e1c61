"""Read state and saved items: ``item.read_at`` and ``item.saved_at``, with partial
indexes so the unread timeline and the saved list are each one index range read.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("saved_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_item_user_unread_rank",
        "item",
        ["user_id", "rank_key", "id"],
        unique=False,
        sqlite_where=sa.text("read_at IS NULL"),
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_index(
        "ix_item_user_saved",
        "item",
        ["user_id", "saved_at", "id"],
        unique=False,
        sqlite_where=sa.text("saved_at IS NOT NULL"),
        postgresql_where=sa.text("saved_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_item_user_saved", table_name="item")
    op.drop_index("ix_item_user_unread_rank", table_name="item")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("saved_at")
        batch_op.drop_column("read_at")
