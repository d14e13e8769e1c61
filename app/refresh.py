"""The refresh job: one orchestrator that reads as a script of steps (Miniflux's RefreshFeed).

load due sources -> fetch (ingest) -> parse (ingest) -> decide new/changed -> store
-> resolve people -> schedule the next check. A failure is recorded on its source and
never stops the batch; each source is stored in its own transaction, so a crash
mid-fetch leaves the previous state intact.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.db import session_scope
from app.models import Source
from app.storage import items as item_store
from app.storage import people as people_store
from app.storage import sources as source_store
from ingest.errors import HTTPStatusError, IngestError
from ingest.fetch import FetchPolicy, fetch, make_client
from ingest.parse import parse_feed
from ingest.schedule import next_check_after_failure, next_check_after_success
from ingest.types import FetchResult, NotModified

BATCH = 100


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """What the fetch step needs, read before any network I/O (no session held open)."""

    id: int
    url: str
    kind: str
    etag: str | None
    last_modified: str | None


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
    interval: timedelta = timedelta(hours=1)
    concurrency: int = 10


def refresh_due(
    engine: Engine,
    options: RefreshOptions,
    *,
    include_all: bool = False,
    source_ids: list[int] | None = None,
) -> RefreshStats:
    """Refresh every due source (or all, or the given ones) once; returns the counts."""
    started = time.monotonic()
    stats = RefreshStats()
    if source_ids is None:
        with session_scope(engine) as session:
            source_ids = source_store.due_source_ids(
                session, now=datetime.now(UTC), include_all=include_all
            )
    for start in range(0, len(source_ids), BATCH):
        snapshots = _load(engine, source_ids[start : start + BATCH])
        outcomes = asyncio.run(_fetch_all(snapshots, options))
        for snapshot, outcome in zip(snapshots, outcomes, strict=True):
            _store_outcome(engine, snapshot, outcome, options, stats)
    stats.seconds = time.monotonic() - started
    return stats


def _load(engine: Engine, ids: list[int]) -> list[SourceSnapshot]:
    with session_scope(engine) as session:
        out = []
        for source_id in ids:
            s = session.get(Source, source_id)
            if s is not None and s.id is not None:
                out.append(SourceSnapshot(s.id, s.url, s.kind, s.etag, s.last_modified))
        return out


async def _fetch_all(
    snapshots: list[SourceSnapshot], options: RefreshOptions
) -> list[FetchResult | NotModified | IngestError]:
    semaphore = asyncio.Semaphore(max(options.concurrency, 1))
    async with make_client(options.policy) as client:

        async def one(s: SourceSnapshot) -> FetchResult | NotModified | IngestError:
            async with semaphore:
                try:
                    return await fetch(
                        client, s.url, options.policy, etag=s.etag, last_modified=s.last_modified
                    )
                except IngestError as exc:
                    return exc

        return list(await asyncio.gather(*(one(s) for s in snapshots)))


def _store_outcome(
    engine: Engine,
    snapshot: SourceSnapshot,
    outcome: FetchResult | NotModified | IngestError,
    options: RefreshOptions,
    stats: RefreshStats,
) -> None:
    now = datetime.now(UTC)
    stats.sources += 1
    parsed = None
    if isinstance(outcome, FetchResult):
        try:
            parsed = parse_feed(
                outcome.content,
                url=outcome.url,
                content_type=outcome.content_type,
                comments=snapshot.kind == "comments",
            )
        except IngestError as exc:
            outcome = exc
    try:
        with session_scope(engine) as session:
            source = session.get(Source, snapshot.id)
            if source is None:  # deleted while we fetched
                return
            if isinstance(outcome, IngestError):
                _record_error(session, source, outcome, now)
                stats.errors += 1
                return
            if isinstance(outcome, NotModified):
                source_store.record_success(
                    session,
                    source=source,
                    now=now,
                    next_check_at=next_check_after_success(now, interval=options.interval),
                    etag=outcome.etag,
                    last_modified=outcome.last_modified,
                )
                return
            assert parsed is not None
            identity_ids = people_store.resolve_identities(
                session, user_id=source.user_id, evidence=(e.identity for e in parsed.entries)
            )
            counts = item_store.upsert_entries(
                session, source=source, entries=parsed.entries, identity_ids=identity_ids, now=now
            )
            source_store.record_success(
                session,
                source=source,
                now=now,
                next_check_at=next_check_after_success(
                    now, interval=options.interval, ttl_minutes=parsed.ttl_minutes
                ),
                etag=outcome.etag,
                last_modified=outcome.last_modified,
                title=parsed.title,
                site_url=parsed.link,
                new_url=outcome.permanent_url,
            )
        stats.new_items += counts.new
        stats.updated += counts.updated
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


def _record_error(
    session: Session, source: Source, error: IngestError, now: datetime, *, code: str | None = None
) -> None:
    retry_after = error.retry_after if isinstance(error, HTTPStatusError) else None
    gone = isinstance(error, HTTPStatusError) and error.status == 410
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
        pause=gone,
    )
