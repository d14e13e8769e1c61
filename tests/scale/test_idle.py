"""A ``kith worker`` with nothing to do is quiet, and prompt when Redis comes back.

An empty queue is not an outage: the worker's blocking pop returns (empty) every
``POP_SECONDS``, well below the connection's socket timeout, so an idle worker logs no
warning however long it waits (``KITH_IDLE_TEST_SECONDS``, 15 s by default: past both
the pop and the socket timeout, so the mechanism is the one a 60 s wait exercises; set
it to 60 to wait the full minute). With Redis killed it warns (once, then every 30 s)
and retries with a backoff capped at ``MAX_BACKOFF``; once Redis is back, a task
enqueued after the restart is taken and done."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.tasks import POP_SECONDS, SOCKET_TIMEOUT, make_tasks
from app.storage import leases
from bench.cluster import Cluster, RedisServer, cluster_env, seed_sources
from bench.farm import Farm

IDLE = float(os.environ.get("KITH_IDLE_TEST_SECONDS", "15"))


def _wait_for(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def _enqueue_one(env: dict[str, str]) -> int:
    """Claim the one due source and kick its refresh through Redis, as the scheduler
    would; returns its id."""
    settings = Settings(database_url=env["KITH_DATABASE_URL"], broker_url=env["KITH_BROKER_URL"])
    settings = settings.model_copy(update={"queue_name": env["KITH_QUEUE_NAME"]})
    batch = uuid.uuid4().hex
    with session_scope(get_engine(settings.database_url)) as s:
        ids = leases.claim_due(
            s, now=datetime.now(UTC), ttl=timedelta(seconds=300), batch=batch, limit=10
        )
    assert ids

    async def kick() -> None:
        tasks = make_tasks(settings)
        await tasks.broker.startup()
        try:
            await tasks.refresh.kiq(batch, ids)
        finally:
            await tasks.broker.shutdown()

    asyncio.run(kick())
    return ids[0]


def test_an_idle_worker_is_quiet_and_comes_back_with_redis(
    scale_pg: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    assert POP_SECONDS < SOCKET_TIMEOUT
    farm = Farm(feeds=1, entries=3).start()
    try:
        seed_sources(scale_pg, farm)
        engine = sa.create_engine(scale_pg)
        env = cluster_env(scale_pg, redis_server.url, farm)
        cluster = Cluster(env=env, work=tmp_path)
        try:
            cluster.start("worker", "worker")
            assert _wait_for(lambda: "taking tasks" in cluster.log("worker"), 60)
            time.sleep(IDLE)  # an empty queue, for longer than the socket timeout
            idle_log = cluster.log("worker")
            lowered = idle_log.lower()  # the log carries no level names: look for words
            assert not any(w in lowered for w in ("unreachable", "timeout", "error")), idle_log

            redis_server.stop()
            assert _wait_for(lambda: "Redis is unreachable" in cluster.log("worker"), 30)
            time.sleep(3)  # the backoff grows while Redis stays away
            redis_server.start()
            back = time.monotonic()
            source_id = _enqueue_one(env)

            def fetched() -> bool:
                with engine.connect() as conn:
                    return bool(
                        conn.exec_driver_sql(
                            "SELECT last_success_at IS NOT NULL FROM source WHERE id = %(i)s",
                            {"i": source_id},
                        ).scalar_one()
                    )

            # generous: the point is that it works again, the figure is printed
            assert _wait_for(fetched, 60), cluster.log("worker")[-3000:]
            print(f"task taken and done {time.monotonic() - back:.2f} s after Redis returned")
            log = cluster.log("worker")
            # warned at once, then at most every 30 s: not a line per retry
            assert log.count("Redis is unreachable") <= 2, log[-3000:]
        finally:
            cluster.stop_all()
            engine.dispose()
    finally:
        farm.stop()
