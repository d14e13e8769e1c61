"""Ranking: a stored, indexed sort key and reasons per item; the learned models.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 00:13:17.631902
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from datetime import UTC, datetime


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ranking_model',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('schema_version', sa.Integer(), nullable=False),
    sa.Column('library', sa.String(length=200), nullable=False),
    sa.Column('trained_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retrained_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', name='uq_ranking_model_user')
    )
    with op.batch_alter_table('ranking_model', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ranking_model_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('learned', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.create_index('ix_feedback_user_learned', ['user_id', 'learned'], unique=False)

    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rank_key', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('why', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('scored_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_item_user_rank', ['user_id', 'rank_key', 'id'], unique=False)

    # existing items get the key of an unscored item (a score of zero at its age:
    # 0.3 per day since 2020-01-01), so the timeline keeps its newest-first order
    # until the ranker scores them (scored_at stays NULL, which asks for that)
    bind = op.get_bind()
    item = sa.table('item', sa.column('id', sa.Integer), sa.column('published', sa.DateTime),
                    sa.column('rank_key', sa.Float))
    epoch = datetime(2020, 1, 1, tzinfo=UTC)
    rows = bind.execute(sa.select(item.c.id, item.c.published)).all()
    for start in range(0, len(rows), 1000):
        updates = []
        for item_id, published in rows[start:start + 1000]:
            if published.tzinfo is None:
                published = published.replace(tzinfo=UTC)
            updates.append({'b_id': item_id,
                            'b_key': 0.3 * (published - epoch).total_seconds() / 86400})
        bind.execute(item.update().where(item.c.id == sa.bindparam('b_id'))
                     .values(rank_key=sa.bindparam('b_key')), updates)



def downgrade() -> None:
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_index('ix_item_user_rank')
        batch_op.drop_column('scored_at')
        batch_op.drop_column('why')
        batch_op.drop_column('rank_key')

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_user_learned')
        batch_op.drop_column('learned')

    with op.batch_alter_table('ranking_model', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ranking_model_user_id'))

    op.drop_table('ranking_model')
