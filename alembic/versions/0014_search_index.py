"""Full-text search: SQLite FTS5 table ``item_fts`` and its triggers; on PostgreSQL the
trigger-maintained ``item.search_vector`` with the GIN index ``ix_item_search``. Existing
items are indexed in batches of ids. See :mod:`app.search.schema`.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.search import schema

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 20_000


def _backfill(bind: sa.Connection, statement: str) -> None:
    top = bind.execute(sa.text("SELECT max(id) FROM item")).scalar() or 0
    for after in range(0, top, BATCH):
        bind.execute(sa.text(statement), {"after": after, "upto": after + BATCH})


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # the triggers and the backfill call kith_text; this connection may not come
        # from app.db's engine (which registers it on every connection)
        schema.register_sqlite_functions(bind.connection.driver_connection)
        op.execute(
            f"CREATE VIRTUAL TABLE {schema.FTS_TABLE} USING fts5("
            f"title, body, person, tokenize = '{schema.TOKENIZE}')"
        )
        schema.install_sqlite_triggers(op.execute)
        _backfill(bind, schema.SQLITE_BACKFILL)
        op.execute("INSERT INTO item_fts(item_fts) VALUES ('optimize')")
        return
    op.execute(f"ALTER TABLE item ADD COLUMN {schema.PG_COLUMN} tsvector")
    for ddl in schema.PG_FUNCTIONS + schema.PG_TRIGGERS:
        op.execute(ddl)
    _backfill(bind, schema.PG_BACKFILL)
    op.execute(f"CREATE INDEX {schema.PG_INDEX} ON item USING gin ({schema.PG_COLUMN})")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in schema.SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {schema.FTS_TABLE}")
        return
    op.execute("DROP TRIGGER IF EXISTS identity_search_person ON identity")
    op.execute("DROP TRIGGER IF EXISTS person_search_name ON person")
    op.execute("DROP TRIGGER IF EXISTS item_search_vector ON item")
    op.execute(f"DROP INDEX IF EXISTS {schema.PG_INDEX}")
    op.execute(f"ALTER TABLE item DROP COLUMN IF EXISTS {schema.PG_COLUMN}")
    for fn in ("kith_identity_moved", "kith_person_renamed", "kith_item_search_vector"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
    op.execute("DROP FUNCTION IF EXISTS kith_text(text)")
