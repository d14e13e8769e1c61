"""The refresh job: one orchestrator that reads as a script of steps (Miniflux's RefreshFeed).

For each due source, as a pipeline: fetch (ingest, on the event loop, bounded overall
and per host) -> parse (ingest, in worker processes, under a time budget) -> decide
new/changed and store (one transaction per source, on one storage thread) -> resolve
people -> schedule the next check. A failure is recorded on its source and never
stops the batch; a crash mid-fetch leaves the previous state intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app import metrics
from app.db import retry_transient, session_scope
from app.jobs import mastodon_store, politeness, threads
from app.jobs.threads import ThreadOptions
from app.models import Source
from app.storage import items as item_store
from app.storage import people as people_store
from app.storage import sources as source_store
from ingest import mastodon
from ingest.bluesky import BlueskyOptions
from ingest.errors import HTTPStatusError, IngestError
from ingest.fetch import FetchPolicy, fetch, make_client
from ingest.kinds import as_comments, looks_like_comments
from ingest.mastodon import MastodonBatch
from ingest.pool import ParsePool
from ingest.schedule import (
    next_check_after_failure,
    next_check_after_success,
    posting_interval,
)
from ingest.types import FeedData, FetchResult, NotModified

Outcome = FetchResult | NotModified | IngestError
UNCHANGED_BATCH = 200


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """What the fetch step needs, read before any network I/O (no session held open)."""

    id: int
    url: str
    kind: str
    etag: str | None
    last_modified: str | None
    check_interval_seconds: int | None
    access_token: str | None = None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RefreshStats:
    sources: int = 0
    new_items: int = 0
    updated: int = 0
    errors: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"sources={self.sources} new_items={self.new_items} updated={self.updated} "
            f"errors={self.errors} seconds={self.seconds:.2f}"
        )


@dataclass(frozen=True, slots=True)
class RefreshOptions:
    """Plain values for one run (built from settings by the caller)."""

    policy: FetchPolicy
    interval: timedelta = timedelta(hours=1)  # when a feed's entries carry no dates
    concurrency: int = 10
    per_host: int = 4
    parse_workers: int = 2
    parse_budget_seconds: float = 15.0
    # the hook for the ranking issue: how much sooner to check a source (> 1 = sooner),
    # e.g. from the weights of the people who write in it; None checks all alike
    priority: Callable[[int], float] | None = None
    threads: ThreadOptions = ThreadOptions()
    mastodon_backfill: int = 200  # statuses per stream on a Mastodon source's first sync
    bluesky: BlueskyOptions = BlueskyOptions()  # AppView, PLC directory, backfill
    # per-host in-flight and rate limits (app/jobs/politeness.py), shared through Redis
    # when it names one; None (library callers, tests): ``per_host`` in flight, no rate
    politeness: politeness.Politeness | None = None


def refresh_due(
    engine: Engine,
    options: RefreshOptions,
    *,
    include_all: bool = False,
    source_ids: list[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RefreshStats:
    """Refresh every due source (or all, or the given ones) once; returns the counts.

    ``progress(done, total)`` is called after each source is stored.
    """
    started = time.monotonic()
    if source_ids is None:
        with session_scope(engine) as session:
            source_ids = source_store.due_source_ids(
                session, now=datetime.now(UTC), include_all=include_all
            )
    stats = RefreshStats()
    snapshots = _load(engine, source_ids)
    if snapshots:
        asyncio.run(_pipeline(engine, snapshots, options, stats, progress))
    stats.seconds = time.monotonic() - started
    return stats


def _load(engine: Engine, ids: list[int]) -> list[SourceSnapshot]:
    out = []
    with session_scope(engine) as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = session.exec(select(Source).where(col(Source.id).in_(chunk))).all()
            by_id = {s.id: s for s in rows}
            for source_id in chunk:
                s = by_id.get(source_id)
                if s is not None and s.id is not None:
                    out.append(
                        SourceSnapshot(
                            s.id,
                            s.url,
                            s.kind,
                            s.etag,
                            s.last_modified,
                            s.check_interval_seconds,
                            s.access_token,
                            dict(s.state or {}),
                        )
                    )
    return out


async def _pipeline(
    engine: Engine,
    snapshots: list[SourceSnapshot],
    options: RefreshOptions,
    stats: RefreshStats,
    progress: Callable[[int, int], None] | None,
) -> None:
    loop = asyncio.get_running_loop()
    in_flight = asyncio.Semaphore(max(options.concurrency, 1))
    if options.politeness is not None:
        gate = politeness.make_gate(options.politeness)
    else:  # no settings given: ``per_host`` in flight, no rate, counts of this run only
        limits = politeness.Politeness(in_flight=options.per_host, rate=0)
        gate = politeness.make_gate(limits, shared=False)
    workers = options.parse_workers if len(snapshots) > 1 else 0
    pool = ParsePool(workers=workers, budget_seconds=options.parse_budget_seconds)
    storer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kith-store")
    done = 0
    unchanged: list[tuple[SourceSnapshot, NotModified]] = []

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(snapshots))

    traces = [politeness.trace_config(gate)]
    async with make_client(options.policy, trace_configs=traces) as client:

        async def one(s: SourceSnapshot) -> None:
            # the host's slot first (a source waits for its host, not for the batch's
            # other hosts), then one of the run's ``concurrency`` places
            if s.kind == "bluesky":  # app/jobs/bluesky_sync.py: sync, then store
                from app.jobs import bluesky_sync

                host = politeness.host_key(options.bluesky.appview)
                ok, synced_bsky = await _gated(
                    gate, host, in_flight, lambda: bluesky_sync.sync_source(client, s, options)
                )
                if not ok:
                    return  # its host stayed busy or paused: still due, fetched later
                async with _held(in_flight):
                    await loop.run_in_executor(
                        storer, bluesky_sync.store, engine, s, synced_bsky, options, stats
                    )
                tick()
                return
            if s.kind == "mastodon":
                ok, synced = await _gated(
                    gate,
                    politeness.host_key(s.url),
                    in_flight,
                    lambda: _sync_mastodon(client, s, options),
                )
                if not ok:
                    return
                async with _held(in_flight):
                    await loop.run_in_executor(
                        storer, _store_mastodon, engine, s, synced, options, stats
                    )
                tick()
                return
            ok, outcome = await _gated(
                gate,
                politeness.host_key(s.url),
                in_flight,
                lambda: _fetch_one(client, s, options.policy),
            )
            if not ok:
                return
            async with _held(in_flight):
                if isinstance(outcome, NotModified):  # the common case: batched, see below
                    unchanged.append((s, outcome))
                    if len(unchanged) >= UNCHANGED_BATCH:
                        batch = unchanged[:]
                        unchanged.clear()
                        await loop.run_in_executor(
                            storer, _store_unchanged, engine, batch, options, stats
                        )
                    tick()
                    return
                parsed = None
                if isinstance(outcome, FetchResult):
                    try:
                        parsed = await pool.parse(
                            outcome.content,
                            url=outcome.url,
                            content_type=outcome.content_type,
                            comments=s.kind == "comments",
                        )
                    except IngestError as exc:
                        outcome = exc
                await loop.run_in_executor(
                    storer, _store_outcome, engine, s, outcome, parsed, options, stats
                )
            tick()

        try:
            await asyncio.gather(*(one(s) for s in snapshots))
            if unchanged:
                await loop.run_in_executor(
                    storer, _store_unchanged, engine, unchanged[:], options, stats
                )
        finally:
            storer.shutdown(wait=True)
            await gate.close()


async def _gated(
    gate: politeness.Gate,
    host: str,
    in_flight: asyncio.Semaphore,
    request: Callable[[], Awaitable[Any]],
) -> tuple[bool, Any]:
    """Wait for a slot on ``host``, then for a place among the run's fetches, and fetch;
    the place stays held for the parse and store that follow (see :func:`_held`).
    ``(False, None)`` when the host stayed busy or paused past the wait limit."""
    async with gate.slot(host) as ok:
        if not ok:
            return False, None
        await in_flight.acquire()
        try:
            return True, await request()
        except BaseException:
            in_flight.release()
            raise


@contextlib.asynccontextmanager
async def _held(in_flight: asyncio.Semaphore) -> AsyncIterator[None]:
    """A place :func:`_gated` took, given back when the source is stored."""
    try:
        yield
    finally:
        in_flight.release()


async def _fetch_one(client: object, s: SourceSnapshot, policy: FetchPolicy) -> Outcome:
    started = time.perf_counter()
    outcome: Outcome
    try:
        outcome = await fetch(
            client,  # type: ignore[arg-type]
            s.url,
            policy,
            etag=s.etag,
            last_modified=s.last_modified,
        )
    except IngestError as exc:
        outcome = exc
    metrics.observe_fetch(s.kind, _outcome_label(outcome), time.perf_counter() - started)
    return outcome


def _outcome_label(outcome: FetchResult | NotModified | MastodonBatch | IngestError) -> str:
    if isinstance(outcome, IngestError):
        return "error"
    return "not_modified" if isinstance(outcome, NotModified) else "ok"


async def _sync_mastodon(
    client: object, s: SourceSnapshot, options: RefreshOptions
) -> MastodonBatch | IngestError:
    started = time.perf_counter()
    synced: MastodonBatch | IngestError
    try:
        synced = await mastodon.sync(
            client,  # type: ignore[arg-type]
            options.policy,
            url=s.url,
            token=s.access_token,
            state=s.state,
            backfill=options.mastodon_backfill,
            now=datetime.now(UTC),
        )
    except IngestError as exc:
        synced = exc
    metrics.observe_fetch(s.kind, _outcome_label(synced), time.perf_counter() - started)
    return synced


def _store_mastodon(
    engine: Engine,
    snapshot: SourceSnapshot,
    synced: MastodonBatch | IngestError,
    options: RefreshOptions,
    stats: RefreshStats,
) -> None:
    """Statuses as items, interactions with people, and the new cursors, in one
    transaction: a crash leaves the old cursors, so the next sync repeats, not skips.
    A transient failure (deadlock, busy database) runs the transaction again."""
    stats.sources += 1
    retry_transient(lambda: _store_mastodon_once(engine, snapshot, synced, options, stats))


def _store_mastodon_once(
    engine: Engine,
    snapshot: SourceSnapshot,
    synced: MastodonBatch | IngestError,
    options: RefreshOptions,
    stats: RefreshStats,
) -> None:
    now = datetime.now(UTC)
    with session_scope(engine, write=True) as session:  # in the write queue (SQLite)
        source = session.get(Source, snapshot.id)
        if source is None:
            return
        if isinstance(synced, IngestError):
            _record_error(session, source, synced, now)
            stats.errors += 1
            return
        evidence = [e.identity for e in synced.entries] + [i.who for i in synced.interactions]
        identity_ids = people_store.resolve_identities(
            session, user_id=source.user_id, evidence=evidence, now=now
        )
        counts = item_store.upsert_entries(
            session, source=source, entries=synced.entries, identity_ids=identity_ids, now=now
        )
        person_of = people_store.persons_of_identities(session, identity_ids=identity_ids)
        people_store.record_interactions(
            session,
            user_id=source.user_id,
            rows=[
                {
                    "person_id": person_of[identity_ids[(i.who.kind, i.who.value)]],
                    "direction": i.direction,
                    "kind": i.kind,
                    "at": i.at,
                    "external_id": i.external_id[:500],
                }
                for i in synced.interactions
                if (i.who.kind, i.who.value) in identity_ids
            ],
        )
        # deletions, relationship flags, verified rel=me links (app.jobs.mastodon_store)
        mastodon_store.store_extras(session, source=source, batch=synced, now=now)
        source.state = synced.state
        interval = posting_interval(
            (e.published for e in synced.entries), now=now, fallback=options.interval
        )
        if synced.entries:
            source.check_interval_seconds = int(interval.total_seconds())
        else:
            interval = timedelta(
                seconds=source.check_interval_seconds or options.interval.total_seconds()
            )
        source_store.record_success(
            session,
            source=source,
            now=now,
            next_check_at=next_check_after_success(
                now, interval=interval, fresh_for_seconds=synced.retry_after
            ),
            etag=None,
            last_modified=None,
        )
    stats.new_items += counts.new
    stats.updated += counts.updated
    metrics.count_items(counts.new)


def _store_outcome(
    engine: Engine,
    snapshot: SourceSnapshot,
    outcome: Outcome,
    parsed: FeedData | None,
    options: RefreshOptions,
    stats: RefreshStats,
) -> None:
    now = datetime.now(UTC)
    stats.sources += 1
    try:
        retry_transient(
            lambda: _store_outcome_once(engine, snapshot, outcome, parsed, options, stats, now)
        )
    except Exception as exc:  # a storage failure on one source never stops the batch
        stats.errors += 1
        with session_scope(engine) as session:
            source = session.get(Source, snapshot.id)
            if source is not None:
                _record_error(
                    session,
                    source,
                    IngestError(f"storing failed: {type(exc).__name__}: {exc}"),
                    now,
                    code="storage_error",
                )


def _store_outcome_once(
    engine: Engine,
    snapshot: SourceSnapshot,
    outcome: Outcome,
    parsed: FeedData | None,
    options: RefreshOptions,
    stats: RefreshStats,
    now: datetime,
) -> None:
    """One transaction storing what a fetch brought (or the error it met); on SQLite
    it queues behind interactive writers (feedback) for the write lock."""
    with session_scope(engine, write=True) as session:
        source = session.get(Source, snapshot.id)
        if source is None:  # deleted while we fetched
            return
        if isinstance(outcome, IngestError):
            _record_error(session, source, outcome, now)
            stats.errors += 1
            return
        assert isinstance(outcome, FetchResult) and parsed is not None
        # a comment feed filed as a plain feed (OPML, the add form, the CLI, the API
        # without discovery) is recognised here, and its entries are comments at once
        became_comments = source.kind == "feed" and looks_like_comments(parsed, source.url)
        if became_comments:
            source.kind = "comments"
        if source.kind == "comments" and snapshot.kind != "comments":
            parsed = as_comments(parsed)
        # on a first fetch nothing stored is left to adopt: the entries go in as comments
        adopt = became_comments and item_store.has_items(session, source_id=snapshot.id)
        identity_ids = people_store.resolve_identities(
            session,
            user_id=source.user_id,
            evidence=(e.identity for e in parsed.entries),
            now=now,
        )
        counts = item_store.upsert_entries(
            session, source=source, entries=parsed.entries, identity_ids=identity_ids, now=now
        )
        if source.kind == "comments" and (adopt or threads.ADOPT_FLAG in (source.state or {})):
            threads.adopt_stored_comments(session, source=source, now=now, options=options.threads)
        threads.after_store(session, source=source, feed=parsed, now=now, options=options.threads)
        interval = posting_interval(
            (e.published for e in parsed.entries), now=now, fallback=options.interval
        )
        source.check_interval_seconds = int(interval.total_seconds())
        source_store.record_success(
            session,
            source=source,
            now=now,
            next_check_at=next_check_after_success(
                now,
                interval=interval,
                ttl_minutes=parsed.ttl_minutes,
                fresh_for_seconds=outcome.fresh_for_seconds,
                priority=options.priority(source.id) if options.priority and source.id else 1.0,
            ),
            etag=outcome.etag,
            last_modified=outcome.last_modified,
            title=parsed.title,
            site_url=parsed.link,
            new_url=outcome.permanent_url,
        )
    stats.new_items += counts.new
    stats.updated += counts.updated
    metrics.count_items(counts.new)


def _store_unchanged(
    engine: Engine,
    batch: list[tuple[SourceSnapshot, NotModified]],
    options: RefreshOptions,
    stats: RefreshStats,
) -> None:
    """Sources that answered 304: one bulk UPDATE for the whole batch."""
    now = datetime.now(UTC)
    rows = []
    for snapshot, outcome in batch:
        interval = timedelta(
            seconds=snapshot.check_interval_seconds or options.interval.total_seconds()
        )
        rows.append(
            source_store.success_values(
                source_id=snapshot.id,
                now=now,
                next_check_at=next_check_after_success(
                    now,
                    interval=interval,
                    fresh_for_seconds=outcome.fresh_for_seconds,
                    priority=options.priority(snapshot.id) if options.priority else 1.0,
                ),
                etag=outcome.etag,
                last_modified=outcome.last_modified,
            )
        )
    with session_scope(engine, write=True) as session:
        source_store.record_successes(session, rows=rows)
    stats.sources += len(batch)


def _record_error(
    session: Session, source: Source, error: IngestError, now: datetime, *, code: str | None = None
) -> None:
    retry_after = error.retry_after if isinstance(error, HTTPStatusError) else None
    gone = isinstance(error, HTTPStatusError) and error.status == 410
    # a Mastodon token that no longer works: pause (the token is kept) until fixed
    revoked = source.kind == "mastodon" and error.code == "auth_failed"
    metrics.count_error(code or error.code)
    source_store.record_failure(
        session,
        source=source,
        now=now,
        code=code or error.code,
        message=error.message,
        next_check_at=next_check_after_failure(
            now,
            error_count=(source.error_count or 0) + 1,
            jitter=random.random(),
            retry_after_seconds=retry_after,
        ),
        pause=gone or revoked,
    )
