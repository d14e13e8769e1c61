"""Refresh and ranking work as tasks: one code path, two transports.

The tasks are plain functions registered on a taskiq broker. With ``KITH_BROKER_URL``
unset (the embedded default) the broker is taskiq's ``InMemoryBroker``: ``kith serve``
runs them in its own process. With ``KITH_BROKER_URL=redis://...`` it is taskiq-redis's
``ListQueueBroker``: the scheduler puts them on a Redis list and any number of
``kith worker`` processes take them off. Redis is only the transport: what is due and
who holds it lives in the database (:mod:`app.storage.leases`), so a task lost with a
dead worker or a restarted Redis costs a lease timeout, never a source.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from taskiq import AsyncBroker, InMemoryBroker

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.politeness import Politeness
from app.jobs.refresh import RefreshOptions, refresh_due
from app.jobs.scoring import rank_all_pending, retrain_all
from app.jobs.threads import ThreadOptions
from app.storage import leases

log = logging.getLogger("kith.tasks")

REFRESH = "kith.refresh"
RANK = "kith.rank_pending"
RETRAIN = "kith.retrain"


# an idle worker's blocking pop returns this often, well below the socket timeout: an
# empty queue is an answer, never a timeout
POP_SECONDS = 2
SOCKET_TIMEOUT = 10.0
# the longest wait between attempts while Redis is away: a worker takes tasks again
# within about this long of Redis coming back
MAX_BACKOFF = 1.0


def politeness(settings: Settings, *, wait_seconds: float | None = None) -> Politeness:
    """Per-host limits from the settings; shared through the broker's Redis if one is set."""
    return Politeness(
        in_flight=settings.fetch_per_host,
        rate=settings.fetch_host_rate,
        burst=settings.fetch_host_burst,
        redis_url=settings.broker_url,
        prefix=settings.queue_name,
        wait_seconds=wait_seconds,
        slot_seconds=max(2 * settings.fetch_deadline_seconds, 60.0),
    )


def refresh_options(settings: Settings) -> RefreshOptions:
    return RefreshOptions(
        politeness=politeness(settings),
        policy=settings.fetch_policy(),
        interval=timedelta(minutes=settings.refresh_interval_minutes),
        concurrency=settings.fetch_concurrency,
        per_host=settings.fetch_per_host,
        parse_workers=settings.parse_workers,
        parse_budget_seconds=settings.parse_budget_seconds,
        threads=ThreadOptions(threads_per_source=settings.comment_threads_per_source),
        mastodon_backfill=settings.mastodon_backfill,
        bluesky=settings.bluesky_options(),
    )


def worker_id() -> str:
    """This process as a lease owner: host and pid (read when asked: forks differ)."""
    return f"{socket.gethostname()}-{os.getpid()}"


class InFlight:
    """How many tasks this process is running (for a graceful shutdown)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __enter__(self) -> None:
        with self._lock:
            self.count += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.count -= 1


@dataclass
class Tasks:
    """The broker and the kickers of each task (``await tasks.refresh.kiq(...)``)."""

    broker: AsyncBroker
    refresh: Any
    rank: Any
    retrain: Any
    in_process: bool
    in_flight: InFlight


def make_broker(settings: Settings) -> AsyncBroker:
    if settings.broker_url:
        return _redis_broker(settings.broker_url, settings.queue_name)
    # one batch at a time in-process: the refresh pipeline is concurrent inside a batch
    return InMemoryBroker(sync_tasks_pool_size=1, max_stored_results=1000)


def _redis_broker(url: str, queue: str) -> AsyncBroker:
    """taskiq-redis's list-queue broker, listening with a backoff while Redis is away
    (its own loop retries at once, thousands of times a second, with a traceback each)."""
    import asyncio
    from collections.abc import AsyncGenerator

    from redis.asyncio import Redis
    from redis.exceptions import TimeoutError as RedisTimeout
    from taskiq_redis import ListQueueBroker

    class PatientListQueueBroker(ListQueueBroker):
        async def listen(self) -> AsyncGenerator[bytes, None]:
            delay, failing_since, warned = 0.1, 0.0, 0.0
            while True:
                failure: Exception | None = None
                try:
                    async with Redis(connection_pool=self.connection_pool) as conn:
                        popped = await conn.brpop([self.queue_name], timeout=POP_SECONDS)
                except (RedisTimeout, TimeoutError) as exc:
                    if "connect" not in str(exc).lower():
                        continue  # a slow answer on a live connection: nothing to take yet
                    failure = exc
                except Exception as exc:  # noqa: BLE001 - connection failures: wait, retry
                    failure = exc
                if failure is not None:
                    now = time.monotonic()
                    failing_since = failing_since or now
                    if not warned or now - warned >= 30:  # at once, then every 30 s
                        warned = now
                        log.warning(
                            "Redis is unreachable (%s) for %.0f s; retrying every %.1f s",
                            failure,
                            now - failing_since,
                            MAX_BACKOFF,
                        )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_BACKOFF)
                    continue
                if failing_since:
                    log.info("Redis answers again: taking tasks")
                delay, failing_since, warned = 0.1, 0.0, 0.0
                if popped is not None:
                    yield popped[1]

    return PatientListQueueBroker(
        url,
        queue_name=queue,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=2.0,
        retry_on_timeout=False,
    )


def wake_key(settings: Settings) -> str:
    """The list a finished (or started) batch pushes to, which the scheduler blocks on:
    leases that came back are claimed again at once, not at the next tick."""
    return f"{settings.queue_name}:wake"


def wake_scheduler(settings: Settings) -> None:
    if not settings.broker_url:
        return
    from redis import Redis

    try:
        with Redis.from_url(settings.broker_url, socket_timeout=2) as conn:
            pipe = conn.pipeline()
            pipe.lpush(wake_key(settings), "1")
            pipe.ltrim(wake_key(settings), 0, 0)  # one wake-up is as good as many
            pipe.expire(wake_key(settings), 60)
            pipe.execute()
    except Exception:  # noqa: BLE001 - the scheduler's tick comes anyway
        log.debug("could not wake the scheduler")


def _mark_key(settings: Settings, task: str) -> str:
    return f"{settings.queue_name}:queued:{task}"


async def mark_queued(settings: Settings, task: str) -> bool:
    """With a broker: claim the one queued slot of a singleton task (ranking runs are
    idempotent, and a pile of them queued every tick would delay the refreshes behind
    them). True when the caller should enqueue it; the task frees the slot as it starts,
    and the slot expires by itself if the task is lost."""
    if not settings.broker_url:
        return True
    from redis.asyncio import Redis

    async with Redis.from_url(settings.broker_url) as conn:
        ttl = max(int(settings.lease_seconds), 1)
        return bool(await conn.set(_mark_key(settings, task), "1", nx=True, ex=ttl))


def unmark(settings: Settings, task: str) -> None:
    """The task has started: another may be queued."""
    if not settings.broker_url:
        return
    from redis import Redis

    try:
        with Redis.from_url(settings.broker_url) as conn:
            conn.delete(_mark_key(settings, task))
    except Exception:  # noqa: BLE001 - the mark expires by itself
        log.warning("could not clear the queued mark of %s", task)


def make_tasks(settings: Settings, broker: AsyncBroker | None = None) -> Tasks:
    """Register the tasks on ``broker`` (by default the one the settings choose)."""
    broker = broker or make_broker(settings)
    engine = get_engine(settings.database_url)
    ttl = timedelta(seconds=settings.lease_seconds)
    # a leased source waits for its host at most half its lease, then goes back (still
    # due) instead of being handed out twice
    options = replace(
        refresh_options(settings),
        politeness=politeness(settings, wait_seconds=settings.lease_seconds / 2),
    )
    in_flight = InFlight()

    def refresh_batch(batch: str, source_ids: list[int]) -> dict[str, int]:
        """Refresh the sources of one claimed batch that are still queued for it."""
        worker = worker_id()
        with session_scope(engine) as session:
            mine = leases.take(
                session,
                source_ids=source_ids,
                batch=batch,
                worker=worker,
                now=datetime.now(UTC),
                ttl=ttl,
            )
        if not mine:  # delivered twice, or its leases ran out and were claimed again
            return {"sources": 0, "new_items": 0, "errors": 0}
        wake_scheduler(settings)  # a queued batch left the queue: room for another
        with in_flight:
            try:
                stats = refresh_due(engine, options, source_ids=mine)
            finally:
                with session_scope(engine) as session:
                    leases.release(session, owner=f"{worker}:{batch}")
                wake_scheduler(settings)  # its sources (and its hosts' slots) are free
        log.info("batch %s: %s", batch[:8], stats.line())
        return {"sources": stats.sources, "new_items": stats.new_items, "errors": stats.errors}

    def rank_pending() -> int:
        """Score new items and learn from pending feedback, for every user with work."""
        unmark(settings, RANK)  # from now on, a new request may be queued behind this run
        with in_flight:
            return rank_all_pending(engine, now=datetime.now(UTC))

    def retrain() -> int:
        """Retrain every user's ranking model from scratch."""
        unmark(settings, RETRAIN)
        with in_flight:
            return len(retrain_all(engine, now=datetime.now(UTC)))

    return Tasks(
        broker=broker,
        refresh=broker.register_task(refresh_batch, task_name=REFRESH),
        rank=broker.register_task(rank_pending, task_name=RANK),
        retrain=broker.register_task(retrain, task_name=RETRAIN),
        in_process=isinstance(broker, InMemoryBroker),
        in_flight=in_flight,
    )
