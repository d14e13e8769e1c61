"""The scheduler: claims due sources in leased batches and hands them to the tasks.

Every tick it leases due sources in batches (:func:`app.storage.leases.claim_due`) and
kicks one refresh task per batch (every due source at once: politeness is the fetches'
business, :mod:`app.jobs.politeness`; only the number of batches waiting in the queue
is capped), then the ranking task (new items scored, pending
feedback learned); every ``retrain_hours`` the retrain task. On the embedded default
(no broker) the tasks run in this process and the tick waits for them, batch after
batch, as ``kith serve`` always did; with a broker (``kith scheduler``, or ``kith
serve`` with ``KITH_BROKER_URL``) it only enqueues and ``kith worker`` processes run
them. The database decides what is due: a batch whose task is lost is claimed again
once its leases run out. Between ticks it sleeps until the next source falls due, or
until a worker says a batch left the queue or finished (``wake_scheduler``): leases that
come back are claimed again at once, not a tick later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.digest_mail import DigestMailKick
from app.jobs.prune import DailyPrune
from app.jobs.tasks import (
    RANK,
    RETRAIN,
    Tasks,
    make_tasks,
    mark_queued,
    refresh_options,
    wake_key,
    worker_id,
)
from app.storage import leases

__all__ = ["enqueue_due", "refresh_options", "run_scheduler"]

log = logging.getLogger("kith.scheduler")

# in-process: a batch as large as one refresh run handles well (its pipeline fetches
# concurrently and keeps per-host politeness itself)
IN_PROCESS_BATCH = 500
# with a broker: batches enqueued per tick at most
MAX_BATCHES_PER_TICK = 200
# with a broker: batches waiting in the queue at most (claimed, not yet taken). More
# would only hold leases while they wait; a worker taking one wakes the scheduler.
MAX_QUEUED_BATCHES = 16


async def enqueue_due(settings: Settings, tasks: Tasks) -> int:
    """Claim every due source in batches and kick a refresh task for each; returns how
    many sources were handed out. In-process, each batch runs before the next is
    claimed (so leases never wait in a queue); with a broker, batches are only
    enqueued, never more than ``MAX_QUEUED_BATCHES`` waiting at once (per-host
    politeness is enforced where the fetches happen, across all workers)."""
    engine = get_engine(settings.database_url)
    ttl = timedelta(seconds=settings.lease_seconds)
    size = max(settings.batch_size, IN_PROCESS_BATCH) if tasks.in_process else settings.batch_size
    handed = batches = 0
    while batches < MAX_BATCHES_PER_TICK:
        batch = uuid.uuid4().hex

        def claim(batch: str = batch) -> list[int]:
            with session_scope(engine) as session:
                now = datetime.now(UTC)
                if not tasks.in_process and (
                    leases.queued_batches(session, now=now) >= MAX_QUEUED_BATCHES
                ):
                    return []  # the queue is full enough: a worker taking one wakes us
                return leases.claim_due(session, now=now, ttl=ttl, batch=batch, limit=size)

        ids = await asyncio.to_thread(claim)
        if not ids:
            break
        try:
            task = await tasks.refresh.kiq(batch, ids)
        except Exception:
            # the queue is unreachable: give the leases back, the next tick tries again
            await asyncio.to_thread(_release_queued, settings, batch)
            raise
        handed += len(ids)
        batches += 1
        if tasks.in_process:
            result = await task.wait_result(check_interval=0.05)
            if result.is_err:
                log.error("refresh batch failed: %r", result.error)
    return handed


def _until_due(settings: Settings) -> float:
    """Seconds until the next source falls due, at most one tick."""
    tick = settings.scheduler_tick_seconds
    try:
        with session_scope(get_engine(settings.database_url)) as session:
            now = datetime.now(UTC)
            due = leases.next_due(session, now=now)
    except Exception:  # noqa: BLE001 - the database is away: the tick retries
        return tick
    if due is None:
        return tick
    if due.tzinfo is None:  # SQLite hands back naive UTC
        due = due.replace(tzinfo=UTC)
    left = (due - now).total_seconds()
    if left <= 0:  # due yet unclaimed: the queue is full (a worker will wake us), or a race
        return min(tick, 1.0 if settings.broker_url else 0.05)
    return min(tick, max(left, 0.05))


async def _sleep(settings: Settings, stop: asyncio.Event, seconds: float) -> None:
    """Until ``seconds`` pass, ``stop`` is set or (with a broker) a worker wakes us."""
    if not settings.broker_url:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        return
    from redis.asyncio import Redis

    deadline = time.monotonic() + seconds
    try:
        async with Redis.from_url(settings.broker_url, socket_timeout=5) as conn:
            while not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                # whole seconds are what BLPOP takes on old servers; 0.1 s steps on 6+
                if await conn.blpop([wake_key(settings)], timeout=min(left, 1.0)):
                    await conn.delete(wake_key(settings))
                    return
    except Exception:  # noqa: BLE001 - Redis away: sleep out the rest
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(deadline - time.monotonic(), 0.1))


def _release_queued(settings: Settings, batch: str) -> None:
    with session_scope(get_engine(settings.database_url)) as session:
        leases.release(session, owner=leases.QUEUED + batch)


async def _kick_and_wait(settings: Settings, tasks: Tasks, task: Any, name: str) -> None:
    if not await mark_queued(settings, name):
        return  # one is queued already and has not started
    sent = await task.kiq()
    if tasks.in_process:
        result = await sent.wait_result(check_interval=0.05)
        if result.is_err:
            log.error("%s failed: %r", sent.task_id, result.error)


async def run_scheduler(
    settings: Settings, stop: asyncio.Event, *, tasks: Tasks | None = None
) -> None:
    """Tick until ``stop`` is set: due sources, then ranking; a retrain now and then."""
    tasks = tasks or make_tasks(settings)
    await tasks.broker.startup()
    retrained = time.monotonic()
    ranked = 0.0  # with a broker, ranking is kicked once a tick, not at every wake-up
    # retention: once a day (the day's row in job_run decides which process runs it)
    daily = DailyPrune(
        get_engine(settings.database_url), days=settings.retention_days, owner=worker_id()
    )
    mail = DigestMailKick(get_engine(settings.database_url), settings)
    try:
        while not stop.is_set():
            daily.kick(datetime.now(UTC))
            mail.kick(datetime.now(UTC))  # digest mails due (every few minutes)
            handed = 0
            try:
                handed = await enqueue_due(settings, tasks)
                if handed:
                    log.info("scheduler: %d sources handed out", handed)
            except Exception:  # the loop must outlive any one bad run (or a Redis restart)
                log.exception("scheduling refreshes failed")
            rank_now = time.monotonic() - ranked >= settings.scheduler_tick_seconds
            if not (rank_now or (tasks.in_process and handed)):
                await _sleep(settings, stop, await asyncio.to_thread(_until_due, settings))
                continue
            ranked = time.monotonic()
            try:
                if time.monotonic() - retrained >= settings.retrain_hours * 3600:
                    retrained = time.monotonic()
                    await _kick_and_wait(settings, tasks, tasks.retrain, RETRAIN)
                else:
                    await _kick_and_wait(settings, tasks, tasks.rank, RANK)
            except Exception:
                log.exception("scheduling ranking failed")
            await _sleep(settings, stop, await asyncio.to_thread(_until_due, settings))
    finally:
        await daily.close()
        await mail.close()
        await tasks.broker.shutdown()
