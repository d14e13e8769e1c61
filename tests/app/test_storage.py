"""Storage functions against real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from app.db import session_scope
from app.errors import Conflict, InvalidInput, NotFound
from app.models import Identity, Item, Person, Source
from app.storage import items as item_store
from app.storage import people as people_store
from app.storage import sources as source_store
from app.storage import users as user_store
from ingest.types import AuthorData, EntryData, IdentityEvidence

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def entry(
    n: int, *, title: str | None = None, author: str = "Ann", published: datetime | None = None
) -> EntryData:
    ident = IdentityEvidence(
        kind="feed_author", value=f"blog.example|{author.lower()}", display_name=author
    )
    return EntryData(
        dedupe_key=f"id:{n}",
        url=f"https://blog.example/{n}",
        title=title or f"Post {n}",
        content=f"<p>{n}</p>",
        published=published or NOW - timedelta(hours=n),
        updated=None,
        author=AuthorData(name=author),
        identity=ident,
    )


def make_user(engine: sa.Engine, name: str) -> int:
    with session_scope(engine) as s:
        user = user_store.create_user(s, name=name, password="pw")
        assert user.id is not None
        return user.id


def store(
    engine: sa.Engine, source_id: int, entries: list[EntryData], now: datetime = NOW
) -> item_store.UpsertCounts:
    with session_scope(engine) as s:
        source = source_store.get_source(s, user_id=_owner(s, source_id), source_id=source_id)
        ids = people_store.resolve_identities(
            s, user_id=source.user_id, evidence=[e.identity for e in entries], now=now
        )
        return item_store.upsert_entries(
            s, source=source, entries=entries, identity_ids=ids, now=now
        )


def _owner(s: Session, source_id: int) -> int:
    src = s.get(Source, source_id)
    assert src is not None
    return src.user_id


def make_source(engine: sa.Engine, user_id: int, url: str = "https://blog.example/feed") -> int:
    with session_scope(engine) as s:
        src = source_store.create_source(s, user_id=user_id, url=url, now=NOW)
        assert src.id is not None
        return src.id


def test_users_tokens_and_passwords(engine: sa.Engine) -> None:
    uid = make_user(engine, "alice")
    with session_scope(engine) as s:
        with pytest.raises(Conflict):
            user_store.create_user(s, name="alice")
        with pytest.raises(InvalidInput):
            user_store.create_user(s, name="two words")
        token, raw = user_store.create_token(s, user_id=uid)
        assert token.token_hash != raw and raw.startswith(token.prefix)
        found = user_store.user_for_token(s, raw=raw)
        assert found is not None and found.id == uid
        assert user_store.user_for_token(s, raw=raw + "x") is None
        assert user_store.authenticate(s, name="alice", password="pw") is not None
        assert user_store.authenticate(s, name="alice", password="nope") is None
        assert user_store.revoke_tokens(s, user_id=uid, name="default", now=NOW) == 1
        assert user_store.user_for_token(s, raw=raw) is None


def test_sources_are_scoped_to_their_user(engine: sa.Engine) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    sid = make_source(engine, alice)
    make_source(engine, bob)  # the same URL for another user is fine
    with session_scope(engine) as s:
        assert source_store.get_source(s, user_id=alice, source_id=sid).id == sid
        with pytest.raises(NotFound):
            source_store.get_source(s, user_id=bob, source_id=sid)
        with pytest.raises(Conflict):
            source_store.create_source(s, user_id=alice, url="https://blog.example/feed", now=NOW)


def test_source_list_is_keyset_paged(engine: sa.Engine) -> None:
    uid = make_user(engine, "alice")
    for n in range(5):
        make_source(engine, uid, f"https://blog{n}.example/feed")
    seen: list[int] = []
    cursor = None
    with session_scope(engine) as s:
        while True:
            rows, cursor = source_store.list_sources(s, user_id=uid, limit=2, cursor=cursor)
            seen.extend(r.id for r in rows if r.id is not None)
            if cursor is None:
                break
    assert len(seen) == 5 and seen == sorted(seen)


def test_upsert_is_idempotent_and_updates_changed_items(engine: sa.Engine) -> None:
    uid = make_user(engine, "alice")
    sid = make_source(engine, uid)
    # known: entries of the document that were stored before
    assert store(engine, sid, [entry(1), entry(2)]) == item_store.UpsertCounts(2, 0, known=0)
    assert store(engine, sid, [entry(1), entry(2)]) == item_store.UpsertCounts(0, 0, known=2)
    assert store(engine, sid, [entry(1, title="Edited"), entry(3)]) == item_store.UpsertCounts(
        new=1, updated=1, known=1
    )
    with session_scope(engine) as s:
        assert s.exec(select(func.count()).select_from(Item)).one() == 3
        edited = s.exec(select(Item).where(Item.dedupe_key == "id:1")).one()
        assert edited.title == "Edited"
        # one person for the one author, however many items
        assert s.exec(select(func.count()).select_from(Person)).one() == 1
        assert s.exec(select(func.count()).select_from(Identity)).one() == 1


def test_future_dates_are_clamped_to_now(engine: sa.Engine) -> None:
    uid = make_user(engine, "alice")
    sid = make_source(engine, uid)
    store(engine, sid, [entry(1, published=NOW + timedelta(days=300))])
    with session_scope(engine) as s:
        item = s.exec(select(Item)).one()
        assert item.published == NOW
        assert item.published.tzinfo is not None


def test_identities_resolve_per_user(engine: sa.Engine) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    ev = IdentityEvidence(kind="url", value="https://ann.example", display_name="Ann")
    with session_scope(engine) as s:
        a1 = people_store.resolve_identities(s, user_id=alice, evidence=[ev, ev], now=NOW)
        a2 = people_store.resolve_identities(s, user_id=alice, evidence=[ev], now=NOW)
        b1 = people_store.resolve_identities(s, user_id=bob, evidence=[ev], now=NOW)
    assert a1 == a2
    assert a1[("url", "https://ann.example")] != b1[("url", "https://ann.example")]


def test_timeline_newest_first_with_cursor_and_since(engine: sa.Engine) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    sid = make_source(engine, alice)
    store(engine, sid, [entry(n) for n in range(1, 8)])
    store(engine, make_source(engine, bob), [entry(100)])
    with session_scope(engine) as s:
        pages: list[list[str]] = []
        cursor = None
        while True:
            rows, cursor = item_store.read_timeline(s, user_id=alice, limit=3, cursor=cursor)
            pages.append([r.item.title for r in rows])
            if cursor is None:
                break
        assert pages == [["Post 1", "Post 2", "Post 3"], ["Post 4", "Post 5", "Post 6"], ["Post 7"]]
        rows, _ = item_store.read_timeline(
            s, user_id=alice, since=NOW - timedelta(hours=2, minutes=30)
        )
        assert [r.item.title for r in rows] == ["Post 1", "Post 2"]
        assert rows[0].person is not None and rows[0].person.name == "Ann"
        with pytest.raises(InvalidInput):
            item_store.read_timeline(s, user_id=alice, cursor="not-a-cursor")


def test_deleting_a_source_removes_its_items(engine: sa.Engine) -> None:
    uid = make_user(engine, "alice")
    sid = make_source(engine, uid)
    store(engine, sid, [entry(1)])
    with session_scope(engine) as s:
        source_store.delete_source(s, user_id=uid, source_id=sid)
    with session_scope(engine) as s:
        assert s.exec(select(func.count()).select_from(Item)).one() == 0
