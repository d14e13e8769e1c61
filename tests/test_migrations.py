"""The initial migration builds exactly the tables the models describe, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.db import alembic_config, create_db_engine

EXPECTED_TABLES = {
    "user_account",
    "api_token",
    "source",
    "item",
    "person",
    "identity",
    "feedback",
    "interaction",
    "ranking_model",
    "item_tombstone",
    "merge_rejection",
    "person_date",
    "alembic_version",
}


def test_upgrade_then_autogenerate_finds_no_difference(db_url: str) -> None:
    # db_url is already upgraded to head by the fixture; upgrading again is a no-op
    command.upgrade(alembic_config(db_url), "head")
    engine = create_db_engine(db_url)
    try:
        assert set(sa.inspect(engine).get_table_names()) == EXPECTED_TABLES
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, SQLModel.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/down.db"
    command.upgrade(alembic_config(url), "head")
    command.downgrade(alembic_config(url), "base")
    engine = create_db_engine(url)
    assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
    command.upgrade(alembic_config(url), "head")
    assert "item" in sa.inspect(engine).get_table_names()
    engine.dispose()
