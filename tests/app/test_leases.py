"""Leases on sources (SQLite and PostgreSQL): what the scheduler claims, what a worker
takes and releases, what a lease that ran out does; and the in-process transport: the
embedded default runs the same tasks through taskiq's in-memory broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.scheduler import enqueue_due
from app.jobs.tasks import make_tasks
from app.models import Item, Source
from app.storage import leases
from app.storage import users as user_store
from tests.helpers import FeedServer, Reply, rss

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)


def add_sources(engine: sa.Engine, urls: list[str], *, due: datetime = NOW) -> list[int]:
    with session_scope(engine) as s:
        user = user_store.create_user(s, name=f"u{len(urls)}-{urls[0][-6:]}")
        rows = [Source(user_id=user.id or 0, url=u, next_check_at=due) for u in urls]
        s.add_all(rows)
        s.flush()
        return [r.id or 0 for r in rows]


def claim(
    engine: sa.Engine, batch: str, *, now: datetime = NOW, limit: int = 10, per_host: int = 10
) -> list[int]:
    with session_scope(engine) as s:
        return leases.claim_due(s, now=now, ttl=TTL, batch=batch, limit=limit, per_host=per_host)


def test_claims_due_sources_once_in_due_order_within_limits(engine: sa.Engine) -> None:
    a = add_sources(engine, [f"https://a.example/{n}" for n in range(6)])
    b = add_sources(
        engine, [f"https://b.example/{n}" for n in range(2)], due=NOW - timedelta(hours=1)
    )
    later = add_sources(engine, ["https://c.example/later"], due=NOW + timedelta(hours=1))
    with session_scope(engine) as s:
        paused = s.get(Source, a[5])
        assert paused is not None
        paused.paused = True
    first = claim(engine, "one", limit=4, per_host=3)
    # the longest due first, the hosts in turn (a batch mixes hosts); at most 3 of
    # a.example in flight; never paused or not-due
    assert first == [b[0], a[0], b[1], a[1]]
    second = claim(engine, "two", limit=10, per_host=3)
    assert second == [a[2]]  # a.example already has 2 in flight: one more fits
    assert claim(engine, "three", per_host=3) == []  # a.example is at its cap
    assert claim(engine, "four", per_host=5) == a[3:5]
    assert later[0] not in first + second and a[5] not in first + second
    with session_scope(engine) as s:
        owners = {s.get(Source, i).lease_owner for i in first}  # type: ignore[union-attr]
    assert owners == {"queued:one"}


def test_without_a_per_host_cap_every_due_source_is_claimed_hosts_mixed(
    engine: sa.Engine,
) -> None:
    busy = add_sources(engine, [f"https://busy.example/{n}" for n in range(6)])
    quiet = add_sources(engine, [f"https://quiet.example/{n}" for n in range(2)])
    with session_scope(engine) as s:
        got = leases.claim_due(s, now=NOW, ttl=TTL, batch="m1", limit=4)
    # politeness is the fetches' business now: the one busy host does not fill the batch
    assert got == [busy[0], quiet[0], busy[1], quiet[1]]
    with session_scope(engine) as s:
        assert leases.claim_due(s, now=NOW, ttl=TTL, batch="m2", limit=10) == busy[2:]
        assert leases.queued_batches(s, now=NOW) == 2
        assert leases.queued_batches(s, now=NOW + TTL) == 0  # ran out
        # nothing free is due: the next event is the end of the leases
        assert leases.next_due(s, now=NOW) == NOW + TTL


def test_a_worker_takes_only_its_batch_and_a_lapsed_lease_is_claimed_again(
    engine: sa.Engine,
) -> None:
    ids = add_sources(engine, [f"https://d.example/{n}" for n in range(3)])
    assert claim(engine, "b1") == ids
    with session_scope(engine) as s:
        # another batch name, or the right one once the lease ran out: nothing to take
        assert leases.take(s, source_ids=ids, batch="other", worker="w1", now=NOW, ttl=TTL) == []
        late = NOW + TTL + timedelta(seconds=1)
        assert leases.take(s, source_ids=ids, batch="b1", worker="w1", now=late, ttl=TTL) == []
        assert leases.take(s, source_ids=ids, batch="b1", worker="w1", now=NOW, ttl=TTL) == ids
        # taken once: a second delivery of the same batch finds nothing
        assert leases.take(s, source_ids=ids, batch="b1", worker="w2", now=NOW, ttl=TTL) == []
    # the worker dies: while its lease lasts nobody claims the sources, then anyone may
    assert claim(engine, "b2", now=NOW + timedelta(seconds=30)) == []
    assert claim(engine, "b3", now=NOW + TTL + timedelta(seconds=1)) == ids
    with session_scope(engine) as s:
        assert leases.counts(s, now=NOW + TTL + timedelta(seconds=2)) == (0, 3)


def test_release_by_batch_and_by_worker(engine: sa.Engine) -> None:
    ids = add_sources(engine, [f"https://e.example/{n}" for n in range(4)])
    assert claim(engine, "x", limit=2) == ids[:2]
    assert claim(engine, "y", limit=2) == ids[2:]
    with session_scope(engine) as s:
        assert leases.take(s, source_ids=ids[:2], batch="x", worker="host-1", now=NOW, ttl=TTL)
        assert leases.take(s, source_ids=ids[2:], batch="y", worker="host-12", now=NOW, ttl=TTL)
        # "host-1:" must not release host-12's leases (a prefix of the pid)
        assert leases.release(s, owner="host-1:") == 2
        assert leases.release(s, owner="host-12:y") == 2
        held = s.exec(select(Source).where(Source.lease_owner.is_not(None))).all()  # type: ignore[union-attr]
    assert held == []
    assert claim(engine, "z") == ids  # released and still due: claimable at once


def test_the_embedded_default_runs_the_same_tasks_in_process(
    settings: Settings, feed_server: FeedServer
) -> None:
    feed_server.routes["/a"] = Reply(200, rss(("a1", "One", "<p>1</p>"), ("a2", "Two", "<p>2</p>")))
    feed_server.routes["/b"] = Reply(200, rss(("b1", "Three", "<p>3</p>")))
    engine = get_engine(settings.database_url)
    ids = add_sources(engine, [feed_server.url("/a"), feed_server.url("/b")], due=datetime.now(UTC))
    tasks = make_tasks(settings)
    assert tasks.in_process

    async def tick() -> int:
        await tasks.broker.startup()
        try:
            return await enqueue_due(settings, tasks)
        finally:
            await tasks.broker.shutdown()

    assert asyncio.run(tick()) == 2
    with Session(engine) as s:
        titles = sorted(i.title for i in s.exec(select(Item)).all())
        sources = [s.get(Source, i) for i in ids]
    assert titles == ["One", "Three", "Two"]
    # fetched, leases given back, next check scheduled: nothing is due any more
    assert all(src and src.last_success_at and src.lease_owner is None for src in sources)
    assert asyncio.run(tick()) == 0


class _Orig(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def test_a_deadlocked_transaction_runs_again_and_other_failures_do_not() -> None:
    from app.db import is_transient, retry_transient

    deadlock = sa.exc.OperationalError("INSERT", {}, _Orig("deadlock detected", "40P01"))
    locked = sa.exc.OperationalError("INSERT", {}, _Orig("database is locked"))
    broken = sa.exc.IntegrityError("INSERT", {}, _Orig("duplicate key", "23505"))
    assert is_transient(deadlock) and is_transient(locked)
    assert not is_transient(broken) and not is_transient(ValueError("x"))
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise deadlock
        return "stored"

    assert retry_transient(flaky) == "stored" and len(calls) == 3
    calls.clear()

    def always() -> str:
        calls.append(1)
        raise deadlock

    with pytest.raises(sa.exc.OperationalError):  # the last failure is raised
        retry_transient(always, attempts=2)
    assert len(calls) == 2

    def wrong() -> str:
        calls.append(1)
        raise broken

    calls.clear()
    with pytest.raises(sa.exc.IntegrityError):
        retry_transient(wrong)
    assert len(calls) == 1  # not transient: not run again
