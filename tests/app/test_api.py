"""The REST API: auth, isolation between users, error bodies, shapes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings
from app.db import get_engine
from app.refresh import RefreshOptions, refresh_due
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
