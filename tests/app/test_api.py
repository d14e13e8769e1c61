"""The REST API: auth, isolation between users, error bodies, shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import Item, Person
from app.schemas import TimelineItem, TimelinePage
from app.storage.items import read_timeline
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply, rss


def assert_error(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"]["code"] == code and body["error"]["message"]


def test_health_needs_no_token(client: TestClient) -> None:
    resp = client.get("/api/v1/health")
    assert resp.status_code == 200 and resp.json() == {"status": "ok", "database": "ok"}


def test_timeline_needs_a_valid_token(client: TestClient, alice: ApiUser) -> None:
    assert_error(client.get("/api/v1/timeline"), 401, "unauthorized")
    assert_error(
        client.get("/api/v1/timeline", headers={"Authorization": "Bearer nope"}),
        401,
        "unauthorized",
    )
    assert_error(
        client.get("/api/v1/timeline", headers={"Authorization": f"Basic {alice.token}"}),
        401,
        "unauthorized",
    )
    resp = client.get("/api/v1/timeline", headers=alice.auth)
    assert resp.status_code == 200 and resp.json() == {"items": [], "next_cursor": None}


def test_another_users_source_answers_404(client: TestClient, alice: ApiUser, bob: ApiUser) -> None:
    created = client.post(
        "/api/v1/sources", json={"url": "https://example.org/feed"}, headers=alice.auth
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert client.get(f"/api/v1/sources/{sid}", headers=alice.auth).status_code == 200
    assert_error(client.get(f"/api/v1/sources/{sid}", headers=bob.auth), 404, "not_found")
    assert_error(client.delete(f"/api/v1/sources/{sid}", headers=bob.auth), 404, "not_found")
    assert client.get("/api/v1/sources", headers=bob.auth).json()["items"] == []
    # and the source is still there for its owner
    assert client.get(f"/api/v1/sources/{sid}", headers=alice.auth).status_code == 200
    assert client.delete(f"/api/v1/sources/{sid}", headers=alice.auth).status_code == 204
    assert_error(client.get(f"/api/v1/sources/{sid}", headers=alice.auth), 404, "not_found")


def test_refused_urls_have_codes(client: TestClient, alice: ApiUser) -> None:
    for url in ("http://127.1/feed", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/"):
        assert_error(
            client.post("/api/v1/sources", json={"url": url}, headers=alice.auth),
            422,
            "destination_not_allowed",
        )
    assert_error(
        client.post("/api/v1/sources", json={"url": "file:///etc/passwd"}, headers=alice.auth),
        422,
        "destination_not_allowed",
    )
    assert_error(
        client.post("/api/v1/sources", json={"url": "http://"}, headers=alice.auth),
        422,
        "invalid_url",
    )
    ok = client.post(
        "/api/v1/sources", json={"url": "https://example.org/feed"}, headers=alice.auth
    )
    assert ok.status_code == 201
    assert_error(
        client.post(
            "/api/v1/sources", json={"url": "https://example.org/feed"}, headers=alice.auth
        ),
        409,
        "conflict",
    )
    assert (
        client.get("/api/v1/sources", headers=alice.auth).json()["items"][0]["url"]
        == "https://example.org/feed"
    )


def test_validation_errors_name_the_field(client: TestClient, alice: ApiUser) -> None:
    resp = client.post("/api/v1/sources", json={"kind": "feed"}, headers=alice.auth)
    assert_error(resp, 422, "validation_error")
    assert "url" in resp.json()["error"]["message"]
    resp = client.get("/api/v1/timeline?limit=0", headers=alice.auth)
    assert_error(resp, 422, "validation_error")
    assert "limit" in resp.json()["error"]["message"]
    assert_error(
        client.get("/api/v1/timeline?cursor=zzz", headers=alice.auth), 422, "invalid_input"
    )
    assert_error(
        client.post(
            "/api/v1/sources",
            content=b"{not json",
            headers={**alice.auth, "Content-Type": "application/json"},
        ),
        422,
        "validation_error",
    )


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(client.put("/api/v1/health"), 405, "method_not_allowed")


def test_mastodon_sources_are_recognised(client: TestClient, alice: ApiUser) -> None:
    resp = client.post(
        "/api/v1/sources", json={"url": "https://mastodon.example/@a"}, headers=alice.auth
    )
    assert resp.status_code == 201 and resp.json()["kind"] == "mastodon"
    resp = client.post(
        "/api/v1/sources",
        json={"url": "https://mastodon.example/about", "kind": "mastodon"},
        headers=alice.auth,
    )
    assert_error(resp, 422, "invalid_input")


def test_timeline_shape_and_isolation(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    feed_server.routes["/feed"] = Reply(
        200,
        rss(
            ("g1", "Hello &amp; welcome", "<p>hi<script>x</script></p>"), ("g2", "Two", "<p>2</p>")
        ),
    )
    resp = client.post(
        "/api/v1/sources", json={"url": feed_server.url("/feed")}, headers=alice.auth
    )
    assert resp.status_code == 201, resp.text
    stats = refresh_due(
        get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy())
    )
    assert (stats.sources, stats.new_items, stats.errors) == (1, 2, 0)
    page = client.get("/api/v1/timeline", headers=alice.auth).json()
    assert [i["title"] for i in page["items"]] == ["Two", "Hello & welcome"]  # newest first
    first = page["items"][1]
    assert set(first) >= {
        "id",
        "title",
        "url",
        "content",
        "published",
        "source",
        "person",
        "score",
        "why",
    }
    assert first["title"] == "Hello & welcome"
    assert "<script" not in first["content"]
    assert first["published"].endswith("Z") or first["published"].endswith("+00:00")
    assert first["source"]["kind"] == "feed" and first["source"]["title"] == "A blog"
    assert first["person"]["name"] == "Ann Author"
    assert client.get("/api/v1/timeline", headers=bob.auth).json()["items"] == []
    since = client.get(
        "/api/v1/timeline", params={"since": "2026-07-01T12:00:00Z"}, headers=alice.auth
    ).json()
    assert [i["title"] for i in since["items"]] == ["Two"]
    limited = client.get("/api/v1/timeline", params={"limit": 1}, headers=alice.auth).json()
    assert len(limited["items"]) == 1 and limited["next_cursor"]
    rest = client.get(
        "/api/v1/timeline",
        params={"limit": 1, "cursor": limited["next_cursor"]},
        headers=alice.auth,
    ).json()
    assert [i["id"] for i in rest["items"]] != [i["id"] for i in limited["items"]]
    assert rest["next_cursor"] is None


def test_opml_round_trip_through_the_api(client: TestClient, alice: ApiUser) -> None:
    opml = b"""<?xml version="1.0"?><opml version="2.0"><head/><body>
      <outline text="Friends"><outline text="A" xmlUrl="https://a.example/feed"/></outline>
      <outline text="B" xmlUrl="https://b.example/rss"/>
      <outline text="Evil" xmlUrl="http://127.0.0.1/feed"/></body></opml>"""
    resp = client.post("/api/v1/sources/opml", content=opml, headers=alice.auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [s["url"] for s in body["added"]] == ["https://a.example/feed", "https://b.example/rss"]
    assert body["added"][0]["folder"] == "Friends"
    assert body["skipped"][0]["code"] == "destination_not_allowed"
    out = client.get("/api/v1/sources/opml", headers=alice.auth)
    assert out.status_code == 200 and b"https://a.example/feed" in out.content
    broken = client.post(
        "/api/v1/sources/opml", content=b"<opml><body>\n<outline", headers=alice.auth
    )
    assert_error(broken, 422, "invalid_opml")
    assert broken.json()["error"]["line"] == 2


def test_every_response_has_a_strict_csp(client: TestClient) -> None:
    for path in ("/api/v1/health", "/login", "/static/style.css"):
        csp = client.get(path).headers["content-security-policy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp


def test_sources_can_be_edited_paused_and_refreshed(
    client: TestClient, alice: ApiUser, bob: ApiUser
) -> None:
    sid = client.post(
        "/api/v1/sources", json={"url": "https://example.org/feed"}, headers=alice.auth
    ).json()["id"]
    edited = client.patch(
        f"/api/v1/sources/{sid}",
        json={"title": "Example", "folder": "Friends", "paused": True},
        headers=alice.auth,
    )
    assert edited.status_code == 200
    assert (edited.json()["title"], edited.json()["folder"], edited.json()["paused"]) == (
        "Example",
        "Friends",
        True,
    )
    assert_error(
        client.patch(f"/api/v1/sources/{sid}", json={"title": "x"}, headers=bob.auth),
        404,
        "not_found",
    )
    assert_error(client.post(f"/api/v1/sources/{sid}/refresh", headers=bob.auth), 404, "not_found")
    resumed = client.post(f"/api/v1/sources/{sid}/refresh", headers=alice.auth).json()
    assert resumed["paused"] is False
    assert client.get(f"/api/v1/sources/{sid}", headers=alice.auth).json()["title"] == "Example"


def test_the_timeline_page_matches_its_model_field_for_field(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    """The API serializes the page straight from the columns (the hot path); it must say
    exactly what TimelinePage built from whole ORM rows says, for every kind of value:
    tags, enclosures, stored reasons, a pinned person, a person-less item, nulls,
    non-ASCII text and characters JSON must escape."""
    feed_server.routes["/feed"] = Reply(
        200,
        b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Zo\xc3\xab's "blog"</title>
        <item><guid>a</guid><title>Caf\xc3\xa9 \\ "quotes" \xe2\x80\x94 \xf0\x9f\x8e\x89</title>
          <author>zoe@z.example (Zo\xc3\xab)</author><category>Caf\xc3\xa9</category><category>a"b</category>
          <enclosure url="https://z.example/a.mp3" length="123" type="audio/mpeg"/>
          <description>&lt;p&gt;line\none&lt;/p&gt;</description>
          <pubDate>Wed, 25 Nov 2026 10:00:00 GMT</pubDate></item>
        <item><guid>b</guid><title>Two</title><author>zoe@z.example (Zo\xc3\xab)</author>
          <pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate></item>
        <item><guid>c</guid><title>Three</title><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate></item>
        </channel></rss>""",
    )
    resp = client.post(
        "/api/v1/sources", json={"url": feed_server.url("/feed")}, headers=alice.auth
    )
    assert resp.status_code == 201, resp.text
    engine = get_engine(settings.database_url)
    refresh_due(engine, RefreshOptions(policy=settings.fetch_policy()))
    with session_scope(engine) as s:
        items = {i.title: i for i in s.exec(select(Item).where(Item.user_id == alice.id))}
        assert len(items) == 3
        first = next(i for t, i in items.items() if t.startswith("Caf"))
        first.why = [["affinity", "you often open Zoë’s posts", 1.25], ["item", 'tag "x"', -0.5]]
        first.comment_count = 4
        first.in_reply_to = "https://z.example/post"
        items["Three"].identity_id = None  # no known author: person is null
        items["Two"].tags = None  # type: ignore[assignment]
        person = s.exec(select(Person).where(Person.user_id == alice.id)).first()
        assert person is not None
        person.pinned = True
    resp = client.get("/api/v1/timeline", headers=alice.auth)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    served = resp.json()
    TimelinePage.model_validate_json(resp.content)  # the declared shape, strictly
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        rows, cursor = read_timeline(s, user_id=alice.id, limit=50)
        expected = TimelinePage(
            items=[TimelineItem.from_row(r, now=now) for r in rows], next_cursor=cursor
        ).model_dump(mode="json")

    def timeless(page: dict[str, Any]) -> list[dict[str, Any]]:
        # score and the age reason move with the clock between the two reads
        return [{k: v for k, v in i.items() if k not in ("score", "why")} for i in page["items"]]

    assert timeless(served) == timeless(expected)
    assert served["next_cursor"] == expected["next_cursor"]
    assert [i["title"] for i in served["items"]][0].startswith("Caf")  # the pinned person
    by_title = {i["title"]: i for i in served["items"]}
    top = served["items"][0]
    assert top["tags"] == ["Café", 'a"b'] and top["enclosures"][0]["url"].endswith("a.mp3")
    assert top["comment_count"] == 4 and top["in_reply_to"] == "https://z.example/post"
    assert by_title["Two"]["tags"] == [] and by_title["Three"]["person"] is None
    for got, want in zip(served["items"], expected["items"], strict=True):
        assert got["score"] == pytest.approx(want["score"], abs=1e-3)
        assert [w["reason"] for w in got["why"]] == [w["reason"] for w in want["why"]]
        assert [w["value"] for w in got["why"]] == pytest.approx(
            [w["value"] for w in want["why"]], abs=1e-3
        )
    assert {"reason": "you often open Zoë’s posts", "value": 1.25} in top["why"]
