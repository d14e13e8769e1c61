"""`source add` with a site URL finds its feeds; a Mastodon profile is recognised."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ingest.discover import find_feed_links, mastodon_account
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply, rss

PAGE = b"""<!doctype html><html><head><title>Mira</title>
<link rel="alternate" type="application/rss+xml" title="Mira &raquo; Comments Feed" href="/comments/feed/">
<link rel="alternate" type="application/rss+xml" title="Mira &raquo; Feed" href="/feed/">
<link rel="alternate" type="application/atom+xml" href="javascript:alert(1)">
<link rel="stylesheet" href="/style.css">
</head><body><h1>Mira</h1></body></html>"""


def test_links_on_a_page_in_order_comments_last() -> None:
    links = find_feed_links(PAGE, base_url="https://mira.example/blog/")
    assert [link.url for link in links] == [
        "https://mira.example/feed/",
        "https://mira.example/comments/feed/",
    ]
    assert links[0].title == "Mira » Feed"


def test_mastodon_profiles_are_recognised() -> None:
    account = mastodon_account("https://social.example/@kim")
    assert account is not None and account.acct == "kim@social.example"
    assert mastodon_account("https://social.example/@kim@other.example").acct == "kim@other.example"  # type: ignore[union-attr]
    assert mastodon_account("https://social.example/about") is None
    assert mastodon_account("https://social.example/@kim/123") is None


def test_site_url_subscribes_to_the_feed_it_names(
    client: TestClient, feed_server: FeedServer, alice: ApiUser
) -> None:
    feed_server.routes["/"] = Reply(200, PAGE, {"Content-Type": "text/html; charset=utf-8"})
    feed_server.routes["/feed/"] = Reply(200, rss(("a", "A", "x"), title="Mira"))
    feed_server.routes["/comments/feed/"] = Reply(
        200, rss(("c", "By: Bo", "x"), title="Comments for Mira")
    )
    found = client.post(
        "/api/v1/sources/discover", json={"url": feed_server.url("/")}, headers=alice.auth
    )
    assert found.status_code == 200, found.text
    assert [(d["url"], d["kind"]) for d in found.json()["items"]] == [
        (feed_server.url("/feed/"), "feed"),
        (feed_server.url("/comments/feed/"), "comments"),
    ]
    created = client.post(
        "/api/v1/sources", json={"url": feed_server.url("/"), "discover": True}, headers=alice.auth
    )
    assert created.status_code == 201 and created.json()["url"] == feed_server.url("/feed/")


def test_common_paths_are_tried_when_a_page_names_no_feed(
    client: TestClient, feed_server: FeedServer, alice: ApiUser
) -> None:
    feed_server.routes["/"] = Reply(
        200,
        b"<!doctype html><html><head></head><body>hi</body></html>",
        {"Content-Type": "text/html"},
    )
    feed_server.routes["/atom.xml"] = Reply(200, rss(("a", "A", "x")))
    found = client.post(
        "/api/v1/sources/discover", json={"url": feed_server.url("/")}, headers=alice.auth
    ).json()
    assert [d["url"] for d in found["items"]] == [feed_server.url("/atom.xml")]


def test_a_page_without_feeds_is_a_clear_error(
    client: TestClient, feed_server: FeedServer, alice: ApiUser
) -> None:
    feed_server.routes["/"] = Reply(
        200, b"<html><body>nothing</body></html>", {"Content-Type": "text/html"}
    )
    resp = client.post(
        "/api/v1/sources", json={"url": feed_server.url("/"), "discover": True}, headers=alice.auth
    )
    assert resp.status_code in (404, 422, 502) and resp.json()["error"]["code"] == "no_feed_found"
    assert client.get("/api/v1/sources", headers=alice.auth).json()["items"] == []


def test_a_mastodon_profile_is_recognised_not_fetched(
    client: TestClient, feed_server: FeedServer, alice: ApiUser
) -> None:
    found = client.post(
        "/api/v1/sources/discover", json={"url": "https://social.example/@kim"}, headers=alice.auth
    ).json()
    assert found["items"] == [
        {"url": "https://social.example/@kim", "kind": "mastodon", "title": "kim@social.example"}
    ]
    resp = client.post(
        "/api/v1/sources",
        json={"url": "https://social.example/@kim", "discover": True},
        headers=alice.auth,
    )
    assert resp.status_code == 201 and resp.json()["kind"] == "mastodon"


def test_discovery_goes_through_the_guard(client: TestClient, alice: ApiUser) -> None:
    resp = client.post(
        "/api/v1/sources/discover", json={"url": "http://169.254.169.254/"}, headers=alice.auth
    )
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "destination_not_allowed"


def test_a_feed_served_as_html_is_still_a_feed(
    client: TestClient, feed_server: FeedServer, alice: ApiUser
) -> None:
    feed_server.routes["/feed"] = Reply(
        200, b'<?xml version="1.0"?>' + rss(("a", "A", "x")), {"Content-Type": "text/html"}
    )
    found = client.post(
        "/api/v1/sources/discover", json={"url": feed_server.url("/feed")}, headers=alice.auth
    ).json()
    assert [d["url"] for d in found["items"]] == [feed_server.url("/feed")]
