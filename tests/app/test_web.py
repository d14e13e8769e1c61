"""The web reader skeleton: login with CSRF, escaped output, the timeline page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import User
from app.web.routes import safe_next
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply, rss

HOSTILE = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T &lt;script&gt;alert(1)&lt;/script&gt;</title>
<link>https://h.example/</link><description>d</description>
<item><guid>1</guid><title>&lt;img src=x onerror=alert(1)&gt;Title</title><link>javascript:alert(1)</link>
<author>x@h.example (&lt;b onmouseover=alert(1)&gt;Eve&lt;/b&gt;)</author>
<description><![CDATA[<p onclick="alert(1)">body<script>alert(1)</script></p><a href="javascript:alert(1)">l</a>]]></description></item>
</channel></rss>"""


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def login(client: TestClient, user: str, password: str) -> None:
    page = client.get("/login")
    resp = client.post(
        "/login",
        data={"username": user, "password": password, "csrf": csrf_of(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text


def test_home_redirects_to_login(client: TestClient) -> None:
    resp = client.get("/", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/login?next=/"


def test_login_needs_csrf_and_the_right_password(client: TestClient, alice: ApiUser) -> None:
    page = client.get("/login")
    no_csrf = client.post(
        "/login", data={"username": "alice", "password": "correct horse", "csrf": "forged"}
    )
    assert no_csrf.status_code == 400
    wrong = client.post(
        "/login", data={"username": "alice", "password": "nope", "csrf": csrf_of(page.text)}
    )
    assert wrong.status_code == 401 and "wrong password" in wrong.text
    assert client.get("/", follow_redirects=False).status_code == 303
    login(client, "alice", "correct horse")
    home = client.get("/")
    assert home.status_code == 200 and "Timeline" in home.text
    logout = client.post("/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert logout.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_timeline_page_escapes_everything(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    feed_server.routes["/feed"] = Reply(200, HOSTILE)
    client.post("/api/v1/sources", json={"url": feed_server.url("/feed")}, headers=alice.auth)
    stats = refresh_due(
        get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy())
    )
    assert stats.new_items == 1
    login(client, "alice", "correct horse")
    html = client.get("/").text
    assert "Title" in html
    scripts = re.findall(r"<script[^>]*>", html.lower())
    assert scripts and all(
        re.fullmatch(r'<script src="/static/[a-z]+\.js" defer>', t) for t in scripts
    )
    for handler in ("onerror", "onclick", "onmouseover"):
        assert handler not in html.lower()
    assert "javascript:" not in html


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/people", "/people"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("", "/"),
        (None, "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_accepts_only_local_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_login_rotates_the_session_and_its_csrf_token(client: TestClient, alice: ApiUser) -> None:
    form = client.get("/login")
    before_cookie, before_csrf = client.cookies.get("kith_session"), csrf_of(form.text)
    login(client, "alice", "correct horse")
    home = client.get("/")
    assert client.cookies.get("kith_session") != before_cookie
    assert csrf_of(home.text) != before_csrf
    # the session cookie is HttpOnly and SameSite=Lax whenever it is set
    out = client.post("/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    cookie = out.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_the_api_accepts_the_reader_session_with_its_csrf_header(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    feed_server.routes["/feed"] = Reply(200, HOSTILE)
    client.post("/api/v1/sources", json={"url": feed_server.url("/feed")}, headers=alice.auth)
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))
    assert client.get("/api/v1/people").status_code == 401  # not signed in yet
    login(client, "alice", "correct horse")
    token = csrf_of(client.get("/").text)
    people = client.get("/api/v1/people")
    assert people.status_code == 200 and len(people.json()["items"]) == 1
    timeline = client.get("/api/v1/timeline")
    assert timeline.status_code == 200
    item_id = timeline.json()["items"][0]["id"]
    url = f"/api/v1/items/{item_id}/feedback"
    missing = client.post(url, json={"action": "like"})
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "csrf_failed"
    forged = client.post(url, json={"action": "like"}, headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    ok = client.post(url, json={"action": "like"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 204
    # the session is alice's: bob's objects stay invisible, a bearer token still wins
    assert client.get("/api/v1/people", headers=bob.auth).json()["items"] == []
    # an account disabled while signed in loses the API at once
    with session_scope(get_engine(settings.database_url)) as s:
        user = s.get(User, alice.id)
        assert user is not None
        user.disabled_at = datetime.now(UTC)
    assert client.get("/api/v1/people").status_code == 401


def test_timeline_pages_on_with_ranks_that_continue(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    long_text = " ".join(f"word{n}" for n in range(120))
    posts = [(f"g{n}", f"Post {n}", f"<p>{long_text}</p><p>tail {n}</p>") for n in range(35)]
    feed_server.routes["/feed"] = Reply(200, rss(*posts))
    client.post("/api/v1/sources", json={"url": feed_server.url("/feed")}, headers=alice.auth)
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))
    login(client, "alice", "correct horse")
    first = client.get("/").text
    ranks = re.findall(r'data-rank="(\d+)"', first)
    assert ranks == [str(n) for n in range(1, 31)]
    # long content is summarized, the whole sanitized text one click away
    summary = re.search(r'<p class="summary">(.*?)</p>', first, re.S)
    assert summary and "word0" in summary.group(1) and "word119" not in summary.group(1)
    assert "Read all" in first and "word119" in first
    more = re.search(r'href="(/\?state=unread&amp;cursor=[^"]+)" rel="next"', first)
    assert more, "no More link"
    second = client.get(more.group(1).replace("&amp;", "&")).text
    assert re.findall(r'data-rank="(\d+)"', second) == [str(n) for n in range(31, 36)]
    titles = set(re.findall(r">(Post \d+)<", first)) | set(re.findall(r">(Post \d+)<", second))
    assert len(titles) == 35
    assert 'rel="next"' not in second
