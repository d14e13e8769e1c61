"""The in-process ingest scheduler of `kith serve` on the embedded default.

Every tick it runs :func:`app.refresh.refresh_due` in a worker thread, so the event
loop keeps answering requests while feeds are fetched and stored, then scores what came
in and learns from pending feedback (:func:`app.scoring.rank_all_pending`); every
``retrain_hours`` it retrains the ranking models from scratch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db import get_engine
from app.refresh import RefreshOptions, refresh_due
from app.scoring import rank_all_pending, retrain_all
from app.threads import ThreadOptions

log = logging.getLogger("kith.scheduler")


def refresh_options(settings: Settings) -> RefreshOptions:
    return RefreshOptions(
        policy=settings.fetch_policy(),
        interval=timedelta(minutes=settings.refresh_interval_minutes),
        concurrency=settings.fetch_concurrency,
        per_host=settings.fetch_per_host,
        parse_workers=settings.parse_workers,
        parse_budget_seconds=settings.parse_budget_seconds,
        threads=ThreadOptions(threads_per_source=settings.comment_threads_per_source),
        mastodon_backfill=settings.mastodon_backfill,
    )


async def run_scheduler(settings: Settings, stop: asyncio.Event) -> None:
    engine = get_engine(settings.database_url)
    options = refresh_options(settings)
    retrained = time.monotonic()
    while not stop.is_set():
        try:
            stats = await asyncio.to_thread(refresh_due, engine, options)
            if stats.sources:
                log.info("refresh: %s", stats.line())
        except Exception:  # the loop must outlive any one bad run
            log.exception("refresh run failed")
        try:
            if time.monotonic() - retrained >= settings.retrain_hours * 3600:
                retrained = time.monotonic()
                reports = await asyncio.to_thread(retrain_all, engine, now=datetime.now(UTC))
                log.info("ranking: retrained %d models", len(reports))
            else:
                await asyncio.to_thread(rank_all_pending, engine, now=datetime.now(UTC))
        except Exception:
            log.exception("ranking run failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.scheduler_tick_seconds)
