"""Mastodon: a public account without a token, or the user's own account with one.

Sync is gap-free: the first sync reads newest-first pages down to a backfill cap
(``Link: next``); later syncs re-read the newest pages (the reconciliation window) and,
when those do not reach the stored cursor, ask for what is newer with ``min_id`` and
walk ``Link: prev`` until a short page. The re-read catches edits and deletions: a
status seen in the window last time and missing now is looked up by id, and a 404 makes
it a deletion. Each stream of an account (home, notifications, own statuses,
favourites, relationships) fails on its own: its error is kept in the state (with the
scope the token lacks, when the instance says so) and the others are stored; only the
primary stream (home; a public profile's statuses) fails the sync.

The HTTP client lives in :mod:`ingest.mastodon_api`, the entity mapping in
:mod:`ingest.mastodon_entities`; both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp

from ingest.discover import mastodon_account
from ingest.errors import HTTPStatusError, IngestError
from ingest.fetch import FetchPolicy, fetch
from ingest.mastodon_api import (  # noqa: F401 - public names of ingest.mastodon
    MAX_JSON_BYTES,
    PAGE,
    WRITE_SCOPES,
    InstanceError,
    MastodonAPI,
    PostedStatus,
    RateLimited,
    TokenScopes,
    _id_key,
    collect,
    origin,
    post_status,
    resolve_status,
    token_scopes,
)
from ingest.mastodon_entities import (  # noqa: F401 - public names of ingest.mastodon
    Relationship,
    _when,
    account_identity,
    accounts_in,
    favourite_interaction,
    full_acct,
    notification_interaction,
    own_status_interactions,
    relationship_of,
    status_entry,
    verified_links,
)
from ingest.mastodon_window import (  # noqa: F401 - public names of ingest.mastodon
    StreamRead,
    deletion_candidates,
    entry_key,
    read_stream,
    reconcile,
)
from ingest.parse import parse_feed
from ingest.types import EntryData, FetchResult, InteractionData

T = TypeVar("T")

# the scope each stream needs (Mastodon's granular scopes; "read" covers them all)
STREAM_SCOPES = {
    "home": "read:statuses",
    "statuses": "read:statuses",
    "notifications": "read:notifications",
    "own_statuses": "read:statuses",
    "favourites": "read:favourites",
    "relationships": "read:follows",
    "endorsements": "read:accounts",
}
OUT_OF_SCOPE = "outside the authorized scopes"
RELATIONSHIPS_CAP = 80  # accounts asked about per sync (two requests)
ENDORSEMENT_PAGES = 5
ENDORSEMENTS_EVERY = timedelta(days=1)


@dataclass(slots=True)
class MastodonBatch:
    """What one sync brought: entries, interactions, and the state to store; deletions
    found by the re-read (``gone``: dedupe keys), relationship flags by full acct,
    the featured accounts (``endorsed``, None when not read this time) and verified
    profile links by full acct."""

    entries: list[EntryData] = field(default_factory=list)
    interactions: list[InteractionData] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    requests: int = 0
    # set when a rate limit stopped the sync early: check again after this many seconds
    retry_after: float | None = None
    gone: list[str] = field(default_factory=list)
    relationships: dict[str, Relationship] = field(default_factory=dict)
    endorsed: frozenset[str] | None = None
    verified: dict[str, tuple[str, ...]] = field(default_factory=dict)


def stream_error(name: str, exc: IngestError) -> dict[str, str]:
    """What the source shows for a failed stream: a stable code and words that name the
    missing scope when the instance says the token lacks one."""
    detail = getattr(exc, "detail", "") or exc.message
    scope = STREAM_SCOPES.get(name, "read")
    if isinstance(exc, HTTPStatusError) and exc.status == 403 and OUT_OF_SCOPE in detail:
        return {
            "code": "scope_missing",
            "message": f"{name.replace('_', ' ')} needs the {scope} scope "
            f"(the instance said: {detail})",
            "scope": scope,
        }
    return {"code": exc.code, "message": f"{name.replace('_', ' ')}: {exc.message}"}


async def _stream(batch: MastodonBatch, name: str, call: Awaitable[T]) -> T | None:
    """Run one optional stream; its failure is recorded on the batch, not raised (a rate
    limit still stops the whole sync, so nothing is skipped)."""
    errors = batch.state.setdefault("stream_errors", {})
    try:
        result = await call
    except RateLimited:
        raise
    except IngestError as exc:
        errors[name] = stream_error(name, exc)
        return None
    errors.pop(name, None)
    return result


def _primary_error(name: str, exc: IngestError) -> IngestError:
    """A failed primary stream fails the sync; a missing scope is named (the code stays
    ``auth_failed``, so the source pauses until the token is fixed)."""
    if isinstance(exc, InstanceError) and exc.status == 403 and OUT_OF_SCOPE in exc.detail:
        err = stream_error(name, exc)
        return InstanceError(
            "the token may not read the " + err["message"],
            url=exc.url or "",
            status=403,
            detail=exc.detail,
        )
    return exc


# --- the two kinds of sync -------------------------------------------------------------


def _verified(
    batch: MastodonBatch, statuses: list[dict[str, Any]], notes: list[dict[str, Any]]
) -> None:
    for acct, account in accounts_in(statuses, notes).items():
        if links := verified_links(account):
            batch.verified[acct] = links


async def sync_public(
    api: MastodonAPI, *, username: str, state: dict[str, Any], backfill: int, now: datetime
) -> MastodonBatch:
    """A public account: lookup once, then its statuses since the cursor."""
    batch = MastodonBatch(state=dict(state))
    account_id = state.get("account_id")
    if not account_id:
        account, _ = await api.get("/api/v1/accounts/lookup", {"acct": username})
        account_id = str(account.get("id"))
        batch.state["account_id"] = account_id
    read = await read_stream(
        api,
        f"/api/v1/accounts/{account_id}/statuses",
        cursor=state.get("statuses_min_id"),
        cap=backfill,
        now=now,
    )
    batch.entries = [status_entry(s, instance=api.instance) for s in read.statuses]
    batch.state["statuses_min_id"] = read.newest
    gone, batch.state["statuses_recent"] = await reconcile(api, state.get("statuses_recent"), read)
    batch.gone.extend(gone)
    _verified(batch, read.statuses, [])
    return batch


async def sync_account(
    api: MastodonAPI, *, state: dict[str, Any], backfill: int, now: datetime
) -> MastodonBatch:
    """Your own account: home timeline, notifications, your statuses, your favourites,
    and your relationships with the accounts seen."""
    batch = MastodonBatch(state=dict(state))
    batch.state["stream_errors"] = dict(state.get("stream_errors") or {})
    me = state.get("me_id")
    if not me:
        account, _ = await api.get("/api/v1/accounts/verify_credentials")
        me = str(account.get("id"))
        batch.state["me_id"] = me
        batch.state["me_acct"] = full_acct(account)
    # what the token may do, checked again on every sync (a token can be re-scoped)
    try:
        batch.state.update((await token_scopes(api)).state())
    except RateLimited:
        raise
    except IngestError:
        pass  # the scopes stay as last seen; the sync goes on
    try:
        home = await read_stream(
            api, "/api/v1/timelines/home", cursor=state.get("home_min_id"), cap=backfill, now=now
        )
    except RateLimited:
        raise
    except IngestError as exc:
        raise _primary_error("home", exc) from exc
    batch.state["stream_errors"].pop("home", None)
    batch.entries = [status_entry(s, instance=api.instance) for s in home.statuses]
    batch.state["home_min_id"] = home.newest
    gone, batch.state["home_recent"] = await reconcile(api, state.get("home_recent"), home)
    batch.gone.extend(gone)
    notes_path, own_path = "/api/v1/notifications", f"/api/v1/accounts/{me}/statuses"
    notes_read = await _stream(
        batch,
        "notifications",
        collect(api, notes_path, min_id=state.get("notifications_min_id"), cap=backfill),
    )
    notes = notes_read[0] if notes_read else []
    if notes_read:
        batch.state["notifications_min_id"] = notes_read[1]
    batch.interactions = [
        i for n in notes if (i := notification_interaction(n, instance=api.instance, me=me))
    ]
    own = await _stream(
        batch, "own_statuses", collect(api, own_path, min_id=state.get("own_min_id"), cap=backfill)
    )
    if own:
        batch.state["own_min_id"] = own[1]
        for s in own[0]:
            batch.interactions.extend(own_status_interactions(s, instance=api.instance, me=me))
    favourites = await _stream(batch, "favourites", api.get("/api/v1/favourites", {"limit": PAGE}))
    for s in (favourites[0] if favourites else None) or ():
        if i := favourite_interaction(s, instance=api.instance, me=me):
            batch.interactions.append(i)
    seen = accounts_in(home.statuses, notes)
    seen.pop(str(batch.state.get("me_acct") or ""), None)
    await _relationships(api, batch, seen, now=now)
    _verified(batch, home.statuses, notes)
    return batch


async def _relationships(
    api: MastodonAPI,
    batch: MastodonBatch,
    accounts: dict[str, dict[str, Any]],
    *,
    now: datetime,
) -> None:
    """Flags of the accounts seen (``/accounts/relationships``) and, once a day, the
    featured accounts (``/endorsements``)."""
    by_id = {str(a["id"]): acct for acct, a in list(accounts.items())[:RELATIONSHIPS_CAP]}
    ids = list(by_id)
    for start in range(0, len(ids), 40):
        chunk = ids[start : start + 40]
        got = await _stream(
            batch, "relationships", api.get("/api/v1/accounts/relationships", {"id[]": chunk})
        )
        if got is None:
            break
        for r in got[0] if isinstance(got[0], list) else ():
            if isinstance(r, dict) and str(r.get("id")) in by_id:
                batch.relationships[by_id[str(r.get("id"))]] = relationship_of(r)
    last = _when(batch.state.get("endorsements_at"))
    if last is not None and now - last < ENDORSEMENTS_EVERY:
        return
    featured: set[str] = set()
    got = await _stream(batch, "endorsements", api.get("/api/v1/endorsements", {"limit": PAGE}))
    pages = 0
    while got is not None and isinstance(got[0], list) and got[0]:
        featured.update(full_acct(a) for a in got[0] if isinstance(a, dict))
        pages += 1
        follow = got[1].get("next")
        if pages >= ENDORSEMENT_PAGES or not follow or not api.same_origin(follow):
            break
        got = await _stream(batch, "endorsements", api.get(follow))
    if got is not None and "endorsements" not in batch.state["stream_errors"]:
        batch.endorsed = frozenset(featured)
        batch.state["endorsements_at"] = now.isoformat()


async def sync(
    session: aiohttp.ClientSession,
    policy: FetchPolicy,
    *,
    url: str,
    token: str | None,
    state: dict[str, Any],
    backfill: int = 200,
    now: datetime | None = None,
) -> MastodonBatch:
    """Sync one Mastodon source: ``url`` is a profile (``https://host/@name``) without a
    token, or the instance (``https://host``) with one. A public profile whose API is
    closed falls back to its ``.rss`` feed."""
    from datetime import UTC

    now = now or datetime.now(UTC)
    account = mastodon_account(url)
    parts = urlsplit(url)
    instance = account.instance if account else f"{parts.scheme}://{parts.netloc}"
    api = MastodonAPI(session, policy, instance, token)
    try:
        if token:
            batch = await sync_account(api, state=state, backfill=backfill, now=now)
        elif account is not None:
            try:
                batch = await sync_public(
                    api, username=account.username, state=state, backfill=backfill, now=now
                )
            except HTTPStatusError as exc:
                if exc.status not in (401, 403) or state.get("account_id"):
                    raise
                batch = await _rss_fallback(session, policy, url, state)
        else:
            raise IngestError(
                "a Mastodon source is a profile URL, or an instance with a token", url=url
            )
    except RateLimited as exc:
        # nothing is stored and the cursors stay: the next sync resumes with no gap
        batch = MastodonBatch(state=dict(state), retry_after=exc.retry_after)
    batch.requests = api.requests
    return batch


async def _rss_fallback(
    session: aiohttp.ClientSession, policy: FetchPolicy, url: str, state: dict[str, Any]
) -> MastodonBatch:
    result = await fetch(session, url.rstrip("/") + ".rss", policy)
    batch = MastodonBatch(state=dict(state, via="rss"))
    if isinstance(result, FetchResult):
        batch.entries = list(parse_feed(result.content, url=result.url).entries)
    return batch
