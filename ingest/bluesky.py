"""Bluesky: a public profile through the AppView, or the user's own account through
its PDS with an app password. Plain XRPC over the guarded aiohttp session.

Streams (public: the author feed; own account: the home timeline, notifications, your
own posts, your likes) are read newest first by cursor down to the newest key seen
last time (``seen``); a stream cut short (rate limit, failure, the per-sync cap) keeps
where it stopped (``resume`` down to ``floor``), so the next sync fills the gap first.
Each stream fails on its own; the primary one (author feed / home timeline) decides
whether the source is in error.

The app password is sent only in ``createSession`` to the account's PDS (found from
its DID document); the session's JWTs go only to that same origin and live in a
cache the caller keeps in memory (``refreshSession`` on ``ExpiredToken``, one retry).
Rate limits: ``ratelimit-remaining/reset`` pace requests; a 429 stops the sync with
its reset time as ``retry_after``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from ingest import atproto_identity as ident
from ingest import bluesky_posts as posts
from ingest.errors import IngestError, ParseError
from ingest.fetch import FetchPolicy
from ingest.guard import check_url
from ingest.types import EntryData, InteractionData
from ingest.xrpc import Account, Page, RateLimited, Xrpc, walk

PAGE = 100
SHARED_HOSTS = (".bsky.social", ".bsky.team", ".brid.gy")  # handles that prove no domain
VERIFY_EVERY = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class BlueskyOptions:
    """Plain values for Bluesky syncs (built from settings by the app)."""

    appview: str = "https://public.api.bsky.app"
    identity: ident.IdentityOptions = field(default_factory=ident.IdentityOptions)
    backfill: int = 200  # posts per stream on a first sync (and per sync after)
    verify_per_sync: int = 10  # domain handles of other people checked per sync
    min_remaining: int = 5
    max_pause: float = 10.0


@dataclass(slots=True)
class BlueskyBatch:
    entries: list[EntryData] = field(default_factory=list)
    interactions: list[InteractionData] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    requests: int = 0
    retry_after: float | None = None
    title: str | None = None
    verified: dict[str, str] = field(default_factory=dict)  # did -> handle, both ways
    sites: dict[str, list[str]] = field(default_factory=dict)  # did -> hosts in profile
    stream_errors: dict[str, IngestError] = field(default_factory=dict)
    primary_error: IngestError | None = None


def _client(
    session: aiohttp.ClientSession, policy: FetchPolicy, base: str, opts: BlueskyOptions
) -> Xrpc:
    return Xrpc(session, policy, base, min_remaining=opts.min_remaining, max_pause=opts.max_pause)


def feed_key(item: dict[str, Any]) -> str:
    reason = item.get("reason") or {}
    if reason.get("$type") == posts.REPOST:
        return posts.sort_key(reason.get("indexedAt"))
    post = item.get("post") or {}
    keys = [
        k
        for k in (
            posts.sort_key(post.get("indexedAt")),
            posts.sort_key((post.get("record") or {}).get("createdAt")),
        )
        if k
    ]
    return min(keys) if keys else ""


def _pager(
    call: Callable[..., Awaitable[Any]], nsid: str, params: dict[str, Any], list_key: str
) -> Page:
    async def page(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        data = await call(nsid, dict(params, limit=PAGE, cursor=cursor))
        items = data.get(list_key) if isinstance(data, dict) else None
        items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
        nxt = data.get("cursor") if isinstance(data, dict) else None
        return items, str(nxt) if nxt else None

    return page


async def _stream(
    batch: BlueskyBatch,
    name: str,
    page: Page,
    key: Callable[[dict[str, Any]], str],
    cap: int,
) -> list[dict[str, Any]]:
    streams = batch.state.setdefault("streams", {})
    items, streams[name], error = await walk(page, key, streams.get(name) or {}, cap)
    if error is not None:
        batch.stream_errors[name] = error
        if isinstance(error, RateLimited):
            batch.retry_after = max(batch.retry_after or 0.0, error.retry_after or 0.0)
    return items


def _needs_check(state: dict[str, Any], did: str, handle: str, now: datetime) -> bool:
    seen = (state.get("handles") or {}).get(did)
    if not seen or seen.get("handle") != handle:
        return True
    checked = posts.when(seen.get("at"))
    return checked is None or now - checked > VERIFY_EVERY


async def _verify(
    session: aiohttp.ClientSession,
    policy: FetchPolicy,
    opts: BlueskyOptions,
    batch: BlueskyBatch,
    authors: dict[str, str],
    now: datetime,
    *,
    limit: int,
) -> None:
    """Check domain handles both ways (cached a week in the state); verified ones are
    the merge evidence for the blog on that domain."""
    handles = batch.state.setdefault("handles", {})
    for did, handle in list(authors.items()):
        if (
            limit <= 0
            or handle.endswith(SHARED_HOSTS)
            or not _needs_check(batch.state, did, handle, now)
        ):
            continue
        limit -= 1
        batch.requests += 2
        try:
            ok = await ident.verified_handle(session, policy, did, handle, opts.identity)
        except IngestError as exc:  # no answer, a refused address: not verified
            if exc.code not in ("handle_not_resolved", "destination_not_allowed", "not_found"):
                continue  # a passing failure (timeout, 5xx): asked again next sync
            ok = False
        handles[did] = {"handle": handle, "ok": ok, "at": now.isoformat()}
    for did, seen in handles.items():
        if seen.get("ok") and did in authors and authors[did] == seen.get("handle"):
            batch.verified[did] = str(seen["handle"])


async def sync_public(
    session: aiohttp.ClientSession,
    policy: FetchPolicy,
    opts: BlueskyOptions,
    *,
    actor: str,
    state: dict[str, Any],
    now: datetime,
) -> BlueskyBatch:
    """A public profile: getProfile, then getAuthorFeed since the cursor."""
    batch = BlueskyBatch(state=dict(state))
    appview = _client(session, policy, opts.appview, opts)
    try:
        profile = await appview.call(
            "app.bsky.actor.getProfile", {"actor": state.get("did") or actor}
        )
        did = str(profile.get("did") or "").lower()
        if not ident.is_did(did):
            raise ParseError("the profile has no DID", url=opts.appview)
        batch.state.update(did=did, handle=profile.get("handle"))
        batch.title = posts.identity(profile).display_name
        batch.sites[did] = posts.profile_sites(profile)
        feed = await _stream(
            batch,
            "author_feed",
            _pager(appview.call, "app.bsky.feed.getAuthorFeed", {"actor": did}, "feed"),
            feed_key,
            opts.backfill,
        )
        batch.entries = [e for item in feed if (e := posts.post_entry(item))]
        handle = str(profile.get("handle") or "")
        await _verify(session, policy, opts, batch, {did: handle}, now, limit=1)
    except RateLimited as exc:
        batch.retry_after = exc.retry_after
    except IngestError as exc:
        batch.primary_error = exc
    batch.primary_error = batch.primary_error or batch.stream_errors.pop("author_feed", None)
    if isinstance(batch.primary_error, RateLimited):
        batch.primary_error = None
    batch.requests += appview.requests
    return batch


async def locate_pds(
    session: aiohttp.ClientSession, policy: FetchPolicy, opts: BlueskyOptions, actor: str
) -> tuple[str, str]:
    """(DID, PDS endpoint) of an account, from its handle (or DID) and DID document."""
    did = (
        actor
        if ident.is_did(actor)
        else await ident.resolve_handle(session, policy, actor, opts.identity)
    )
    doc = await ident.did_document(session, policy, did, opts.identity)
    if doc.pds is None:
        raise ParseError(f"the DID document of {did} names no PDS", url=did)
    check_url(doc.pds, policy.guard)
    return did, doc.pds


async def sync_account(
    session: aiohttp.ClientSession,
    policy: FetchPolicy,
    opts: BlueskyOptions,
    *,
    actor: str,
    password: str,
    state: dict[str, Any],
    cache: dict[str, Any],
    now: datetime,
) -> BlueskyBatch:
    """Your own account: home timeline (primary), notifications, your posts, your likes."""
    batch = BlueskyBatch(state=dict(state))
    pds: Xrpc | None = None
    try:
        if not cache.get("pds"):
            cache["did"], cache["pds"] = await locate_pds(session, policy, opts, actor)
            batch.requests += 2
        pds = _client(session, policy, cache["pds"], opts)
        account = Account(pds, cache["did"], password, cache.setdefault("session", {}))
        if not account.cache.get("access"):
            await account.login()
        me = account.did
        batch.state.update(did=me, handle=account.cache.get("handle"), pds=pds.base)
        batch.title = str(account.cache.get("handle") or me)
        timeline = await _stream(
            batch,
            "timeline",
            _pager(account.call, "app.bsky.feed.getTimeline", {}, "feed"),
            feed_key,
            opts.backfill,
        )
        batch.entries = [e for item in timeline if (e := posts.post_entry(item))]
        streams: list[tuple[str, Page, Callable[[dict[str, Any]], str]]] = [
            (
                "notifications",
                _pager(
                    account.call, "app.bsky.notification.listNotifications", {}, "notifications"
                ),
                lambda n: posts.sort_key(n.get("indexedAt")),
            ),
            (
                "own",
                _pager(account.call, "app.bsky.feed.getAuthorFeed", {"actor": me}, "feed"),
                feed_key,
            ),
            (
                "likes",
                _pager(
                    account.call,
                    "com.atproto.repo.listRecords",
                    {"repo": me, "collection": "app.bsky.feed.like"},
                    "records",
                ),
                lambda r: (posts.split_uri(str(r.get("uri") or "")) or ("", "", ""))[2],
            ),
        ]
        found: dict[str, list[dict[str, Any]]] = {}
        for name, page, key in streams:
            if batch.retry_after is not None:
                break  # rate limited: the other streams wait for the next sync, cursors kept
            found[name] = await _stream(batch, name, page, key, opts.backfill)
        for n in found.get("notifications", []):
            if (i := posts.notification_interaction(n)) is not None:
                batch.interactions.append(i)
        for item in found.get("own", []):
            batch.interactions.extend(posts.own_post_interactions(item, me=me))
        likes = found.get("likes", [])
        profiles = await _profiles(account, batch, likes)
        batch.interactions.extend(
            i for r in likes if (i := posts.like_interaction(r, me=me, profiles=profiles))
        )
        authors = {
            e.identity.value: h
            for item in timeline
            if (h := _handle_of(item))
            for e in [posts.post_entry(item)]
            if e
        }
        await _verify(session, policy, opts, batch, authors, now, limit=opts.verify_per_sync)
    except RateLimited as exc:
        batch.retry_after = exc.retry_after
    except IngestError as exc:
        batch.primary_error = exc
        if exc.code == "auth_failed" or exc.code == "destination_not_allowed":
            cache.clear()
    batch.primary_error = batch.primary_error or batch.stream_errors.pop("timeline", None)
    if isinstance(batch.primary_error, RateLimited):
        batch.primary_error = None
    batch.requests += pds.requests if pds else 0
    return batch


def _handle_of(item: dict[str, Any]) -> str | None:
    handle = ((item.get("post") or {}).get("author") or {}).get("handle")
    return ident.normalize_handle(handle) if isinstance(handle, str) else None


async def _profiles(
    account: Account, batch: BlueskyBatch, likes: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Names for the authors of liked posts (getProfiles, 25 at a time)."""
    dids = sorted(
        {
            s[0]
            for r in likes
            if (
                s := posts.split_uri(
                    str((r.get("value") or {}).get("subject", {}).get("uri") or "")
                )
            )
        }
    )
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(dids), 25):
        try:
            data = await account.call(
                "app.bsky.actor.getProfiles", {"actors": dids[start : start + 25]}
            )
        except IngestError as exc:
            batch.stream_errors.setdefault("likes", exc)
            break
        for p in data.get("profiles") or () if isinstance(data, dict) else ():
            if isinstance(p, dict) and p.get("did"):
                out[str(p["did"]).lower()] = p
    return out


async def sync(
    session: aiohttp.ClientSession,
    policy: FetchPolicy,
    opts: BlueskyOptions,
    *,
    url: str,
    password: str | None,
    state: dict[str, Any],
    cache: dict[str, Any],
    now: datetime,
) -> BlueskyBatch:
    """Sync one Bluesky source: a profile (public) or, with an app password, your own
    account. Errors come back in the batch, never raised."""
    actor = ident.parse_actor(url)
    if actor is None:
        return BlueskyBatch(
            state=dict(state), primary_error=IngestError(f"not a Bluesky profile: {url}", url=url)
        )
    if password:
        return await sync_account(
            session, policy, opts, actor=actor, password=password, state=state, cache=cache, now=now
        )
    return await sync_public(session, policy, opts, actor=actor, state=state, now=now)
