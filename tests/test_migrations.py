"""The initial migration builds exactly the tables the models describe, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.db import alembic_config, create_db_engine
from app.search.schema import is_search_object

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
    "job_run",
    "app_password",
    "digest_subscription",
    "digest_delivery",
    "alembic_version",
}


def test_upgrade_then_autogenerate_finds_no_difference(db_url: str) -> None:
    # db_url is already upgraded to head by the fixture; upgrading again is a no-op
    command.upgrade(alembic_config(db_url), "head")
    engine = create_db_engine(db_url)
    try:
        # the search index (app.search.schema) lives beside the models: FTS5 tables on
        # SQLite, a trigger-kept tsvector column and its GIN index on PostgreSQL
        tables = set(sa.inspect(engine).get_table_names())
        assert {t for t in tables if not is_search_object(t, "table")} == EXPECTED_TABLES
        with engine.connect() as conn:
            opts = {
                "compare_type": True,
                "include_name": lambda name, type_, _parents: not is_search_object(name, type_),
            }
            ctx = MigrationContext.configure(conn, opts=opts)
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


def test_0012_files_misfiled_comment_feeds_as_comments(db_url: str) -> None:
    """Seeded at 0011: plain feeds whose stored items (or URL and title) are comments
    become comment sources, due now, without validators, flagged for adoption; blogs
    (even one titled like a comment feed, or with a post "Comments on ...") stay feeds."""
    from datetime import UTC, datetime

    from sqlmodel import Session, select

    from app.models import Item, Source, User

    cfg = alembic_config(db_url)
    command.downgrade(cfg, "0011")
    engine = create_db_engine(db_url)
    later = datetime(2999, 1, 1, tzinfo=UTC)
    site = "https://blog.example/2026/11/hello/"
    with Session(engine) as s:
        user = User(name="alice", password_hash="x")
        s.add(user)
        s.flush()
        assert user.id is not None

        def source(url: str, title: str, kind: str = "feed") -> Source:
            row = Source(
                user_id=user.id,
                url=url,
                title=title,
                kind=kind,
                etag='"e"',
                last_modified="Mon, 30 Nov 2026 10:00:00 GMT",
                next_check_at=later,
                state={"kept": 1},
            )
            s.add(row)
            s.flush()
            return row

        def item(src: Source, n: int, title: str, url: str, comments: str | None = None) -> None:
            # Core, naming the columns: the model has columns later revisions add
            s.execute(
                sa.insert(Item.__table__).values(  # type: ignore[attr-defined]
                    user_id=user.id,
                    source_id=src.id,
                    dedupe_key=f"k{n}",
                    url=url,
                    title=title,
                    content="",
                    content_hash="h",
                    published=later,
                    fetched_at=later,
                    comments_feed=comments,
                    tags=[],
                    enclosures=[],
                    why=[],
                )
            )

        by_items = source("https://feeds.example/x.xml", "Alice's notes")
        for n in range(3):
            item(by_items, n, f"By: Commenter {n}", f"{site}#comment-{n}")
        by_address = source("https://blog.example/comments/feed/", "Comments for Blog")
        blog = source("https://blog.example/feed/", "Blog")
        item(blog, 0, "Comments on the budget", "https://blog.example/budget/", site + "feed/")
        item(blog, 1, "A walk", "https://blog.example/walk/", site + "feed/")
        named = source("https://culture.example/feed/", "Comments on Culture")
        item(named, 0, "Opera", "https://culture.example/opera/")
        toots = source("https://social.example/@ann", "Comments on: nothing", kind="mastodon")
        s.commit()
        ids = {
            "items": by_items.id,
            "address": by_address.id,
            "blog": blog.id,
            "named": named.id,
            "mastodon": toots.id,
        }
    command.upgrade(cfg, "head")
    try:
        with Session(engine) as s:
            got = {k: s.get(Source, v) for k, v in ids.items()}
            for key in ("items", "address"):
                src = got[key]
                assert src is not None and src.kind == "comments", key
                assert src.etag is None and src.last_modified is None
                assert src.next_check_at < later
                assert src.state == {"kept": 1, "adopt_comments": True}
            for key, kind in (("blog", "feed"), ("named", "feed"), ("mastodon", "mastodon")):
                src = got[key]
                assert src is not None and src.kind == kind, key
                assert src.etag == '"e"' and src.state == {"kept": 1}
            assert len(s.exec(select(Item)).all()) == 6  # items are the refresh's business
    finally:
        engine.dispose()
