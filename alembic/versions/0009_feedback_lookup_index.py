"""An index for the timeline's "not hidden" check: feedback by (user, action, item).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 02:19:08.832174
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_user_action_item', ['user_id', 'action', 'item_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_user_action_item')

