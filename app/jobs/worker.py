"""``kith worker``: runs refresh and ranking tasks from the broker until SIGTERM.

On SIGTERM (or SIGINT) it stops taking tasks, gives the ones it runs
``worker_grace_seconds`` to finish, then releases every lease it still holds so those
sources are due again at once (instead of after the lease timeout), and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from taskiq.api import run_receiver_task

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.tasks import make_tasks, worker_id
from app.storage import leases

log = logging.getLogger("kith.worker")


async def run_worker(settings: Settings, *, concurrency: int, stop: asyncio.Event) -> int:
    """Work until ``stop`` is set; returns how many tasks were still running at exit
    (0 after a clean shutdown)."""
    tasks = make_tasks(settings)
    if tasks.in_process:
        raise ValueError("a worker needs a broker: set KITH_BROKER_URL (redis://host:6379/0)")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await tasks.broker.startup()
    log.info("worker %s: taking tasks from %s", worker_id(), settings.queue_name)
    receiver = asyncio.create_task(
        run_receiver_task(
            tasks.broker,
            sync_workers=concurrency,
            max_async_tasks=concurrency,
            max_prefetch=0,
        )
    )
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({receiver, stopping}, return_when=asyncio.FIRST_COMPLETED)
    log.info("worker %s: stopping; %d tasks running", worker_id(), tasks.in_flight.count)
    deadline = time.monotonic() + settings.worker_grace_seconds  # one grace period in all
    receiver.cancel()
    stopping.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(receiver, timeout=settings.worker_grace_seconds)
    while tasks.in_flight.count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    left = tasks.in_flight.count
    with session_scope(get_engine(settings.database_url)) as session:
        released = leases.release(session, owner=f"{worker_id()}:")
    log.info("worker %s: released %d leases; %d tasks unfinished", worker_id(), released, left)
    with contextlib.suppress(Exception):
        await tasks.broker.shutdown()
    return left
