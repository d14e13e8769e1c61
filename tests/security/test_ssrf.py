"""SSRF through the whole app: every way a URL can reach the fetcher (a new source, a
site to discover a feed on, a Mastodon instance, a redirect, a comment thread named in
a feed, an enclosure, a person's page read for rel=me) aimed at a private listener.
Each is refused with ``destination_not_allowed`` (or never fetched at all), and the
listener sees zero connections. SQLite and PostgreSQL (the app fixtures)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import Source
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply

# every spelling of "this machine" and of other private space; {port} is the listener's
LITERALS = [
    "http://127.0.0.1:{port}/",
    "http://127.1:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f000001:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://0x7f.1:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::ffff:7f00:1]:{port}/",
    "http://[::1]:{port}/",
    "http://[::]:{port}/",
    "http://0.0.0.0:{port}/",
    "http://0:{port}/",
    "http://localhost:{port}/",
    "http://LOCALHOST.:{port}/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
]
SCHEMES = [
    "file:///etc/passwd",
    "data:text/xml,<rss/>",
    "javascript:alert(1)",
    "ftp://example.org/feed.xml",
    "gopher://example.org/",
    "/etc/passwd",
    "feed.xml",
    "https://user:secret@example.org/feed.xml",
]


def error_code(resp: object) -> str:
    body = resp.json()  # type: ignore[attr-defined]
    return str(body["error"]["code"])


def test_private_destinations_are_refused_when_added_or_discovered(
    client: TestClient, alice: ApiUser, private: FeedServer
) -> None:
    wrong = []
    for template in LITERALS:
        url = template.format(port=private.port)
        calls = [
            ("/api/v1/sources", {"url": url}),
            ("/api/v1/sources", {"url": url, "discover": True}),
            ("/api/v1/sources/discover", {"url": url}),
            ("/api/v1/sources", {"url": url, "kind": "mastodon", "token": "t0ken"}),
        ]
        for path, body in calls:
            resp = client.post(path, json=body, headers=alice.auth)
            if resp.status_code not in (400, 422) or error_code(resp) != "destination_not_allowed":
                wrong.append((path, body, resp.status_code, resp.text[:200]))
    assert wrong == []
    assert private.connections == 0
    assert client.get("/api/v1/sources", headers=alice.auth).json()["items"] == []


def test_other_schemes_and_credentials_are_refused(client: TestClient, alice: ApiUser) -> None:
    for url in SCHEMES:
        resp = client.post("/api/v1/sources", json={"url": url}, headers=alice.auth)
        assert resp.status_code in (400, 422), (url, resp.text)
        assert error_code(resp) in ("invalid_url", "destination_not_allowed"), (url, resp.text)
    assert client.get("/api/v1/sources", headers=alice.auth).json()["items"] == []


def test_urls_inside_content_never_reach_private_space(
    client: TestClient,
    settings: Settings,
    feed_server: FeedServer,
    alice: ApiUser,
    private: FeedServer,
) -> None:
    """A public feed (allow-listed here) whose entries name private URLs everywhere a
    URL can hide: a comment feed to follow, an enclosure, a link, an author page; and
    one of its addresses redirects into private space."""
    p = private.base
    feed = f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:wfw="http://wellformedweb.org/CommentAPI/"
     xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>Looks harmless</title><link>{p}/home</link><description>d</description>
<item><guid>1</guid><title>One</title><link>{p}/post/1</link>
  <author>eve@evil.example (Eve)</author>
  <wfw:commentRss>{p}/comments/1.xml</wfw:commentRss>
  <enclosure url="{p}/big.mp3" length="1" type="audio/mpeg"/>
  <atom:link rel="replies" type="application/rss+xml" href="{p}/replies.xml"/>
  <description><![CDATA[<p><img src="{p}/pixel.gif"><a href="{p}/x">x</a></p>]]></description>
  <pubDate>Wed, 25 Nov 2026 10:00:00 GMT</pubDate></item>
</channel></rss>""".encode()
    feed_server.routes["/feed"] = Reply(200, feed)
    feed_server.routes["/moved"] = Reply(302, b"", {"Location": f"{p}/feed"})
    engine = get_engine(settings.database_url)
    for path in ("/feed", "/moved"):
        resp = client.post(
            "/api/v1/sources", json={"url": feed_server.url(path)}, headers=alice.auth
        )
        assert resp.status_code == 201, resp.text
    options = RefreshOptions(policy=settings.fetch_policy())
    for _ in range(2):  # the second pass fetches any comment thread the first one found
        refresh_due(engine, options, include_all=True)
    with session_scope(engine) as s:
        sources = {src.url: src for src in s.exec(select(Source)).all()}
    moved = sources[feed_server.url("/moved")]
    assert moved.error_code == "destination_not_allowed"
    for url, src in sources.items():
        if url.startswith(p):  # a thread Kith chose to follow: refused at fetch time
            assert src.error_code == "destination_not_allowed", (url, src.error_code)
    # people's pages, read for rel="me"
    resp = client.post("/api/v1/people/links", headers=alice.auth)
    assert resp.status_code == 200, resp.text
    assert private.connections == 0, private.requests
    assert feed_server.hits("/feed") >= 1  # the public part was fetched
