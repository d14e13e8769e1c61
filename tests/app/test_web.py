"""The web reader skeleton: login with CSRF, escaped output, the timeline page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import get_engine
from app.refresh import RefreshOptions, refresh_due
from app.web.routes import safe_next
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply

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
    assert "<script" not in html.lower()
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
