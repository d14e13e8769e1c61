"""Prometheus metrics: what a refresh counts, the gauges read at scrape time, the token.

Counters are process-global (other tests fetch too), so every check is on a delta
between two scrapes taken around the work.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app import metrics
from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.main import create_app
from app.models import Source
from app.storage import sources as source_store
from app.storage import users as user_store
from tests.fake_mastodon import FakeMastodon
from tests.helpers import FeedServer, Reply, rss

FEED = rss(("a", "First", "<p>1</p>"), ("b", "Second", "<p>2</p>"))

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def build_app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def mclient(settings: Settings) -> Iterator[TestClient]:
    with TestClient(build_app(settings)) as c:
        yield c
    get_engine.cache_clear()


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(client: TestClient, **headers: str) -> Samples:
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(resp.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def add_sources(settings: Settings, *urls: str) -> list[int]:
    with session_scope(get_engine(settings.database_url)) as s:
        user = user_store.create_user(s, name="alice")
        assert user.id is not None
        ids = []
        for url in urls:
            src = source_store.create_source(s, user_id=user.id, url=url, now=datetime.now(UTC))
            assert src.id is not None
            ids.append(src.id)
        return ids


def refresh(settings: Settings, *, include_all: bool = False) -> None:
    refresh_due(
        get_engine(settings.database_url),
        RefreshOptions(policy=settings.fetch_policy(), parse_workers=0),
        include_all=include_all,
    )


def test_a_refresh_is_counted(
    mclient: TestClient, settings: Settings, feed_server: FeedServer
) -> None:
    def feed(req):
        if req.headers.get("If-None-Match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        return Reply(200, FEED, {"ETag": '"v1"'})

    feed_server.routes["/feed"] = feed
    feed_server.routes["/broken"] = Reply(500, b"boom")
    add_sources(
        settings,
        feed_server.url("/feed"),
        feed_server.url("/broken"),
        feed_server.url("/missing"),  # the feed server answers 404
    )
    before = scrape(mclient)
    assert value(before, "kith_sources_due") == 3

    refresh(settings)
    after = scrape(mclient)
    assert delta(before, after, "kith_fetches_total", outcome="ok") == 1
    assert delta(before, after, "kith_fetches_total", outcome="error") == 2
    assert delta(before, after, "kith_fetch_errors_total", code="server_error") == 1
    assert delta(before, after, "kith_fetch_errors_total", code="not_found") == 1
    assert delta(before, after, "kith_items_ingested_total") == 2
    assert delta(before, after, "kith_fetch_seconds_count", kind="feed") == 3
    assert delta(before, after, "kith_fetch_seconds_sum", kind="feed") > 0
    assert value(after, "kith_sources_due") == 0  # each one has its next check ahead

    refresh(settings, include_all=True)  # again: a 304 and the same two errors
    again = scrape(mclient)
    assert delta(after, again, "kith_fetches_total", outcome="not_modified") == 1
    assert delta(after, again, "kith_fetches_total", outcome="ok") == 0
    assert delta(after, again, "kith_fetch_errors_total", code="server_error") == 1
    assert delta(after, again, "kith_items_ingested_total") == 0


def test_parse_and_storage_errors_count_by_code(
    mclient: TestClient, settings: Settings, feed_server: FeedServer
) -> None:
    feed_server.routes["/page"] = Reply(200, b"<html>not a feed</html>")
    add_sources(settings, feed_server.url("/page"))
    before = scrape(mclient)
    refresh(settings)
    after = scrape(mclient)
    # the fetch itself worked; the error is the parser's
    assert delta(before, after, "kith_fetches_total", outcome="ok") == 1
    assert delta(before, after, "kith_fetch_errors_total", code="parse_error") == 1
    assert delta(before, after, "kith_items_ingested_total") == 0


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    server = FakeMastodon()
    yield server
    server.close()


def test_a_mastodon_sync_is_one_fetch(
    settings: Settings, feed_server: FeedServer, fake: FakeMastodon
) -> None:
    settings = settings.model_copy(update={"allowed_hosts": [*settings.allowed_hosts, fake.host]})
    kim = fake.account("kim", "Kim Lee")
    start = datetime.now(UTC) - timedelta(hours=3)
    for n in range(3):
        fake.status(kim, f"<p>post {n}</p>", created_at=start + timedelta(minutes=n))
    with TestClient(build_app(settings)) as client:
        with session_scope(get_engine(settings.database_url)) as s:
            user = user_store.create_user(s, name="carol")
            assert user.id is not None
            _, raw = user_store.create_token(s, user_id=user.id)
        resp = client.post(
            "/api/v1/sources",
            json={"url": f"{fake.base}/@kim"},
            headers={"Authorization": f"Bearer {raw}"},
        )
        assert resp.status_code == 201, resp.text
        before = scrape(client)
        refresh(settings, include_all=True)
        after = scrape(client)
    get_engine.cache_clear()
    assert delta(before, after, "kith_fetch_seconds_count", kind="mastodon") == 1
    assert delta(before, after, "kith_fetches_total", outcome="ok") == 1
    assert delta(before, after, "kith_items_ingested_total") == 3


def test_due_and_leased_gauges(
    mclient: TestClient, settings: Settings, feed_server: FeedServer
) -> None:
    sid, _ = add_sources(settings, feed_server.url("/a"), feed_server.url("/b"))
    samples = scrape(mclient)
    assert (value(samples, "kith_sources_due"), value(samples, "kith_sources_leased")) == (2, 0)
    with session_scope(get_engine(settings.database_url)) as s:
        src = s.get(Source, sid)
        assert src is not None
        src.lease_owner = "queued:test"
        src.lease_until = datetime.now(UTC) + timedelta(minutes=5)
    samples = scrape(mclient)  # a leased source is no longer waiting to be claimed
    assert (value(samples, "kith_sources_due"), value(samples, "kith_sources_leased")) == (1, 1)
    with session_scope(get_engine(settings.database_url)) as s:
        src = s.get(Source, sid)
        assert src is not None
        src.lease_until = datetime.now(UTC) - timedelta(seconds=1)  # its worker died
    samples = scrape(mclient)
    assert (value(samples, "kith_sources_due"), value(samples, "kith_sources_leased")) == (2, 0)


def test_queue_depth_is_read_at_scrape_time(mclient: TestClient) -> None:
    assert ("kith_queue_depth", ()) not in scrape(mclient)  # no broker: no gauge
    depth = iter([7, 3])
    mclient.app.state.queue_depth = lambda: next(depth)  # type: ignore[attr-defined]
    assert value(scrape(mclient), "kith_queue_depth") == 7
    assert value(scrape(mclient), "kith_queue_depth") == 3

    def down() -> int:
        raise ConnectionError("redis is restarting")

    mclient.app.state.queue_depth = down  # type: ignore[attr-defined]
    samples = scrape(mclient)  # the scrape still answers, without that gauge
    assert ("kith_queue_depth", ()) not in samples and ("kith_sources_due", ()) in samples


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    """A throwaway redis-server on loopback (skipped where it is not installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp_path],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_queue_depth_of_a_redis_broker(settings: Settings, redis_url: str) -> None:
    from taskiq_redis import ListQueueBroker

    queue = getattr(settings, "queue_name", "kith")
    broker = ListQueueBroker(redis_url, queue_name=queue)
    noop = broker.register_task(lambda: None, task_name="kith.test_noop")

    async def kick(n: int) -> None:
        await broker.startup()
        for _ in range(n):
            await noop.kiq()
        await broker.shutdown()

    with TestClient(build_app(settings.model_copy(update={"broker_url": redis_url}))) as client:
        assert value(scrape(client), "kith_queue_depth") == 0
        asyncio.run(kick(3))  # enqueued, no worker takes them
        assert value(scrape(client), "kith_queue_depth") == 3
    get_engine.cache_clear()


def test_an_unreachable_redis_broker_leaves_the_gauge_out(settings: Settings) -> None:
    port = free_port()  # nothing listens there
    broken = settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{port}/0"})
    with TestClient(build_app(broken)) as client:
        samples = scrape(client)
    get_engine.cache_clear()
    assert ("kith_queue_depth", ()) not in samples and ("kith_sources_due", ()) in samples


def test_metrics_token(settings: Settings) -> None:
    guarded = settings.model_copy(update={"metrics_token": "s3cret"})
    with TestClient(build_app(guarded)) as client:
        resp = client.get("/metrics")
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Basic s3cret"}).status_code == 401
        assert ("kith_sources_due", ()) in scrape(client, Authorization="Bearer s3cret")
    get_engine.cache_clear()


def test_metrics_is_not_in_the_openapi_schema(mclient: TestClient) -> None:
    assert "/metrics" not in mclient.get("/openapi.json").json()["paths"]


def test_worker_endpoint_has_counters_not_database_gauges() -> None:
    port = free_port()
    metrics.serve_metrics(port, addr="127.0.0.1")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        samples = parse(resp.read().decode())
    assert ("kith_fetches_total", (("outcome", "ok"),)) in samples
    assert not any(name == "kith_sources_due" for name, _ in samples)
