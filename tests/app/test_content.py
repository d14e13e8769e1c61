"""Dedupe that never loses or doubles: rekeyed guids, churn, tombstones, cross-source
collapse, and feedback that survives it all. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import Feedback, Item
from app.storage import items as item_store
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply


def feed(*items: str, title: str = "Blog") -> bytes:
    return (
        f"<rss version='2.0'><channel><title>{title}</title><link>https://blog.example/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def item(guid: str, link: str, title: str = "Post", body: str = "<p>x</p>") -> str:
    return (
        f"<item><guid isPermaLink='false'>{guid}</guid><link>{link}</link><title>{title}</title>"
        f"<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate><description><![CDATA[{body}]]></description></item>"
    )


def refresh(settings: Settings) -> tuple[int, int]:
    stats = refresh_due(
        get_engine(settings.database_url),
        RefreshOptions(policy=settings.fetch_policy()),
        include_all=True,
    )
    assert stats.errors == 0
    return stats.new_items, stats.updated


def subscribe(client: TestClient, user: ApiUser, url: str) -> int:
    resp = client.post("/api/v1/sources", json={"url": url}, headers=user.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def timeline(client: TestClient, user: ApiUser) -> list[dict]:
    return client.get("/api/v1/timeline?limit=200", headers=user.auth).json()["items"]


def items_in_db(engine: sa.Engine) -> list[Item]:
    with session_scope(engine) as s:
        return list(s.exec(select(Item).order_by(Item.id)).all())


def test_guid_change_with_same_link_rekeys_instead_of_doubling(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    feed_server.routes["/f"] = Reply(200, feed(item("old-1", "https://blog.example/1")))
    subscribe(client, alice, feed_server.url("/f"))
    assert refresh(settings) == (1, 0)
    first_id = timeline(client, alice)[0]["id"]
    engine = get_engine(settings.database_url)
    with session_scope(engine) as s:
        s.add(Feedback(user_id=alice.id, item_id=first_id, action="like"))
    feed_server.routes["/f"] = Reply(
        200, feed(item("https://blog.example/?p=1", "https://blog.example/1"))
    )
    assert refresh(settings) == (0, 1)
    stored = items_in_db(engine)
    assert [(i.id, i.dedupe_key) for i in stored] == [(first_id, "id:https://blog.example/?p=1")]
    with session_scope(engine) as s:
        assert s.exec(select(Feedback)).one().item_id == first_id


def test_churn_is_capped(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    subscribe(client, alice, feed_server.url("/f"))
    updates = 0
    for n in range(item_store.MAX_UPDATES + 5):
        feed_server.routes["/f"] = Reply(
            200, feed(item("g", "https://blog.example/1", body=f"<p>views: {n}</p>"))
        )
        updates += refresh(settings)[1]
    assert updates == item_store.MAX_UPDATES
    (stored,) = items_in_db(get_engine(settings.database_url))
    assert stored.update_count == item_store.MAX_UPDATES


def test_deleted_item_does_not_come_back(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    feed_server.routes["/f"] = Reply(
        200, feed(item("a", "https://blog.example/a"), item("b", "https://blog.example/b"))
    )
    subscribe(client, alice, feed_server.url("/f"))
    refresh(settings)
    doomed = timeline(client, alice)[0]["id"]
    assert client.delete(f"/api/v1/items/{doomed}", headers=bob.auth).status_code == 404
    assert client.delete(f"/api/v1/items/{doomed}", headers=alice.auth).status_code == 204
    assert refresh(settings) == (0, 0)
    assert len(timeline(client, alice)) == 1
    assert client.delete(f"/api/v1/items/{doomed}", headers=alice.auth).status_code == 404


def test_aged_out_items_stay_gone(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    feed_server.routes["/f"] = Reply(200, feed(item("a", "https://blog.example/a")))
    subscribe(client, alice, feed_server.url("/f"))
    refresh(settings)
    engine = get_engine(settings.database_url)
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        assert item_store.prune_items(s, older_than=now + timedelta(days=1), now=now) == 1
    assert refresh(settings) == (0, 0)
    assert items_in_db(engine) == []


def test_same_url_through_two_sources_is_one_timeline_entry(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    feed_server.routes["/blog"] = Reply(200, feed(item("p1", "https://blog.example/post")))
    feed_server.routes["/planet"] = Reply(
        200,
        feed(
            item("planet-77", "https://blog.example/post"),
            item("planet-78", "https://other.example/x"),
            title="Planet",
        ),
    )
    subscribe(client, alice, feed_server.url("/blog"))
    subscribe(client, alice, feed_server.url("/planet"))
    subscribe(client, bob, feed_server.url("/planet"))
    assert refresh(settings)[0] == 5
    urls = sorted(i["url"] for i in timeline(client, alice))
    assert urls == ["https://blog.example/post", "https://other.example/x"]
    assert len(timeline(client, bob)) == 2  # another user's copy is not a duplicate
    assert refresh(settings) == (0, 0)


def test_tags_enclosures_and_comment_links_reach_the_api(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    body = (
        b"<rss version='2.0' xmlns:wfw='http://wellformedweb.org/CommentAPI/' xmlns:slash='http://purl.org/rss/1.0/modules/slash/'>"
        b"<channel><title>T</title><link>https://t.example/</link><item><guid>https://t.example/1</guid><title>Ep</title>"
        b"<category>music</category><enclosure url='https://t.example/1.mp3' type='audio/mpeg' length='5'/>"
        b"<wfw:commentRss>https://t.example/1/feed/</wfw:commentRss><slash:comments>2</slash:comments></item></channel></rss>"
    )
    feed_server.routes["/f"] = Reply(200, body)
    subscribe(client, alice, feed_server.url("/f"))
    refresh(settings)
    (entry,) = timeline(client, alice)
    assert entry["tags"] == ["music"]
    assert entry["enclosures"] == [
        {"url": "https://t.example/1.mp3", "type": "audio/mpeg", "length": 5}
    ]
    assert (entry["comments_feed"], entry["comment_count"]) == ("https://t.example/1/feed/", 2)


def test_feedback_hide_and_mute_shape_the_timeline(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    feed_server.routes["/f"] = Reply(
        200,
        feed(item("a", "https://blog.example/a", "A"), item("b", "https://blog.example/b", "B")),
    )
    feed_server.routes["/g"] = Reply(
        200, feed(item("c", "https://other.example/c", "C"), title="Other")
    )
    subscribe(client, alice, feed_server.url("/f"))
    subscribe(client, alice, feed_server.url("/g"))
    refresh(settings)
    by_title = {i["title"]: i for i in timeline(client, alice)}
    a = by_title["A"]["id"]
    assert (
        client.post(
            f"/api/v1/items/{a}/feedback", json={"action": "seen", "rank": 1}, headers=alice.auth
        ).status_code
        == 204
    )
    assert (
        client.post(
            f"/api/v1/items/{a}/feedback", json={"action": "like"}, headers=alice.auth
        ).status_code
        == 204
    )
    assert (
        client.post(
            f"/api/v1/items/{a}/feedback", json={"action": "hide"}, headers=bob.auth
        ).status_code
        == 404
    )
    bad = client.post(f"/api/v1/items/{a}/feedback", json={"action": "love"}, headers=alice.auth)
    assert bad.status_code == 422 and "action" in bad.json()["error"]["message"]
    assert (
        client.post(
            f"/api/v1/items/{a}/feedback", json={"action": "hide"}, headers=alice.auth
        ).status_code
        == 204
    )
    assert sorted(i["title"] for i in timeline(client, alice)) == ["B", "C"]
    other = by_title["C"]["person"]["id"]
    client.put(f"/api/v1/people/{other}/weight", json={"muted": True}, headers=alice.auth)
    assert [i["title"] for i in timeline(client, alice)] == ["B"]
    with session_scope(get_engine(settings.database_url)) as s:
        assert len(s.exec(select(Feedback)).all()) == 3
