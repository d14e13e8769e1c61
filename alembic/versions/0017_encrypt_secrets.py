"""Secrets at rest: ``source.access_token`` (Mastodon tokens, Bluesky app passwords)
becomes TEXT on PostgreSQL (an encrypted value is about twice as long) and every
plain-text value is encrypted with the key set of :mod:`app.secrets` (configured at
start-up from KITH_ENCRYPTION_KEY / KITH_SECRET_KEY / the key file). A value already
encrypted is left alone. SQLite keeps the column as it is (it enforces no length, and
rebuilding ``source`` would cascade into its items).

Downgrade decrypts them again (it needs the same key).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 10:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECRETS = [("source", "access_token")]


def _has_values(conn: sa.Connection) -> bool:
    for table, column in SECRETS:
        t = sa.table(table, sa.column(column))
        if conn.execute(sa.select(1).select_from(t).where(t.c[column].is_not(None))).first():
            return True
    return False


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.alter_column(
            "source", "access_token", existing_type=sa.String(length=500), type_=sa.Text()
        )
    if _has_values(conn):  # the key is needed only when there is something to encrypt
        from app import secrets

        secrets.encrypt_plaintext(conn, secrets.current(), SECRETS)


def downgrade() -> None:
    conn = op.get_bind()
    if _has_values(conn):
        from app import secrets

        keys = secrets.current()
        for table, column in SECRETS:
            t = sa.table(table, sa.column("id"), sa.column(column, sa.Text))
            for pk, text in conn.execute(sa.select(t.c.id, t.c[column])).all():
                if text and secrets.is_encrypted(text):
                    conn.execute(
                        sa.update(t)
                        .where(t.c.id == pk)
                        .values({column: secrets.decrypt(text, keys)})
                    )
    if conn.dialect.name == "postgresql":
        op.alter_column(
            "source", "access_token", existing_type=sa.Text(), type_=sa.String(length=500)
        )
