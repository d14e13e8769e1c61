"""rel="me" both ways merges a blog and a Mastodon account; XFN on the user's own blog
says how they know people. Pages served on loopback."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from app.config import Settings
from app.db import get_engine, session_scope
from app.storage import people as people_store
from ingest.links import page_links, rel_me, xfn
from ingest.types import IdentityEvidence
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply


def html(*links: str) -> bytes:
    return (
        "<!doctype html><html><head><title>p</title></head><body>"
        + "".join(links)
        + "</body></html>"
    ).encode()


def test_parsing_rel_me_and_xfn() -> None:
    links = page_links(
        html(
            '<a rel="me" href="https://social.example/@kim">M</a>',
            '<a rel="friend met" href="https://ann.example/">Ann</a>',
            '<a rel="co-worker" href="/bo">Bo</a>',
            '<a rel="me" href="javascript:x">x</a>',
        ),
        base_url="https://kim.example/",
    )
    assert rel_me(links) == {"https://social.example/@kim"}
    assert xfn(links) == {
        "https://ann.example": {"friend", "met"},
        "https://kim.example/bo": {"colleague"},
    }


def test_rel_me_both_ways_merges_blog_and_account(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    blog, profile, stranger = (
        feed_server.url("/kim"),
        feed_server.url("/@kim"),
        feed_server.url("/@other"),
    )
    feed_server.routes["/kim"] = Reply(
        200,
        html(
            f'<a rel="me" href="{profile}">me on mastodon</a>',
            f'<a rel="me" href="{stranger}">claims</a>',
        ),
        {"Content-Type": "text/html"},
    )
    feed_server.routes["/@kim"] = Reply(
        200,
        html(f'<a rel="me nofollow noopener" href="{blog}">blog</a>'),
        {"Content-Type": "text/html"},
    )
    feed_server.routes["/@other"] = Reply(
        200, html("<p>does not link back</p>"), {"Content-Type": "text/html"}
    )
    now = datetime.now(UTC)
    host = feed_server.hostport
    with session_scope(get_engine(settings.database_url)) as s:
        ids = people_store.resolve_identities(
            s,
            user_id=alice.id,
            now=now,
            evidence=[
                IdentityEvidence("url", blog.rstrip("/"), "Kim (blog)"),
                IdentityEvidence("acct", f"kim@{host}", "Kim Lee"),
                IdentityEvidence("acct", f"other@{host}", "Other"),
            ],
        )
    assert len(set(ids.values())) == 3
    report = client.post("/api/v1/people/links", headers=alice.auth).json()
    assert len(report["merged"]) == 1
    people = {
        p["name"]: p for p in client.get("/api/v1/people", headers=alice.auth).json()["items"]
    }
    assert set(people) == {"Kim (blog)", "Other"}
    assert {i["kind"] for i in people["Kim (blog)"]["identities"]} == {"url", "acct"}


def test_xfn_on_the_users_blogroll_sets_relationships(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    ann_site = feed_server.url("/ann")
    feed_server.routes["/me"] = Reply(
        200,
        html(f'<ul><li><a href="{ann_site}" rel="friend met co-worker">Ann</a></li></ul>'),
        {"Content-Type": "text/html"},
    )
    feed_server.routes["/ann"] = Reply(
        200, html("<p>Ann's site</p>"), {"Content-Type": "text/html"}
    )
    client.put(
        "/api/v1/me/identities",
        json={"identities": [{"kind": "url", "value": feed_server.url("/me/")}]},
        headers=alice.auth,
    )
    with session_scope(get_engine(settings.database_url)) as s:
        people_store.resolve_identities(
            s,
            user_id=alice.id,
            now=datetime.now(UTC),
            evidence=[IdentityEvidence("url", ann_site.rstrip("/"), "Ann")],
        )
    report = client.post("/api/v1/people/links", headers=alice.auth).json()
    assert list(report["relationships"].values()) == [["colleague", "friend", "met"]]
    (ann,) = client.get("/api/v1/people", headers=alice.auth).json()["items"]
    assert ann["relationships"] == ["colleague", "friend", "met"]
