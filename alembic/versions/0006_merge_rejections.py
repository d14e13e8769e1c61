"""Merge suggestions the user rejected.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('merge_rejection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('person_a', sa.Integer(), nullable=False),
    sa.Column('person_b', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_a'], ['person.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_b'], ['person.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'person_a', 'person_b', name='uq_merge_rejection')
    )
    with op.batch_alter_table('merge_rejection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_merge_rejection_person_a'), ['person_a'], unique=False)
        batch_op.create_index(batch_op.f('ix_merge_rejection_person_b'), ['person_b'], unique=False)
        batch_op.create_index(batch_op.f('ix_merge_rejection_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('merge_rejection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_merge_rejection_user_id'))
        batch_op.drop_index(batch_op.f('ix_merge_rejection_person_b'))
        batch_op.drop_index(batch_op.f('ix_merge_rejection_person_a'))

    op.drop_table('merge_rejection')
