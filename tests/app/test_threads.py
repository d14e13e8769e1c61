"""Comment threads as conversations: followed by themselves, attributed to their
commenters, and counted as contact between the user and the people in them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.jobs.threads import Candidate, choose_threads, thread_is_quiet
from app.models import Interaction, Person, Source
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply

NS = "xmlns:dc='http://purl.org/dc/elements/1.1/' xmlns:wfw='http://wellformedweb.org/CommentAPI/'"


def blog(title: str, site: str, posts: list[tuple[str, str, str | None]]) -> bytes:
    """posts: (slug, author, comment feed URL or None)"""
    items = "".join(
        f"<item><guid>{site}/{slug}</guid><link>{site}/{slug}</link><title>{slug}</title>"
        f"<dc:creator>{author}</dc:creator><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate>"
        + (f"<wfw:commentRss>{feed}</wfw:commentRss>" if feed else "")
        + "</item>"
        for slug, author, feed in posts
    )
    return f"<rss version='2.0' {NS}><channel><title>{title}</title><link>{site}/</link>{items}</channel></rss>".encode()


def comments(title: str, site: str, rows: list[tuple[str, str, int]]) -> bytes:
    """rows: (post slug, commenter, comment number)"""
    items = "".join(
        f"<item><title>By: {who}</title><link>{site}/{slug}#comment-{n}</link><dc:creator>{who}</dc:creator>"
        f"<guid isPermaLink='false'>{site}/?c={n}</guid><pubDate>{datetime.now(UTC).strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>"
        f"<description>comment {n}</description></item>"
        for slug, who, n in rows
    )
    return f"<rss version='2.0' {NS}><channel><title>{title}</title><link>{site}/</link>{items}</channel></rss>".encode()


def refresh(settings: Settings) -> None:
    stats = refresh_due(
        get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy())
    )
    assert stats.errors == 0, stats


def person_named(settings: Settings, name: str) -> int:
    with session_scope(get_engine(settings.database_url)) as s:
        person = s.exec(select(Person).where(Person.name == name)).first()
        assert person is not None and person.id is not None
        return person.id


def test_threads_are_followed_and_comments_count_as_contact(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    me = client.put(
        "/api/v1/me/identities",
        headers=alice.auth,
        json={
            "identities": [
                {"kind": "url", "value": "https://alice.example/"},
                {"kind": "name", "value": "Alice Example"},
            ]
        },
    )
    assert me.status_code == 200, me.text
    assert {
        i["kind"]
        for i in client.get("/api/v1/me/identities", headers=alice.auth).json()["identities"]
    } == {"url", "name"}

    # Alice's own blog: a post with a comment feed, and a post without one
    feed_server.routes["/alice"] = Reply(
        200,
        blog(
            "Alice's blog",
            "https://alice.example",
            [
                ("hello", "Alice Example", feed_server.url("/alice/hello/feed/")),
                ("quiet", "Alice Example", None),
            ],
        ),
    )
    feed_server.routes["/alice/hello/feed/"] = Reply(
        200,
        comments(
            "Comments on: hello",
            "https://alice.example",
            [("hello", "Bob Builder", 1), ("hello", "Alice Example", 2)],
        ),
    )
    # Carol's blog, and its site-wide comment feed where Alice commented
    feed_server.routes["/carol"] = Reply(
        200,
        blog(
            "Carol's notes",
            "https://carol.example",
            [
                ("trip", "Carol Jones", feed_server.url("/carol/trip/feed/")),
                ("other", "Carol Jones", feed_server.url("/carol/other/feed/")),
            ],
        ),
    )
    feed_server.routes["/carol/comments"] = Reply(
        200,
        comments(
            "Comments for Carol's notes", "https://carol.example", [("trip", "Alice Example", 9)]
        ),
    )
    feed_server.routes["/carol/trip/feed/"] = Reply(
        200,
        comments(
            "Comments on: trip",
            "https://carol.example",
            [("trip", "Alice Example", 9), ("trip", "Dan Dee", 10)],
        ),
    )
    for path, kind in (("/alice", "feed"), ("/carol", "feed"), ("/carol/comments", "comments")):
        assert (
            client.post(
                "/api/v1/sources",
                headers=alice.auth,
                json={"url": feed_server.url(path), "kind": kind},
            ).status_code
            == 201
        )

    refresh(settings)  # posts and the site-wide comments: Alice's own thread is followed
    refresh(settings)  # threads followed in the first run are fetched, and Carol's trip now too
    refresh(settings)

    with session_scope(get_engine(settings.database_url)) as s:
        auto = {
            src.url
            for src in s.exec(select(Source).where(Source.parent_item_id.is_not(None))).all()
        }  # type: ignore[union-attr]
        contact = {(i.direction, i.person_id) for i in s.exec(select(Interaction)).all()}
    assert auto == {feed_server.url("/alice/hello/feed/"), feed_server.url("/carol/trip/feed/")}
    assert ("in", person_named(settings, "Bob Builder")) in contact
    assert ("out", person_named(settings, "Carol Jones")) in contact
    assert all(p != person_named(settings, "Dan Dee") for _, p in contact)  # not about Alice
    assert len(contact) == 2

    items = client.get("/api/v1/timeline?limit=100", headers=alice.auth).json()["items"]
    bob = next(i for i in items if i["person"] and i["person"]["name"] == "Bob Builder")
    assert (
        bob["in_reply_to"] == "https://alice.example/hello" and bob["source"]["kind"] == "comments"
    )
    # a second pass records nothing twice
    refresh_due(
        get_engine(settings.database_url),
        RefreshOptions(policy=settings.fetch_policy()),
        include_all=True,
    )
    with session_scope(get_engine(settings.database_url)) as s:
        assert len(s.exec(select(Interaction)).all()) == 2


def test_no_threads_followed_when_the_setting_is_zero(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    client.put(
        "/api/v1/me/identities",
        headers=alice.auth,
        json={"identities": [{"kind": "url", "value": "https://alice.example"}]},
    )
    feed_server.routes["/alice"] = Reply(
        200, blog("A", "https://alice.example", [("p", "A", feed_server.url("/c"))])
    )
    client.post("/api/v1/sources", headers=alice.auth, json={"url": feed_server.url("/alice")})
    from app.jobs.threads import ThreadOptions

    refresh_due(
        get_engine(settings.database_url),
        RefreshOptions(policy=settings.fetch_policy(), threads=ThreadOptions(0)),
    )
    assert len(client.get("/api/v1/sources", headers=alice.auth).json()["items"]) == 1


def test_identity_kinds_are_validated(client: TestClient, alice: ApiUser) -> None:
    resp = client.put(
        "/api/v1/me/identities",
        headers=alice.auth,
        json={"identities": [{"kind": "phone", "value": "1"}]},
    )
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "validation_error"


NOW = datetime(2026, 11, 26, tzinfo=UTC)


def cand(url: str, *, own=False, took=False, valued=False, days=0) -> Candidate:
    return Candidate(
        url=url,
        post_url=url,
        published=NOW - timedelta(days=days),
        own_site=own,
        took_part=took,
        valued_author=valued,
    )


def test_choose_threads_prefers_own_and_joined_then_newest() -> None:
    chosen = choose_threads(
        [
            cand("a", valued=True, days=0),
            cand("b", own=True, days=5),
            cand("c"),
            cand("d", took=True, days=2),
        ],
        room=2,
    )
    assert [c.url for c in chosen] == ["d", "b"]
    assert choose_threads([cand("a", own=True)], room=0) == []


def test_a_thread_goes_quiet_after_a_month() -> None:
    assert thread_is_quiet(NOW - timedelta(days=31), started=NOW - timedelta(days=40), now=NOW)
    assert not thread_is_quiet(NOW - timedelta(days=3), started=NOW - timedelta(days=40), now=NOW)
    assert not thread_is_quiet(None, started=NOW - timedelta(days=2), now=NOW)


def test_threads_of_people_you_value_are_followed(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    feed_server.routes["/zoe"] = Reply(
        200,
        blog(
            "Zoe", "https://zoe.example", [("news", "Zoe Park", feed_server.url("/zoe/news/feed/"))]
        ),
    )
    feed_server.routes["/zoe/news/feed/"] = Reply(
        200, comments("Comments on: news", "https://zoe.example", [("news", "Ann", 1)])
    )
    client.post("/api/v1/sources", headers=alice.auth, json={"url": feed_server.url("/zoe")})
    refresh(settings)
    assert (
        len(client.get("/api/v1/sources", headers=alice.auth).json()["items"]) == 1
    )  # not valued yet
    zoe = client.get("/api/v1/people", headers=alice.auth).json()["items"][0]
    client.put(
        f"/api/v1/people/{zoe['id']}/weight", json={"manual": 1, "pinned": True}, headers=alice.auth
    )
    refresh_due(
        get_engine(settings.database_url),
        RefreshOptions(policy=settings.fetch_policy()),
        include_all=True,
    )
    urls = [s["url"] for s in client.get("/api/v1/sources", headers=alice.auth).json()["items"]]
    assert feed_server.url("/zoe/news/feed/") in urls
