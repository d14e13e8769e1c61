"""Bluesky ingest against the fake service on loopback: posts, facets, embeds, paging,
the app-password session, rate limits and handle resolution through the guard."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ingest import atproto_identity as ident
from ingest import bluesky
from ingest.atproto_identity import IdentityOptions
from ingest.bluesky import BlueskyOptions
from ingest.bluesky_posts import post_entry, profile_sites, render_text
from ingest.errors import DestinationNotAllowed
from ingest.fetch import FetchPolicy, make_client
from ingest.guard import GuardPolicy
from tests.fake_bluesky import PASSWORD, FakeBluesky
from tests.helpers import StubResolver


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    server = FakeBluesky()
    yield server
    server.close()


def opts_for(
    fake: FakeBluesky, txt: dict[str, list[str]] | None = None, **kw: Any
) -> BlueskyOptions:
    async def lookup(name: str) -> list[str]:
        return (txt or {}).get(name, [])

    identity = IdentityOptions(
        plc_url=fake.appview_base,
        handle_base="http://{host}:" + str(fake.appview_port),
        txt=lookup,
    )
    return BlueskyOptions(appview=fake.appview_base, identity=identity, **kw)


def policy_for(fake: FakeBluesky, *extra: str) -> FetchPolicy:
    return FetchPolicy(guard=GuardPolicy(allowed_hosts=frozenset([*fake.hosts, *extra])))


def run(fake: FakeBluesky, coro_fn: Any, *, dns: StubResolver | None = None, extra=()) -> Any:
    policy = policy_for(fake, *extra)

    async def go() -> Any:
        async with make_client(policy, dns=dns) as session:
            return await coro_fn(session, policy)

    return asyncio.run(go())


def sync(fake: FakeBluesky, url: str, state: dict[str, Any], *, password=None, cache=None, **kw):
    opts = opts_for(fake, **kw)
    return run(
        fake,
        lambda session, policy: bluesky.sync(
            session,
            policy,
            opts,
            url=url,
            password=password,
            state=state,
            cache={} if cache is None else cache,
            now=datetime.now(UTC),
        ),
    )


def test_actor_forms() -> None:
    assert ident.parse_actor("https://bsky.app/profile/Alice.Example.com") == "alice.example.com"
    assert ident.parse_actor("@alice.bsky.social") == "alice.bsky.social"
    assert ident.parse_actor("bsky:alice.example") == "alice.example"
    assert ident.parse_actor("alice.example") == "alice.example"
    did = "did:plc:" + "a" * 24
    assert ident.parse_actor(f"https://bsky.app/profile/{did}/post/3k") == did
    assert ident.parse_actor("@kim@mastodon.example") is None
    assert ident.parse_actor("https://blog.example/feed") is None
    assert ident.parse_actor("bsky:127.0.0.1") is None and ident.parse_actor("bsky:x.local") is None


def test_facets_use_utf8_byte_offsets() -> None:
    text = "Grüße 🌍 — see example.org and #cats"
    raw = text.encode()
    start = raw.index(b"example.org")
    tag = raw.index(b"#cats")
    facets = [
        {
            "index": {"byteStart": start, "byteEnd": start + len("example.org")},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/x"}],
        },
        {
            "index": {"byteStart": tag, "byteEnd": tag + 5},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "cats"}],
        },
        {  # out of range and a javascript link: ignored
            "index": {"byteStart": 0, "byteEnd": 999},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "javascript:alert(1)"}],
        },
    ]
    html, tags = render_text(text, facets)
    assert 'Grüße 🌍 — see <a href="https://example.org/x">example.org</a> and ' in html
    assert '<a href="https://bsky.app/hashtag/cats">#cats</a>' in html and tags == ["cats"]
    assert "javascript" not in html


def test_post_entry_embeds_reposts_and_replies(fake: FakeBluesky) -> None:
    kim, lee = fake.actor("kim.example"), fake.actor("lee.bsky.social", "Lee <b>L</b>")
    parent = fake.post(kim, "the parent")
    reply = fake.post(
        lee,
        "<script>alert(1)</script> a reply",
        reply_to=parent,
        embed={
            "$type": "app.bsky.embed.images#view",
            "images": [
                {
                    "thumb": "https://cdn.example/t.jpg",
                    "fullsize": "https://cdn.example/f.jpg",
                    "alt": "a <i>cat</i>",
                }
            ],
        },
    )
    item = fake.feeds[lee["did"]][0]
    entry = post_entry(item)
    assert entry is not None
    rkey = reply["uri"].rsplit("/", 1)[1]
    assert entry.url == f"https://bsky.app/profile/{lee['did']}/post/{rkey}"
    assert (
        entry.in_reply_to
        == f"https://bsky.app/profile/{kim['did']}/post/{parent['uri'].rsplit('/', 1)[1]}"
    )
    assert "<script" not in entry.content and "&lt;script&gt;" in entry.content
    assert (
        entry.enclosures[0].url == "https://cdn.example/f.jpg"
        and entry.enclosures[0].description == "a cat"
    )
    assert entry.identity.kind == "bsky" and entry.identity.value == lee["did"]
    assert entry.identity.display_name == "Lee L"
    external = fake.post(
        kim,
        "read this",
        embed={
            "$type": "app.bsky.embed.external#view",
            "external": {
                "uri": "https://news.example/a",
                "title": "A <b>story</b>",
                "description": "d",
            },
        },
    )
    boosted = post_entry(fake.repost(lee, external))
    assert boosted is not None and boosted.boosted_by == "lee.bsky.social"
    assert boosted.identity.value == kim["did"]  # by the original author
    assert '<a href="https://news.example/a"' in boosted.content and "A story" in boosted.content
    assert profile_sites(
        {"description": "I write at alice.example and https://www.blog.example/x."}
    ) == [
        "alice.example",
        "blog.example",
    ]


def test_public_profile_pages_with_no_gap(fake: FakeBluesky) -> None:
    kim = fake.actor("kim.example", "Kim")
    for n in range(250):
        fake.post(kim, f"post {n}")
    url = "https://bsky.app/profile/kim.example"
    first = sync(fake, url, {}, backfill=1000)
    assert first.primary_error is None and not first.stream_errors
    assert len(first.entries) == 250 and first.title == "Kim"
    feed_calls = [p for _, p, _, _ in fake.requests if "getAuthorFeed" in p]
    assert len(feed_calls) == 3  # pages of 100
    for n in range(250, 420):
        fake.post(kim, f"post {n}")
    fake.requests.clear()
    second = sync(fake, url, first.state)
    texts = {e.title for e in first.entries + second.entries}
    assert texts == {f"post {n}" for n in range(420)}
    assert len([p for _, p, _, _ in fake.requests if "getAuthorFeed" in p]) == 2
    assert all(auth is None for _, _, auth, _ in fake.requests)  # public: no credentials


def test_rate_limit_stops_and_resumes_without_gap(fake: FakeBluesky) -> None:
    kim = fake.actor("kim.example")
    for n in range(50):
        fake.post(kim, f"old {n}")
    url = "https://bsky.app/profile/kim.example"
    state = sync(fake, url, {}).state
    for n in range(300):
        fake.post(kim, f"new {n}")
    fake.remaining, fake.reset_in = 3, 120.0  # profile + 2 pages, then no more
    cut = sync(fake, url, state, min_remaining=0, backfill=1000)
    assert (
        cut.primary_error is None and cut.retry_after is not None and 100 < cut.retry_after <= 121
    )
    assert len(cut.entries) == 200  # two pages stored; the rest next time
    assert cut.state["streams"]["author_feed"]["resume"]
    fake.remaining = None
    rest = sync(fake, url, cut.state)
    got = {e.title for e in cut.entries + rest.entries}
    assert {f"new {n}" for n in range(300)} <= got
    assert not rest.state["streams"]["author_feed"].get("resume")
    fake.remaining, fake.reset_in = 100, 300.0  # few left: stop before running dry
    paced = sync(fake, url, rest.state, min_remaining=200)
    assert paced.retry_after is not None and paced.retry_after > 10


def test_own_account_session_refresh_and_streams(fake: FakeBluesky) -> None:
    me = fake.account("carol.example", "Carol")
    kim, lee = fake.actor("kim.example", "Kim"), fake.actor("lee.example", "Lee")
    theirs = fake.post(kim, "hi carol")
    fake.timeline.insert(0, fake.feeds[kim["did"]][0])
    mine = fake.post(me, "mine")
    fake.notify("reply", kim, fake.post(kim, "a reply to you", reply_to=mine))
    fake.notify("like", lee, mine)
    fake.notify("follow", lee)
    fake.notify("quote", lee, fake.post(lee, "quoting"))
    fake.post(me, "thanks", reply_to=theirs)
    fake.repost(me, fake.post(lee, "lee says"))
    fake.like(theirs)
    txt = {"_atproto.carol.example": [f"did={me['did']}"]}
    cache: dict[str, Any] = {}
    batch = sync(fake, "bsky:carol.example", {}, password=PASSWORD, cache=cache, txt=txt)
    assert batch.primary_error is None, batch.primary_error
    assert not batch.stream_errors, batch.stream_errors
    assert [e.title for e in batch.entries] == ["hi carol"]
    got = sorted((i.direction, i.kind, i.who.display_name) for i in batch.interactions)
    assert got == [
        ("in", "favourite", "Lee"),
        ("in", "follow", "Lee"),
        ("in", "mention", "Lee"),
        ("in", "reply", "Kim"),
        ("out", "boost", "Lee"),
        ("out", "favourite", "Kim"),
        ("out", "reply", "Kim"),
    ]
    # the password went only to the PDS, in createSession; the AppView saw no credentials
    with_password = [(port, p) for port, p, _, body in fake.requests if PASSWORD in body]
    assert with_password == [(fake.pds_port, "/xrpc/com.atproto.server.createSession")]
    assert all(auth is None for port, _, auth, _ in fake.requests if port == fake.appview_port)
    # the access JWT expires: refreshSession, then the call again, once; no new login
    fake.requests.clear()
    fake.expire_next = 1
    again = sync(fake, "bsky:carol.example", batch.state, password=PASSWORD, cache=cache, txt=txt)
    assert again.primary_error is None
    paths = [p.split("?")[0] for _, p, _, _ in fake.requests]
    assert paths[:3] == [
        "/xrpc/app.bsky.feed.getTimeline",
        "/xrpc/com.atproto.server.refreshSession",
        "/xrpc/app.bsky.feed.getTimeline",
    ]
    assert "/xrpc/com.atproto.server.createSession" not in paths
    # a failing secondary stream is reported; the others are still there
    fake.notify("mention", kim, fake.post(kim, "@carol again"))
    fake.fail["com.atproto.repo.listRecords"] = 500
    part = sync(fake, "bsky:carol.example", again.state, password=PASSWORD, cache=cache, txt=txt)
    assert part.primary_error is None and set(part.stream_errors) == {"likes"}
    known = {i.external_id for i in batch.interactions + again.interactions}
    # the newest item of each stream is read again (ties at the cursor); its id dedupes it
    assert [i.kind for i in part.interactions if i.external_id not in known] == ["mention"]


def test_wrong_password_is_auth_failed(fake: FakeBluesky) -> None:
    me = fake.account("carol.example")
    txt = {"_atproto.carol.example": [f"did={me['did']}"]}
    batch = sync(fake, "bsky:carol.example", {}, password="wrong", txt=txt)
    assert batch.primary_error is not None and batch.primary_error.code == "auth_failed"


def test_handle_resolution_both_ways(fake: FakeBluesky) -> None:
    alice = fake.actor("alice.test")
    opts = opts_for(fake)
    dns = StubResolver({"alice.test": ["127.0.0.1"], "evil.test": ["10.0.0.7"]})
    fake.well_known["alice.test"] = alice["did"]
    host = f"alice.test:{fake.appview_port}"

    async def check(session: Any, policy: FetchPolicy) -> tuple[str, bool]:
        did = await ident.resolve_handle(session, policy, "alice.test", opts.identity)
        ok = await ident.verified_handle(session, policy, did, "alice.test", opts.identity)
        return did, ok

    assert run(fake, check, dns=dns, extra=[host]) == (alice["did"], True)
    # the DID document names another handle: not verified
    fake.plc[alice["did"]] = fake.did_doc(alice["did"], "someone.else", fake.pds_base)
    assert run(fake, check, dns=dns, extra=[host])[1] is False
    # a handle whose well-known host is a private address is refused by the guard
    with pytest.raises(DestinationNotAllowed):
        run(
            fake,
            lambda s, p: ident.resolve_handle(s, p, "evil.test", opts.identity),
            dns=dns,
        )
    # DNS TXT that points at nothing valid falls back to HTTPS; ambiguous TXT is no answer
    assert ident._did_from_txt([f"did={alice['did']}", "did=did:plc:" + "b" * 24]) is None


def test_pds_on_a_private_address_never_gets_the_password(fake: FakeBluesky) -> None:
    me = fake.account("carol.example")
    fake.plc[me["did"]] = fake.did_doc(me["did"], "carol.example", "http://10.1.2.3:2583")
    txt = {"_atproto.carol.example": [f"did={me['did']}"]}
    batch = sync(fake, "bsky:carol.example", {}, password=PASSWORD, txt=txt)
    assert batch.primary_error is not None
    assert batch.primary_error.code == "destination_not_allowed"
    assert not any(PASSWORD in body for *_, body in fake.requests)
