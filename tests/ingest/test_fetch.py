"""Fetching against a real loopback server: no mocks of httpx."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from ingest.errors import (
    ConnectionFailed,
    DestinationNotAllowed,
    FetchTimeout,
    HTTPStatusError,
    ProtocolError,
    ResponseTooLarge,
    TooManyRedirects,
)
from ingest.fetch import FetchPolicy, fetch, make_client
from ingest.guard import GuardPolicy
from ingest.types import FetchResult, NotModified
from tests.helpers import FeedServer, Reply, StubResolver, rss


def policy_for(server: FeedServer, **kw: object) -> FetchPolicy:
    guard = GuardPolicy(allowed_hosts=frozenset({server.hostport}))
    return FetchPolicy(guard=guard, **kw)  # type: ignore[arg-type]


def run_fetch(
    server: FeedServer,
    path: str,
    policy: FetchPolicy | None = None,
    *,
    url: str | None = None,
    dns: StubResolver | None = None,
    **kw: str | None,
):
    policy = policy or policy_for(server)

    async def go():
        async with make_client(policy, dns=dns) as client:
            return await fetch(client, url or server.url(path), policy, **kw)

    return asyncio.run(go())


def test_fetch_returns_body_and_validators(feed_server: FeedServer) -> None:
    body = rss(("a", "A", "<p>a</p>"))
    feed_server.routes["/feed"] = Reply(
        200, body, {"ETag": '"v1"', "Content-Type": "application/rss+xml"}
    )
    result = run_fetch(feed_server, "/feed")
    assert isinstance(result, FetchResult)
    assert result.content == body and result.etag == '"v1"'
    ua = feed_server.requests[0][1].get("User-Agent", "")
    assert ua.startswith("Kith/")


def test_conditional_get_gives_not_modified(feed_server: FeedServer) -> None:
    def handler(req):
        if req.headers.get("If-None-Match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        return Reply(200, b"<rss/>", {"ETag": '"v1"'})

    feed_server.routes["/feed"] = handler
    result = run_fetch(feed_server, "/feed", etag='"v1"')
    assert isinstance(result, NotModified) and result.etag == '"v1"'


def test_permanent_redirect_reports_the_new_url(feed_server: FeedServer) -> None:
    feed_server.routes["/old"] = Reply(301, b"", {"Location": "/new"})
    feed_server.routes["/new"] = Reply(200, b"<rss/>")
    result = run_fetch(feed_server, "/old")
    assert isinstance(result, FetchResult)
    assert result.permanent_url == feed_server.url("/new")


def test_temporary_redirect_keeps_the_old_url(feed_server: FeedServer) -> None:
    feed_server.routes["/old"] = Reply(302, b"", {"Location": "/new"})
    feed_server.routes["/new"] = Reply(200, b"<rss/>")
    result = run_fetch(feed_server, "/old")
    assert isinstance(result, FetchResult) and result.permanent_url is None


def test_redirect_to_loopback_outside_the_allow_list_is_refused(feed_server: FeedServer) -> None:
    other = FeedServer()
    try:
        other.routes["/secret"] = Reply(200, b"secret")
        feed_server.routes["/go"] = Reply(302, b"", {"Location": other.url("/secret")})
        with pytest.raises(DestinationNotAllowed):
            run_fetch(feed_server, "/go")
        assert other.requests == []
    finally:
        other.close()


def test_redirect_loop_stops(feed_server: FeedServer) -> None:
    feed_server.routes["/a"] = Reply(302, b"", {"Location": "/b"})
    feed_server.routes["/b"] = Reply(302, b"", {"Location": "/a"})
    with pytest.raises(TooManyRedirects):
        run_fetch(feed_server, "/a")
    assert len(feed_server.requests) == 6  # the first request plus five hops


@pytest.mark.parametrize(
    ("status", "code"),
    [(404, "not_found"), (410, "gone"), (500, "server_error"), (401, "auth_failed")],
)
def test_error_statuses_have_codes(feed_server: FeedServer, status: int, code: str) -> None:
    feed_server.routes["/x"] = Reply(status, b"no")
    with pytest.raises(HTTPStatusError) as info:
        run_fetch(feed_server, "/x")
    assert info.value.code == code and info.value.status == status


def test_429_carries_retry_after(feed_server: FeedServer) -> None:
    feed_server.routes["/x"] = Reply(429, b"slow down", {"Retry-After": "120"})
    with pytest.raises(HTTPStatusError) as info:
        run_fetch(feed_server, "/x")
    assert info.value.code == "rate_limited" and info.value.retry_after == 120.0


def test_body_over_the_cap_is_refused(feed_server: FeedServer) -> None:
    feed_server.routes["/big"] = Reply(200, b"x" * 50_000)
    with pytest.raises(ResponseTooLarge):
        run_fetch(feed_server, "/big", policy_for(feed_server, max_body_bytes=10_000))


def test_gzip_bomb_counts_decoded_bytes(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    assert len(bomb) < 10_000
    feed_server.routes["/bomb"] = Reply(200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(ResponseTooLarge):
        run_fetch(feed_server, "/bomb", policy_for(feed_server, max_body_bytes=100_000))


def test_slow_drip_hits_the_whole_request_deadline(feed_server: FeedServer) -> None:
    feed_server.routes["/drip"] = Reply(200, b"x" * 100, drip_delay=0.1)
    with pytest.raises(FetchTimeout) as info:
        run_fetch(feed_server, "/drip", policy_for(feed_server, deadline_seconds=1.0))
    assert info.value.code == "timeout"


def test_server_that_never_answers_times_out(feed_server: FeedServer) -> None:
    feed_server.routes["/hang"] = Reply(200, b"late", hang=3)
    with pytest.raises(FetchTimeout):
        run_fetch(feed_server, "/hang", policy_for(feed_server, deadline_seconds=0.5))


def test_loopback_is_refused_without_the_allow_list(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Reply(200, b"<rss/>")
    with pytest.raises(DestinationNotAllowed):
        run_fetch(feed_server, "/feed", FetchPolicy())
    assert feed_server.requests == []


def test_a_name_resolving_to_loopback_is_refused_at_connect_time(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Reply(200, b"<rss/>")
    dns = StubResolver({"feeds.example": ["127.0.0.1"]})
    with pytest.raises(DestinationNotAllowed):
        run_fetch(
            feed_server,
            "/feed",
            FetchPolicy(),
            url=f"http://feeds.example:{feed_server.port}/feed",
            dns=dns,
        )
    assert dns.calls == ["feeds.example"] and feed_server.requests == []


def test_the_checked_address_is_the_one_connected_to(feed_server: FeedServer) -> None:
    """Allow-listed by name, resolved by the stub: the request reaches the server."""
    feed_server.routes["/feed"] = Reply(200, b"<rss/>")
    dns = StubResolver({"feeds.example": ["127.0.0.1"]})
    policy = FetchPolicy(
        guard=GuardPolicy(allowed_hosts=frozenset({f"feeds.example:{feed_server.port}"}))
    )
    result = run_fetch(
        feed_server, "/feed", policy, url=f"http://feeds.example:{feed_server.port}/feed", dns=dns
    )
    assert isinstance(result, FetchResult) and feed_server.hits("/feed") == 1


def test_rebinding_to_private_on_the_second_lookup_is_refused(feed_server: FeedServer) -> None:
    """First answer public, second private: the connection is never made to the private one."""
    feed_server.routes["/feed"] = Reply(200, b"<rss/>")
    dns = StubResolver({"rebind.example": [["93.184.215.14"], ["127.0.0.1"]]})
    policy = FetchPolicy(connect_timeout=0.5, deadline_seconds=2)
    url = f"http://rebind.example:{feed_server.port}/feed"
    for _ in range(2):
        with pytest.raises((DestinationNotAllowed, ConnectionFailed, FetchTimeout)):
            run_fetch(feed_server, "/feed", policy, url=url, dns=dns)
    assert feed_server.requests == []


def test_huge_headers_are_refused(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Reply(200, b"<rss/>", {"X-Junk": "a" * 200_000})
    with pytest.raises(ProtocolError) as info:
        run_fetch(feed_server, "/feed")
    assert info.value.code == "protocol_error"


def test_brotli_and_deflate_are_decoded(feed_server: FeedServer) -> None:
    import zlib

    import brotli

    body = rss(("a", "A", "<p>a</p>"))
    feed_server.routes["/br"] = Reply(200, brotli.compress(body), {"Content-Encoding": "br"})
    feed_server.routes["/deflate"] = Reply(
        200, zlib.compress(body), {"Content-Encoding": "deflate"}
    )
    for path in ("/br", "/deflate"):
        result = run_fetch(feed_server, path)
        assert isinstance(result, FetchResult) and result.content == body


def test_cache_control_and_expires_are_reported(feed_server: FeedServer) -> None:
    feed_server.routes["/cc"] = Reply(200, b"<rss/>", {"Cache-Control": "public, max-age=7200"})
    feed_server.routes["/exp"] = Reply(200, b"<rss/>", {"Expires": "Thu, 01 Jan 2099 00:00:00 GMT"})
    feed_server.routes["/none"] = Reply(200, b"<rss/>", {"Cache-Control": "no-cache"})
    assert run_fetch(feed_server, "/cc").fresh_for_seconds == 7200
    assert run_fetch(feed_server, "/exp").fresh_for_seconds > 86400 * 365
    assert run_fetch(feed_server, "/none").fresh_for_seconds == 0


def test_keep_alive_reuses_connections_across_304s(feed_server: FeedServer) -> None:
    feed_server.routes["/a"] = Reply(304, b"", {"ETag": '"1"'})
    policy = policy_for(feed_server)

    async def go():
        async with make_client(policy) as client:
            for _ in range(5):
                await fetch(client, feed_server.url("/a"), policy, etag='"1"')
            return client.connector._conns  # type: ignore[union-attr]

    asyncio.run(go())
    assert feed_server.connections == 1


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "127.0.0.01",
        "[::ffff:127.0.0.1]",
        "localhost",
    ],
)
def test_every_spelling_of_loopback_is_refused_before_a_connection(
    feed_server: FeedServer, host: str
) -> None:
    feed_server.routes["/feed"] = Reply(200, rss(("a", "A", "x")))
    with pytest.raises(DestinationNotAllowed) as info:
        run_fetch(feed_server, "/feed", FetchPolicy(), url=f"http://{host}:{feed_server.port}/feed")
    assert info.value.code == "destination_not_allowed"
    assert feed_server.connections == 0 and feed_server.requests == []
