"""Per-host politeness where fetches happen (app/jobs/politeness.py), in-process and
through Redis: a loopback host that counts requests open at once and when each one
arrived shows that three "workers" (threads each running a refresh, each with its own
gate, as worker processes have) never had more than the configured in-flight count and
rate reach it; a 429 with Retry-After from a host pauses it for every worker, and only
that host."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from app.config import Settings
from app.jobs import politeness
from app.jobs.refresh import refresh_due
from app.jobs.tasks import refresh_options
from app.models import Source
from app.storage import users as user_store
from tests.helpers import FeedServer, Reply, rss

REDIS = "redis://127.0.0.1:6379/0"
IN_FLIGHT, RATE, BURST = 2, 8.0, 3


class CountingHost:
    """Every path answers a small feed after ``work`` seconds; it records how many
    requests it held at once (counted from arrival until the answer is written, which
    lies inside the client's slot) and when each arrived."""

    def __init__(self, server: FeedServer, work: float = 0.05) -> None:
        self.server, self.work = server, work
        self.lock = threading.Lock()
        self.open = self.most = 0
        self.arrivals: list[float] = []
        self.body = rss(("g1", "One", "<p>one</p>"))

    def route(self, _handler: BaseHTTPRequestHandler) -> Reply:
        with self.lock:
            self.arrivals.append(time.monotonic())
            self.open += 1
            self.most = max(self.most, self.open)
        time.sleep(self.work)
        with self.lock:
            self.open -= 1
        return Reply(200, self.body)

    def worst_excess(self, rate: float, burst: int) -> float:
        """max over windows [t_i, t_j] of arrivals - (burst + rate * (t_j - t_i))."""
        times = sorted(self.arrivals)
        worst = float("-inf")
        for i in range(len(times)):
            for j in range(i, len(times)):
                worst = max(worst, (j - i + 1) - (burst + rate * (times[j] - times[i])))
        return worst


def _redis_up() -> bool:
    try:
        from redis import Redis

        with Redis.from_url(REDIS, socket_timeout=1) as r:
            return bool(r.ping())
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(params=["local", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "redis" and not _redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379")
    politeness._STATES.clear()  # each test starts with no local counts
    yield REDIS if request.param == "redis" else None
    politeness._STATES.clear()


def _settings(db_url: str, hosts: list[str], broker: str | None) -> Settings:
    return Settings(
        database_url=db_url,
        allowed_hosts=hosts,
        broker_url=broker,
        queue_name=f"kith-polite-{uuid.uuid4().hex[:8]}",
        fetch_per_host=IN_FLIGHT,
        fetch_host_rate=RATE,
        fetch_host_burst=BURST,
        fetch_deadline_seconds=5.0,
        parse_workers=0,
        comment_threads_per_source=0,
    )


def _sources(engine: sa.Engine, urls: list[str]) -> list[int]:
    with Session(engine) as s:
        user = user_store.create_user(s, name=f"polite-{uuid.uuid4().hex[:6]}")
        rows = [Source(user_id=user.id or 0, url=u) for u in urls]
        s.add_all(rows)
        s.commit()
        return [r.id or 0 for r in rows]


def _workers(engine: sa.Engine, settings: Settings, groups: list[list[int]], **kw: object) -> None:
    """Each group refreshed by its own thread at once (its own event loop and gate)."""
    options = refresh_options(settings)
    if kw:
        options = replace(options, politeness=replace(options.politeness, **kw))  # type: ignore[arg-type]
    errors: list[BaseException] = []

    def run(ids: list[int]) -> None:
        try:
            refresh_due(engine, options, source_ids=ids)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(g,)) for g in groups]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


def test_in_flight_and_rate_hold_across_workers(
    engine: sa.Engine, db_url: str, feed_server: FeedServer, backend: str | None
) -> None:
    host = CountingHost(feed_server)
    urls = [feed_server.url(f"/f{n}") for n in range(24)]
    for n in range(24):
        feed_server.routes[f"/f{n}"] = host.route
    ids = _sources(engine, urls)
    settings = _settings(db_url, [feed_server.hostport], backend)
    _workers(engine, settings, [ids[0::3], ids[1::3], ids[2::3]])
    assert len(host.arrivals) == 24  # every source fetched once
    assert host.most <= IN_FLIGHT, host.most
    # never more than the burst plus the rate's share of any window (a little slack for
    # the gap between taking a token and the request arriving)
    assert host.worst_excess(RATE, BURST) <= 1.0, host.worst_excess(RATE, BURST)
    with Session(engine) as s:
        fetched = s.exec(select(Source).where(Source.last_success_at.is_not(None))).all()  # type: ignore[union-attr]
    assert len(fetched) == 24


def test_a_429_pauses_that_host_for_every_worker_and_only_that_host(
    engine: sa.Engine, db_url: str, backend: str | None
) -> None:
    limited, other = FeedServer(), FeedServer()
    try:
        limited.routes["/busy"] = Reply(429, b"slow down", headers={"Retry-After": "30"})
        counting = CountingHost(limited, work=0.0)
        limited.routes["/feed"] = counting.route
        fine = CountingHost(other, work=0.0)
        other.routes["/feed"] = fine.route
        busy, later, elsewhere = _sources(
            engine, [limited.url("/busy"), limited.url("/feed"), other.url("/feed")]
        )
        settings = _settings(db_url, [limited.hostport, other.hostport], backend)
        _workers(engine, settings, [[busy]])  # one worker meets the 429
        assert limited.hits("/busy") == 1
        if backend:  # the other workers are other processes: nothing shared but Redis
            politeness._STATES.clear()
        # two other workers: the paused host is left alone (they give its source back
        # after waiting a second), the other host is fetched at once
        _workers(engine, settings, [[later], [elsewhere]], wait_seconds=1.0)
        assert counting.arrivals == []
        assert len(fine.arrivals) == 1
        with Session(engine) as s:
            src = s.get(Source, later)
            assert src is not None and src.last_success_at is None  # still due, not failed
            assert src.error_code is None
            hit = s.get(Source, busy)
            assert hit is not None and hit.error_code == "rate_limited"
    finally:
        limited.close()
        other.close()


def test_a_killed_workers_slots_come_back_and_tokens_refill(backend: str | None) -> None:
    limits = politeness.Politeness(
        in_flight=1,
        rate=20.0,
        burst=1,
        redis_url=backend,
        prefix=f"kith-polite-{uuid.uuid4().hex[:8]}",
        slot_seconds=0.3,
        wait_seconds=5.0,
    )

    async def main() -> tuple[float, float]:
        gate = politeness.make_gate(limits)
        host = "h.example:443"
        try:
            # a slot taken and never given back (its worker was killed mid-fetch)
            assert await gate._try(host, "dead") == 0
            started = time.monotonic()
            async with gate.slot(host) as ok:
                assert ok
            waited_slot = time.monotonic() - started
            started = time.monotonic()
            async with gate.slot(host) as ok:  # the next token comes 1/20 s later
                assert ok
            return waited_slot, time.monotonic() - started
        finally:
            await gate.close()

    if backend is None:
        # in-process, a slot lives as long as the task that holds it (no kill -9 to
        # survive): give it back as a cancelled task's context manager would
        async def local() -> None:
            gate = politeness.make_gate(limits)
            async with gate.slot("h.example:443") as ok:
                assert ok
            async with gate.slot("h.example:443") as ok:
                assert ok

        asyncio.run(local())
        return
    waited_slot, waited_token = asyncio.run(main())
    assert waited_slot >= 0.2  # the dead slot held the host until it expired
    assert waited_token < 5.0


def test_pause_reads_retry_after_and_ignores_a_plain_503() -> None:
    assert politeness.pause_for(429, {"retry-after": "12"}) == 12.0
    assert politeness.pause_for(429, {}) == politeness.DEFAULT_PAUSE[429]
    assert politeness.pause_for(503, {}) is None
    assert politeness.pause_for(503, {"retry-after": "99999"}) == politeness.MAX_PAUSE
    assert politeness.pause_for(200, {}) is None
    assert politeness.host_key("https://Mastodon.Social/@a") == "mastodon.social:443"
    assert politeness.host_key("http://127.0.0.1:8080/x") == "127.0.0.1:8080"
