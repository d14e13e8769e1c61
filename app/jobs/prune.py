"""Retention: age out old items, a small batch per transaction, tombstoned so a re-fetch
never brings them back; once a day from the scheduler, or ``kith prune``.

Steps: cutoffs (pure) -> measure the database -> per user, delete a batch of prunable
items and write their tombstones, commit, pause (so the API's writers get the database
between batches; SQLite has one writer) -> measure again -> report.

What stays is decided in :mod:`app.storage.retention`: saved items, thread posts, and
the items the ranker needs. ``kith train`` replays every feedback row from scratch, and
a deleted item takes its feedback with it (cascade). So an item with any feedback but
``seen`` stays, and so does one with feedback not learned from yet. A ``seen``
impression keeps its item for six of the ranker's memory half-lives: older, it weighs
less than 1/64 in the replayed affinity, and dropping it changes the replay by less
than that.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from app.db import retry_transient, session_scope
from app.errors import NotFound
from app.storage import retention as store
from app.storage.retention import Cursor, Cutoffs
from ranking.model import Ranker

log = logging.getLogger("kith.prune")

JOB = "prune"
BATCH = 2000  # items per transaction
PAUSE_SECONDS = 0.02  # between batches: writers waiting on SQLite's lock get their turn
SEEN_HALF_LIVES = 6


def cutoffs(now: datetime, days: int, *, memory_half_life_days: float | None = None) -> Cutoffs:
    """Items published more than ``days`` ago may go; ``seen`` impressions keep their
    item for at least six memory half-lives of the ranker (360 days by default)."""
    half_life = memory_half_life_days or Ranker().memory_half_life_days
    seen_days = max(float(days), SEEN_HALF_LIVES * half_life)
    return Cutoffs(items=now - timedelta(days=days), seen=now - timedelta(days=seen_days))


@dataclass
class PruneReport:
    days: int
    dry_run: bool
    users: int = 0
    items: int = 0  # deleted (or, dry run, that would be)
    tombstones: int = 0
    kept_old: int = 0  # items older than the cutoff that stay
    batches: int = 0
    seconds: float = 0.0
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)

    def reclaimed(self) -> str:
        """What the deletions freed, in words (nothing is given back to the OS at once)."""
        if "free" in self.before:
            freed = self.after.get("free", 0) - self.before.get("free", 0)
            return (
                f"file_bytes={self.after.get('file', 0)} freed_pages_bytes={max(freed, 0)} "
                "(free pages are reused by new rows; VACUUM shrinks the file)"
            )
        return (
            f"table_bytes_before={self.before.get('tables', 0)} "
            f"table_bytes_after={self.after.get('tables', 0)} "
            "(PostgreSQL reclaims the space for reuse at the next (auto)vacuum)"
        )

    def line(self) -> str:
        verb = "would_delete" if self.dry_run else "items"
        return (
            f"users={self.users} {verb}={self.items} tombstones={self.tombstones} "
            f"kept_old={self.kept_old} batches={self.batches} seconds={self.seconds:.2f} "
            + self.reclaimed()
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def prune(
    engine: Engine,
    *,
    days: int,
    now: datetime,
    user_name: str | None = None,
    dry_run: bool = False,
    batch: int = BATCH,
    pause: float = PAUSE_SECONDS,
    stop: threading.Event | None = None,
) -> PruneReport:
    """Age out items published more than ``days`` ago (every user's, or one's)."""
    started = time.monotonic()
    cut = cutoffs(now, days)
    report = PruneReport(days=days, dry_run=dry_run)
    with session_scope(engine) as session:
        users = store.user_ids(session, name=user_name)
        report.before = store.database_bytes(session)
    if user_name is not None and not users:
        raise NotFound(f"no user named {user_name!r}")
    report.users = len(users)
    for user_id in users:
        if dry_run:
            with session_scope(engine) as session:
                report.items += store.count_prunable(session, user_id=user_id, cut=cut)
                report.kept_old += store.count_old(session, user_id=user_id, cut=cut)
            continue
        cursor: Cursor | None = None
        while stop is None or not stop.is_set():

            def one_batch(
                after: Cursor | None = cursor, uid: int = user_id
            ) -> tuple[int, int, Cursor | None]:
                with session_scope(engine) as session:
                    return store.prune_batch(
                        session, user_id=uid, cut=cut, after=after, limit=batch, now=now
                    )

            deleted, written, cursor = retry_transient(one_batch)
            report.items += deleted
            report.tombstones += written
            report.batches += 1 if deleted else 0
            if cursor is None:
                break
            if pause:
                time.sleep(pause)
        with session_scope(engine) as session:
            report.kept_old += store.count_old(session, user_id=user_id, cut=cut)
    if dry_run:
        report.kept_old -= report.items
    with session_scope(engine) as session:
        report.after = store.database_bytes(session)
    report.seconds = time.monotonic() - started
    return report


def run_daily(
    engine: Engine,
    *,
    days: int,
    now: datetime,
    owner: str,
    stop: threading.Event | None = None,
) -> PruneReport | None:
    """The scheduler's daily prune: runs when this process claims today's row (UTC),
    else returns None at once (another process, or an earlier tick, ran it today)."""
    if days <= 0:
        return None
    with session_scope(engine) as session:
        run_id = store.claim_day(
            session, name=JOB, day=now.date().isoformat(), owner=owner, now=now
        )
    if run_id is None:
        return None
    report = prune(engine, days=days, now=now, stop=stop)
    with session_scope(engine) as session:
        store.finish_run(
            session, run_id=run_id, result=report.as_dict(), now=datetime.now(now.tzinfo)
        )
    log.info("daily prune: %s", report.line())
    return report


class DailyPrune:
    """The scheduler's handle on the daily prune: :meth:`kick` on every tick starts a run
    in a worker thread on the first tick of each UTC day (the claim in the database
    decides which process runs it); :meth:`close` asks a running prune to stop between
    batches and waits for it."""

    def __init__(self, engine: Engine, *, days: int, owner: str) -> None:
        self.engine, self.days, self.owner = engine, days, owner
        self.day: str | None = None
        self.task: asyncio.Task[PruneReport | None] | None = None
        self.stop = threading.Event()

    def kick(self, now: datetime) -> None:
        today = now.date().isoformat()
        if self.days <= 0 or today == self.day or (self.task and not self.task.done()):
            return
        self.day = today
        self.task = asyncio.create_task(asyncio.to_thread(self._run, now))

    def _run(self, now: datetime) -> PruneReport | None:
        try:
            return run_daily(self.engine, days=self.days, now=now, owner=self.owner, stop=self.stop)
        except Exception:  # the scheduler outlives a failed prune; tomorrow tries again
            log.exception("daily prune failed")
            return None

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task
