"""Mastodon relationship flags per identity (following, followed_by, endorsed, note),
read at sync time for the ranking prior.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# plain ALTER TABLE on both backends (SQLite >= 3.35 drops a column in place): a batch
# rebuild of identity would drop the table that items and the search triggers refer to
def upgrade() -> None:
    op.add_column("identity", sa.Column("relationship", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("identity", "relationship")
