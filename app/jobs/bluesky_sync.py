"""The Bluesky step of the refresh job: sync (ingest.bluesky) -> store, as a script.

load source (the refresh job's snapshot) -> sync every stream (ingest, on the event
loop) -> store entries, interactions, cursors in one transaction -> merge an account
whose domain handle is verified both ways with the blog on that domain -> record the
profile's website links for merge suggestions -> schedule the next check.

A secondary stream that failed (notifications, own posts, likes) is named in the
source's ``error_message`` (its ``error_code`` stays empty: the source works); only a
failing primary stream (author feed / home timeline) puts the source in error. The
PDS session lives in this process's memory (``SESSIONS``), never in the database.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app import metrics
from app.db import retry_transient, session_scope
from app.models import Identity, Source
from app.storage import items as item_store
from app.storage import people as people_store
from app.storage import sources as source_store
from ingest import bluesky
from ingest.bluesky import BlueskyBatch
from ingest.schedule import next_check_after_success, posting_interval

if TYPE_CHECKING:
    from app.jobs.refresh import RefreshOptions, RefreshStats, SourceSnapshot

# the PDS session (JWTs) and where the PDS is, per source: memory only, per process
SESSIONS: dict[str, dict[str, Any]] = {}
SITE_KIND = "bsky_site"  # value "host|did": a site a Bluesky profile links to


async def sync_source(client: object, s: SourceSnapshot, options: RefreshOptions) -> BlueskyBatch:
    started = time.perf_counter()
    synced = await bluesky.sync(
        client,  # type: ignore[arg-type]
        options.policy,
        options.bluesky,
        url=s.url,
        password=s.access_token,
        state=s.state,
        cache=SESSIONS.setdefault(_session_key(s, options), {}),
        now=datetime.now(UTC),
    )
    label = "error" if synced.primary_error is not None else "ok"
    metrics.observe_fetch(s.kind, label, time.perf_counter() - started)
    return synced


def _session_key(s: SourceSnapshot, options: RefreshOptions) -> str:
    """Another password, handle or directory is another session (a reused source id too)."""
    parts = (str(s.id), s.url, s.access_token or "", options.bluesky.identity.plc_url)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def store(
    engine: Engine,
    snapshot: SourceSnapshot,
    synced: BlueskyBatch,
    options: RefreshOptions,
    stats: RefreshStats,
) -> None:
    """Everything one sync brought, in one transaction (run again on a transient error)."""
    stats.sources += 1
    retry_transient(lambda: _store_once(engine, snapshot, synced, options, stats))


def _store_once(
    engine: Engine,
    snapshot: SourceSnapshot,
    synced: BlueskyBatch,
    options: RefreshOptions,
    stats: RefreshStats,
) -> None:
    from app.jobs.refresh import _record_error

    now = datetime.now(UTC)
    with session_scope(engine, write=True) as session:
        source = session.get(Source, snapshot.id)
        if source is None:
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
        _identities(session, user_id=source.user_id, synced=synced, now=now)
        source.state = dict(synced.state, stream_errors=_stream_errors(synced, now))
        if synced.primary_error is not None:
            _record_error(session, source, synced.primary_error, now)
            if synced.primary_error.code == "auth_failed" and source.access_token:
                source.paused = True  # a revoked app password: paused (kept) until fixed
            stats.errors += 1
        else:
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
                title=synced.title,
            )
            if synced.stream_errors:
                source.error_message = "; ".join(
                    f"{name} failed ({e.code}): {e.message}"
                    for name, e in sorted(synced.stream_errors.items())
                )[:1000]
        session.add(source)
    stats.new_items += counts.new
    stats.updated += counts.updated
    metrics.count_items(counts.new)


def _stream_errors(synced: BlueskyBatch, now: datetime) -> dict[str, dict[str, str]]:
    return {
        name: {"code": e.code, "message": e.message[:300], "at": now.isoformat()}
        for name, e in synced.stream_errors.items()
    }


def _identities(session: Session, *, user_id: int, synced: BlueskyBatch, now: datetime) -> None:
    """Verified domain handles merge with the blog there; profile links become sites."""
    dids = set(synced.verified) | set(synced.sites)
    if not dids:
        return
    rows = session.exec(
        select(Identity).where(
            Identity.user_id == user_id, Identity.kind == "bsky", col(Identity.value).in_(dids)
        )
    ).all()
    by_did = {i.value: i for i in rows}
    for did, hosts in synced.sites.items():
        account = by_did.get(did)
        if account is None:
            continue
        known = {
            i.value
            for i in session.exec(
                select(Identity).where(
                    Identity.user_id == user_id,
                    Identity.kind == SITE_KIND,
                    col(Identity.value).in_([f"{h}|{did}" for h in hosts]),
                )
            ).all()
        }
        for host in hosts:
            if f"{host}|{did}" not in known:
                session.add(
                    Identity(
                        user_id=user_id,
                        person_id=account.person_id,
                        kind=SITE_KIND,
                        value=f"{host}|{did}",
                        display_name=account.display_name,
                    )
                )
    session.flush()
    for did, handle in synced.verified.items():
        account = by_did.get(did)
        if account is None:
            continue
        for person_id in _people_on_domain(session, user_id=user_id, host=handle):
            current = session.get(Identity, account.id)
            if current is None or person_id == current.person_id:
                continue
            people_store.merge_people(
                session, user_id=user_id, keep_id=person_id, other_id=current.person_id
            )


def _people_on_domain(session: Session, *, user_id: int, host: str) -> list[int]:
    """People with a blog identity (URL or feed author) on ``host`` or ``www.host``."""
    hosts = {host, f"www.{host}"}
    found: list[int] = []
    for ident in session.exec(
        select(Identity).where(
            Identity.user_id == user_id,
            col(Identity.kind).in_(["url", "feed_author"]),
            col(Identity.value).contains(host),
        )
    ).all():
        where = (
            urlsplit(ident.value).hostname or ""
            if ident.kind == "url"
            else ident.value.split("|", 1)[0]
        )
        if where.lower() in hosts and ident.person_id not in found:
            found.append(ident.person_id)
    return found if len(found) == 1 else []  # two people there: proof of neither
