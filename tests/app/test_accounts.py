"""Accounts: API tokens per user (listed by prefix, revocable, hashed), the admin role,
disabled accounts, rate limits on logins and token creation, CORS off by default, and
the timeline's tag filter. SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.main import create_app
from app.models import ApiToken, User
from tests.app.conftest import ApiUser, add_user
from tests.app.test_web import csrf_of
from tests.helpers import FeedServer, Reply


def test_the_first_user_is_admin_and_admins_manage_accounts(
    client: TestClient, settings: Settings
) -> None:
    root = add_user(settings, "root")
    alice = add_user(settings, "alice")
    signed_in = TestClient(client.app)  # alice's web session, open before she is disabled
    form = signed_in.get("/login").text
    signed_in.post(
        "/login", data={"username": "alice", "password": "correct horse", "csrf": csrf_of(form)}
    )
    assert signed_in.get("/", follow_redirects=False).status_code == 200
    assert client.get("/api/v1/admin/users", headers=alice.auth).json()["error"]["code"] == (
        "forbidden"
    )
    assert client.get("/api/v1/admin/users", headers=alice.auth).status_code == 403
    page = client.get("/api/v1/admin/users?limit=1", headers=root.auth).json()
    assert [u["name"] for u in page["items"]] == ["root"] and page["items"][0]["is_admin"]
    rest = client.get(f"/api/v1/admin/users?cursor={page['next_cursor']}", headers=root.auth)
    assert [(u["name"], u["is_admin"]) for u in rest.json()["items"]] == [("alice", False)]

    off = client.post(f"/api/v1/admin/users/{alice.id}/disable", headers=root.auth)
    assert off.status_code == 200 and off.json()["disabled_at"]
    assert client.get("/api/v1/timeline", headers=alice.auth).status_code == 401
    assert signed_in.get("/", follow_redirects=False).status_code == 303  # session ended
    page_html = client.get("/login").text
    refused = client.post(
        "/login",
        data={"username": "alice", "password": "correct horse", "csrf": csrf_of(page_html)},
    )
    assert refused.status_code == 401
    assert (
        client.post(f"/api/v1/admin/users/{alice.id}/enable", headers=root.auth).json()[
            "disabled_at"
        ]
        is None
    )
    assert client.get("/api/v1/timeline", headers=alice.auth).status_code == 200
    selfish = client.post(f"/api/v1/admin/users/{root.id}/disable", headers=root.auth)
    assert selfish.status_code == 422
    assert client.post("/api/v1/admin/users/999999/disable", headers=root.auth).status_code == 404
    assert (
        client.post(f"/api/v1/admin/users/{root.id}/disable", headers=alice.auth).status_code == 403
    )


def test_tokens_are_created_listed_by_prefix_and_revoked(
    client: TestClient, settings: Settings, alice: ApiUser, bob: ApiUser
) -> None:
    made = client.post("/api/v1/tokens", json={"name": "phone"}, headers=alice.auth)
    assert made.status_code == 201
    raw, token_id = made.json()["token"], made.json()["id"]
    assert raw.startswith(made.json()["prefix"]) and len(made.json()["prefix"]) < len(raw) / 3
    phone = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/timeline", headers=phone).status_code == 200
    listed = client.get("/api/v1/tokens", headers=alice.auth).json()["items"]
    assert {t["name"] for t in listed} == {"default", "phone"}
    assert all("token" not in t for t in listed) and raw not in str(listed)
    with session_scope(get_engine(settings.database_url)) as session:  # stored hashed
        stored = session.exec(select(ApiToken.token_hash)).all()
        assert raw not in stored and all(len(h) == 64 for h in stored)
    # another user's token is not found, and stays alive
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=bob.auth).status_code == 404
    assert client.get("/api/v1/timeline", headers=phone).status_code == 200
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=alice.auth).status_code == 204
    assert client.get("/api/v1/timeline", headers=phone).status_code == 401
    listed = client.get("/api/v1/tokens", headers=alice.auth).json()["items"]
    assert next(t for t in listed if t["id"] == token_id)["revoked_at"] is not None
    assert client.get("/api/v1/timeline", headers=alice.auth).status_code == 200
    bad = client.post("/api/v1/tokens", json={"name": ""}, headers=alice.auth)
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "body.name"


def test_token_creation_and_logins_are_rate_limited(settings: Settings) -> None:
    strict = settings.model_copy(update={"token_rate": "3/hour", "login_rate": "4/minute"})
    alice = add_user(settings, "alice")
    with TestClient(create_app(strict)) as client:
        for _ in range(3):
            assert client.post("/api/v1/tokens", headers=alice.auth).status_code == 201
        over = client.post("/api/v1/tokens", headers=alice.auth)
        assert over.status_code == 429 and over.json()["error"]["code"] == "rate_limited"
        assert int(over.headers["Retry-After"]) > 0
        statuses = []
        for _ in range(6):
            page = client.get("/login").text
            statuses.append(
                client.post(
                    "/login",
                    data={"username": "alice", "password": "wrong", "csrf": csrf_of(page)},
                ).status_code
            )
        assert statuses == [401, 401, 401, 401, 429, 429]
        page = client.get("/login").text  # even the right password waits now
        right = client.post(
            "/login", data={"username": "alice", "password": "correct horse", "csrf": csrf_of(page)}
        )
        assert right.status_code == 429 and "Retry-After" in right.headers
    get_engine.cache_clear()


def test_cors_is_off_by_default_and_follows_the_setting(settings: Settings) -> None:
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization",
    }
    with TestClient(create_app(settings)) as client:
        resp = client.options("/api/v1/timeline", headers=preflight)
        assert "access-control-allow-origin" not in resp.headers
    allowed = settings.model_copy(update={"cors_origins": ["https://app.example"]})
    with TestClient(create_app(allowed)) as client:
        resp = client.options("/api/v1/timeline", headers=preflight)
        assert resp.headers["access-control-allow-origin"] == "https://app.example"
        other = client.options(
            "/api/v1/timeline", headers=preflight | {"Origin": "https://x.example"}
        )
        assert "access-control-allow-origin" not in other.headers
    get_engine.cache_clear()


def test_timeline_filters_by_tag_source_and_person(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    def feed(name: str, tags: dict[str, list[str]]) -> bytes:
        items = "".join(
            f"<item><guid>{name}-{k}</guid><title>{name} {k}</title>"
            f"<author>{name}@{name}.example ({name.title()})</author>"
            + "".join(f"<category>{t}</category>" for t in ts)
            + "<pubDate>Wed, 25 Nov 2026 10:00:00 GMT</pubDate></item>"
            for k, ts in tags.items()
        )
        return f"<rss version='2.0'><channel><title>{name}</title>{items}</channel></rss>".encode()

    feed_server.routes["/a"] = Reply(
        200, feed("ann", {"1": ["Café", "50%_off"], "2": ["music"], "3": []})
    )
    feed_server.routes["/b"] = Reply(200, feed("bo", {"1": ["café"], "2": ["music"]}))
    ids = []
    for path in ("/a", "/b"):
        resp = client.post(
            "/api/v1/sources", json={"url": feed_server.url(path)}, headers=alice.auth
        )
        ids.append(resp.json()["id"])
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))

    def titles(**params: object) -> list[str]:
        resp = client.get("/api/v1/timeline", params=params, headers=alice.auth)
        assert resp.status_code == 200, resp.text
        return sorted(i["title"] for i in resp.json()["items"])

    assert titles(tag="café") == ["ann 1", "bo 1"]
    assert titles(tag="MUSIC") == ["ann 2", "bo 2"]
    assert titles(tag="50%_off") == ["ann 1"]
    assert titles(tag="50") == [] and titles(tag="%") == [] and titles(tag="_") == []
    assert titles(source=ids[1]) == ["bo 1", "bo 2"]
    assert titles(source=ids[1], tag="music") == ["bo 2"]
    people = client.get("/api/v1/people", headers=alice.auth).json()["items"]
    ann = next(p["id"] for p in people if p["name"] == "Ann")
    assert titles(person=ann) == ["ann 1", "ann 2", "ann 3"]
    with session_scope(get_engine(settings.database_url)) as session:
        assert session.exec(select(User)).first() is not None
