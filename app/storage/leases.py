"""Leases on sources: the database decides what is due and who refreshes it.

The scheduler *claims* due sources in batches (``lease_owner = "queued:<batch>"``,
``lease_until = now + ttl``) and hands each batch to the task queue; the worker that
runs the batch *takes* the leases (``lease_owner = "<worker>:<batch>"``) before it
fetches anything, so a batch delivered twice is fetched once; when it is done it
*releases* them. A lease that runs out because its worker died or its task was lost
(Redis restarted) makes the source claimable again: nothing is lost, and since items
are upserted on ``(source_id, dedupe_key)`` a source fetched twice stores each entry
once. Per-host politeness is not decided here: the fetches themselves wait for their
host (:mod:`app.jobs.politeness`, shared through Redis), so the scheduler hands out every
due source at once, its batches mixing hosts so one busy host never holds the rest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from app.models import Source

QUEUED = "queued:"


def host_of(url: str) -> str:
    """The politeness key of a source URL: its host and port, lower-cased."""
    return urlsplit(url).netloc.lower()


def claim_due(
    session: Session,
    *,
    now: datetime,
    ttl: timedelta,
    batch: str,
    limit: int,
    per_host: int | None = None,
) -> list[int]:
    """Lease up to ``limit`` due, unpaused, unleased sources to ``batch``, oldest due
    first, taking the hosts in turn (one source of each host, then a second of each ...)
    so a batch mixes hosts; with ``per_host``, never more than that many in flight to
    one host (counting the leases other batches hold). Row locks are skipped on
    PostgreSQL, so two schedulers never claim one source."""
    in_flight: Counter[str] = Counter()
    if per_host is not None:
        in_flight.update(
            host_of(url)
            for url in session.exec(select(Source.url).where(col(Source.lease_until) > now)).all()
        )
    free = or_(col(Source.lease_until).is_(None), col(Source.lease_until) <= now)
    candidates = session.exec(
        select(Source.id, Source.url)
        .where(col(Source.paused).is_(False), col(Source.next_check_at) <= now, free)
        .order_by(col(Source.next_check_at), col(Source.id))
        .limit(max(limit, 1) * 4)
        .with_for_update(skip_locked=True, of=Source)  # type: ignore[arg-type]
    ).all()
    by_host: defaultdict[str, list[int]] = defaultdict(list)
    for source_id, url in candidates:
        host = host_of(url)
        if source_id is None or (per_host is not None and in_flight[host] >= per_host):
            continue
        in_flight[host] += 1
        by_host[host].append(source_id)
    queues = list(by_host.values())  # hosts in the order their oldest due source came
    chosen: list[int] = []
    turn = 0
    while queues and len(chosen) < limit:
        chosen.append(queues[turn].pop(0))
        if not queues[turn]:
            queues.pop(turn)
        else:
            turn += 1
        if turn >= len(queues):
            turn = 0
    if chosen:
        session.execute(
            update(Source)
            .where(col(Source.id).in_(chosen))
            .values(lease_owner=QUEUED + batch, lease_until=now + ttl)
        )
    return chosen


def take(
    session: Session,
    *,
    source_ids: Sequence[int],
    batch: str,
    worker: str,
    now: datetime,
    ttl: timedelta,
) -> list[int]:
    """The worker's side: take the batch's leases that are still queued for it and
    unexpired (a batch delivered twice, or after its leases ran out and were claimed
    again, finds nothing to take). Returns the ids it now holds."""
    if not source_ids:
        return []
    result = session.execute(
        update(Source)
        .where(
            col(Source.id).in_(list(source_ids)),
            Source.lease_owner == QUEUED + batch,
            col(Source.lease_until) > now,
        )
        .values(lease_owner=f"{worker}:{batch}", lease_until=now + ttl)
        .returning(Source.id)
    )
    return sorted(int(row[0]) for row in result)


def release(session: Session, *, owner: str, source_ids: Sequence[int] | None = None) -> int:
    """Give up leases held by ``owner`` (one batch's, or with ``source_ids=None`` and an
    owner ending in ``:``, every lease of a worker that is shutting down). A released
    source is due again as soon as its ``next_check_at`` says so."""
    if owner.endswith(":"):
        held = col(Source.lease_owner).startswith(owner, autoescape=True)
    else:
        held = Source.lease_owner == owner
    query = update(Source).where(held)
    if source_ids is not None:
        query = query.where(col(Source.id).in_(list(source_ids)))
    result = session.execute(query.values(lease_owner=None, lease_until=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def queued_batches(session: Session, *, now: datetime) -> int:
    """Batches claimed and not yet taken by a worker (waiting in the queue)."""
    return int(
        session.exec(
            select(func.count(func.distinct(Source.lease_owner))).where(
                col(Source.lease_owner).startswith(QUEUED), col(Source.lease_until) > now
            )
        ).one()
    )


def next_due(session: Session, *, now: datetime) -> datetime | None:
    """When the next unpaused source may fall due: the next check of one no one holds,
    or the end of a live lease (a dead worker's sources come back then). None: never."""
    free = or_(col(Source.lease_until).is_(None), col(Source.lease_until) <= now)
    unpaused = col(Source.paused).is_(False)
    check = session.exec(select(func.min(Source.next_check_at)).where(unpaused, free)).one()
    lease = session.exec(
        select(func.min(Source.lease_until)).where(unpaused, col(Source.lease_until) > now)
    ).one()
    found = [_aware(d) for d in (check, lease) if d is not None]
    return min(found) if found else None


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def counts(session: Session, *, now: datetime) -> tuple[int, int]:
    """(due and not leased, leased) sources: the scheduler's view for metrics."""
    free = or_(col(Source.lease_until).is_(None), col(Source.lease_until) <= now)
    due = session.exec(
        select(func.count())
        .select_from(Source)
        .where(and_(col(Source.paused).is_(False), col(Source.next_check_at) <= now, free))
    ).one()
    leased = session.exec(
        select(func.count()).select_from(Source).where(col(Source.lease_until) > now)
    ).one()
    return int(due), int(leased)
