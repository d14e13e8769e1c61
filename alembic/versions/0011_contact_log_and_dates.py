"""The contact log (contact Kith cannot see, recorded by the user) and dates to remember.

Logged contact is an interaction like those Kith sees (so drifting, the contact history
and the ranking prior count it without a second path), with ``logged`` set and a note;
its direction may be ``both``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.alter_column(
            "direction", existing_type=sa.String(length=3), type_=sa.String(length=4)
        )
        batch_op.add_column(
            sa.Column("logged", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("note", sa.String(length=500), nullable=True))
    op.create_table(
        "person_date",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("remind_days", sa.Integer(), server_default="7", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "kind", "label", name="uq_person_date_kind_label"),
    )
    op.create_index("ix_person_date_person_id", "person_date", ["person_id"], unique=False)
    op.create_index("ix_person_date_user_id", "person_date", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_person_date_user_id", table_name="person_date")
    op.drop_index("ix_person_date_person_id", table_name="person_date")
    op.drop_table("person_date")
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.drop_column("note")
        batch_op.drop_column("logged")
        batch_op.alter_column(
            "direction", existing_type=sa.String(length=4), type_=sa.String(length=3)
        )
