"""Feed content: tags, enclosures, comment threads, churn count, cross-source duplicates,
tombstones, the user's own person, auto-followed thread sources.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('item_tombstone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=1100), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_id', 'dedupe_key', name='uq_tombstone_source_dedupe')
    )
    with op.batch_alter_table('item_tombstone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_tombstone_source_id'), ['source_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_tombstone_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tags', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('enclosures', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('comments_feed', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('comment_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('update_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_item_duplicate_of_id'), ['duplicate_of_id'], unique=False)
        batch_op.create_index('ix_item_user_url', ['user_id', 'url'], unique=False)
        batch_op.create_foreign_key('fk_item_duplicate_of_id_item', 'item', ['duplicate_of_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_self', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_item_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_source_parent_item_id'), ['parent_item_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_parent_item_id'))
        batch_op.drop_column('parent_item_id')

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('is_self')

    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_constraint('fk_item_duplicate_of_id_item', type_='foreignkey')
        batch_op.drop_index('ix_item_user_url')
        batch_op.drop_index(batch_op.f('ix_item_duplicate_of_id'))
        batch_op.drop_column('duplicate_of_id')
        batch_op.drop_column('update_count')
        batch_op.drop_column('comment_count')
        batch_op.drop_column('comments_feed')
        batch_op.drop_column('enclosures')
        batch_op.drop_column('tags')

    with op.batch_alter_table('item_tombstone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_tombstone_user_id'))
        batch_op.drop_index(batch_op.f('ix_item_tombstone_source_id'))

    op.drop_table('item_tombstone')
