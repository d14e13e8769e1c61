"""A comment feed is recognised whatever door it came in by, and its comments are
contact on its first refresh: OPML import, the API with and without discovery, the CLI
(``kith source add``, ``kith import-opml``), and feeds misfiled before migration 0012.
The browser's add form is in tests/web/test_comment_kinds.py."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import alembic_config, get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import Interaction, Item, Person, Source
from app.storage import items as item_store
from app.storage import people as people_store
from app.storage import users as user_store
from ingest.parse import parse_feed
from tests.app.conftest import ApiUser
from tests.app.test_cli_e2e import kith
from tests.helpers import FeedServer, Reply
from tests.ingest.test_kinds import blog_rss, wp_comments_atom, wp_comments_rss

SITE = "https://alice.example"  # Alice's own blog: comments on it are contact from their writers
RSS_COMMENTS = [("hello", "Bob Builder", 7), ("hello", "Carol Jones", 8)]
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=UTF-8"}


def declare_alice(settings: Settings, user_id: int) -> None:
    """Alice says which blog is hers (PUT /api/v1/me/identities does the same)."""
    with session_scope(get_engine(settings.database_url)) as s:
        people_store.set_self_identities(
            s,
            user_id=user_id,
            name="Alice Example",
            identities=[("url", SITE + "/"), ("name", "Alice Example")],
            now=datetime.now(UTC),
        )


def serve_comment_feeds(feed_server: FeedServer) -> dict[str, str]:
    """A site-wide RSS comment feed at an address that says nothing, and an Atom one."""
    feed_server.routes["/c/rss.xml"] = Reply(200, wp_comments_rss(SITE, RSS_COMMENTS), RSS_HEADERS)
    feed_server.routes["/c/atom.xml"] = Reply(
        200,
        wp_comments_atom(SITE, [("trip", "Dan Dee", 9)], title="Comments for Alice"),
        {"Content-Type": "application/atom+xml"},
    )
    feed_server.routes["/news"] = Reply(
        200,
        blog_rss(
            "https://news.example", [("budget", "Comments on the budget"), ("walk", "A walk")]
        ),
        RSS_HEADERS,
    )
    return {
        "rss": feed_server.url("/c/rss.xml"),
        "atom": feed_server.url("/c/atom.xml"),
        "blog": feed_server.url("/news"),
    }


def refresh(settings: Settings) -> None:
    stats = refresh_due(
        get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy())
    )
    assert stats.errors == 0, stats


def kinds(db_url: str) -> dict[str, str]:
    with session_scope(get_engine(db_url)) as s:
        return {src.url: src.kind for src in s.exec(select(Source)).all()}


def contact(db_url: str) -> list[tuple[str, str, str]]:
    """(direction, person, external id) of every interaction, sorted."""
    with session_scope(get_engine(db_url)) as s:
        rows = s.exec(
            select(Interaction.direction, Person.name, Interaction.external_id).join(
                Person, Person.id == Interaction.person_id
            )
        ).all()
        return sorted((d, n, e or "") for d, n, e in rows)


def names(rows: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    return [(d, n) for d, n, _ in rows]


def opml(*urls: str) -> bytes:
    outlines = "".join(f'<outline type="rss" text="x" xmlUrl={quoteattr(u)}/>' for u in urls)
    return (
        f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>'.encode()
    )


EXPECTED = [("in", "Bob Builder"), ("in", "Carol Jones"), ("in", "Dan Dee")]


def test_opml_import(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    declare_alice(settings, alice.id)
    urls = serve_comment_feeds(feed_server)
    resp = client.post(
        "/api/v1/sources/opml",
        headers=alice.auth,
        content=opml(urls["rss"], urls["atom"], urls["blog"]),
    )
    assert resp.status_code == 200 and len(resp.json()["added"]) == 3, resp.text
    assert set(kinds(settings.database_url).values()) == {"feed"}  # OPML says nothing

    refresh(settings)

    assert kinds(settings.database_url) == {
        urls["rss"]: "comments",
        urls["atom"]: "comments",
        urls["blog"]: "feed",  # a post titled "Comments on the budget" is a post
    }
    assert names(contact(settings.database_url)) == EXPECTED
    items = client.get("/api/v1/timeline?limit=50", headers=alice.auth).json()["items"]
    bob = next(i for i in items if i["person"] and i["person"]["name"] == "Bob Builder")
    assert bob["source"]["kind"] == "comments"
    assert bob["in_reply_to"] == SITE + "/2026/11/hello/"

    refresh_due(  # nothing is counted twice
        get_engine(settings.database_url),
        RefreshOptions(policy=settings.fetch_policy()),
        include_all=True,
    )
    assert names(contact(settings.database_url)) == EXPECTED


@pytest.mark.parametrize("discover", [False, True], ids=["plain", "discovery"])
def test_api_add(
    client: TestClient,
    settings: Settings,
    feed_server: FeedServer,
    alice: ApiUser,
    discover: bool,
) -> None:
    declare_alice(settings, alice.id)
    urls = serve_comment_feeds(feed_server)
    for key in ("rss", "atom", "blog"):
        resp = client.post(
            "/api/v1/sources",
            headers=alice.auth,
            json={"url": urls[key], "discover": discover},
        )
        assert resp.status_code == 201, resp.text
        # discovery knows at once (the same rule); without it the first refresh decides
        expected = "comments" if discover and key != "blog" else "feed"
        assert resp.json()["kind"] == expected

    refresh(settings)

    assert kinds(settings.database_url) == {
        urls["rss"]: "comments",
        urls["atom"]: "comments",
        urls["blog"]: "feed",
    }
    assert names(contact(settings.database_url)) == EXPECTED


@pytest.fixture
def cli_env(db_url: str, feed_server: FeedServer) -> dict[str, str]:
    return {
        **os.environ,
        "KITH_DATABASE_URL": db_url,
        "KITH_ALLOWED_HOSTS": f'["{feed_server.hostport}"]',
    }


def _cli_user(settings: Settings, cli_env: dict[str, str]) -> None:
    added = kith("user", "add", "alice", env=cli_env)
    assert added.returncode == 0, added.stderr
    with session_scope(get_engine(settings.database_url)) as s:
        user = user_store.get_user_by_name(s, name="alice")
        assert user is not None and user.id is not None
        user_id = user.id
    declare_alice(settings, user_id)


def test_cli_source_add(
    settings: Settings, feed_server: FeedServer, cli_env: dict[str, str]
) -> None:
    urls = serve_comment_feeds(feed_server)
    _cli_user(settings, cli_env)
    for key in ("rss", "atom", "blog"):
        ok = kith("source", "add", urls[key], "--user", "alice", env=cli_env)
        assert ok.returncode == 0, ok.stderr
    ran = kith("ingest", "--once", env=cli_env)
    assert ran.returncode == 0 and "errors=0" in ran.stdout, (ran.stdout, ran.stderr)
    assert kinds(settings.database_url)[urls["rss"]] == "comments"
    assert kinds(settings.database_url)[urls["blog"]] == "feed"
    assert names(contact(settings.database_url)) == EXPECTED


def test_cli_import_opml(
    settings: Settings, feed_server: FeedServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    urls = serve_comment_feeds(feed_server)
    _cli_user(settings, cli_env)
    path = tmp_path / "subs.opml"
    path.write_bytes(opml(urls["rss"], urls["atom"], urls["blog"]))
    ok = kith("import-opml", str(path), "--user", "alice", env=cli_env)
    assert ok.returncode == 0, ok.stderr
    ran = kith("ingest", "--once", env=cli_env)
    assert ran.returncode == 0 and "errors=0" in ran.stdout, (ran.stdout, ran.stderr)
    assert kinds(settings.database_url) == {
        urls["rss"]: "comments",
        urls["atom"]: "comments",
        urls["blog"]: "feed",
    }
    assert names(contact(settings.database_url)) == EXPECTED


def test_a_feed_misfiled_before_0012_counts_its_stored_comments(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    """A comment feed stored as a plain feed (as OPML imports did up to 0011), with
    comments already stored and a validator that would answer 304: migration 0012 files
    it as comments and clears the validator; the next refresh reads it again and counts
    the stored comments (including one gone from the document) and the new ones."""
    declare_alice(settings, alice.id)
    url = feed_server.url("/old/comments.xml")
    old = [("hello", "Erin Old", 3), *RSS_COMMENTS]
    engine = get_engine(settings.database_url)
    now = datetime.now(UTC)
    with session_scope(engine) as s:  # what 0011's refresh left behind
        source = Source(user_id=alice.id, url=url, kind="feed", title="Comments for Site")
        s.add(source)
        s.flush()
        parsed = parse_feed(wp_comments_rss(SITE, old), url=url)
        assert all(e.in_reply_to is None for e in parsed.entries)
        ids = people_store.resolve_identities(
            s, user_id=alice.id, evidence=[e.identity for e in parsed.entries], now=now
        )
        item_store.upsert_entries(
            s, source=source, entries=parsed.entries, identity_ids=ids, now=now
        )
        source.etag = '"v1"'
        source.next_check_at = datetime(2999, 1, 1, tzinfo=UTC)
    # the document now: Erin's comment has scrolled out, Dan's is new
    body = wp_comments_rss(SITE, [*RSS_COMMENTS, ("trip", "Dan Dee", 9)])

    def answer(handler: object) -> Reply:
        tag = handler.headers.get("If-None-Match")  # type: ignore[attr-defined]
        if tag in ('"v1"', '"v2"'):  # the document is unchanged since either validator
            return Reply(304, b"", {"ETag": tag})
        return Reply(200, body, {**RSS_HEADERS, "ETag": '"v2"'})

    feed_server.routes["/old/comments.xml"] = answer
    assert contact(settings.database_url) == []

    cfg = alembic_config(settings.database_url)
    command.downgrade(cfg, "0011")  # 0012 changes data only: its downgrade keeps the kinds
    command.upgrade(cfg, "head")
    assert kinds(settings.database_url) == {url: "comments"}

    refresh(settings)  # due now, and fetched without the old validator

    assert feed_server.hits("/old/comments.xml") == 1
    rows = contact(settings.database_url)
    assert names(rows) == [
        ("in", "Bob Builder"),
        ("in", "Carol Jones"),
        ("in", "Dan Dee"),
        ("in", "Erin Old"),
    ]
    assert rows[-1][2] == f"comment:{SITE}/2026/11/hello/#comment-3"
    with session_scope(engine) as s:
        src = s.exec(select(Source)).one()
        assert src.etag == '"v2"' and "adopt_comments" not in src.state
        assert {i.in_reply_to for i in s.exec(select(Item)).all()} == {
            SITE + "/2026/11/hello/",
            SITE + "/2026/11/trip/",
        }
    refresh_due(engine, RefreshOptions(policy=settings.fetch_policy()), include_all=True)
    assert contact(settings.database_url) == rows  # the validator answers 304 now: nothing new
