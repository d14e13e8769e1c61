"""The reconciliation window of a Mastodon stream: each sync re-reads the newest pages
(at most ``RECONCILE_PAGES``, none older than ``RECONCILE_DAYS``), which catches edits
(the statuses are upserted again) and deletions (a status of the last window missing
from this one is looked up by id; a 404 makes it gone). The window also carries the
incremental read: when it does not reach the stored cursor, ``min_id`` walks up from
the cursor, so the sync stays gap-free."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ingest.errors import HTTPStatusError, IngestError
from ingest.mastodon_api import PAGE, MastodonAPI, RateLimited, _id_key, collect
from ingest.mastodon_entities import _when

RECONCILE_PAGES = 2  # newest pages re-read on every sync (edits, deletions) ...
RECONCILE_DAYS = 7  # ... no older than this
CONFIRM_CAP = 20  # statuses looked up by id per stream and sync
RECENT_KEPT = 200  # window entries remembered per stream


def entry_key(status: dict[str, Any]) -> str:
    """The dedupe key :func:`status_entry` gives (the original's for a boost)."""
    original = status["reblog"] if isinstance(status.get("reblog"), dict) else status
    return "id:" + str(original.get("uri") or original.get("url") or "")[:1000]


@dataclass(frozen=True, slots=True)
class StreamRead:
    statuses: list[dict[str, Any]]
    newest: str | None
    window_start: datetime | None  # None: the whole stream was read
    confirmed_from: str | None = None  # the cursor the re-read started from


async def read_stream(
    api: MastodonAPI,
    path: str,
    *,
    cursor: str | None,
    cap: int,
    now: datetime,
    pages: int = RECONCILE_PAGES,
    days: int = RECONCILE_DAYS,
) -> StreamRead:
    """Everything newer than ``cursor`` (or the newest ``cap`` on a first sync), plus a
    re-read of the newest pages (``pages`` of them, none older than ``days``): the
    window checked for edits and deletions. When the window reaches the cursor it is
    the whole incremental read; otherwise ``min_id`` walks up from the cursor."""
    if cursor is None:
        statuses, newest = await collect(api, path, min_id=None, cap=cap)
        window = statuses[: pages * PAGE]
        whole = len(statuses) < min(cap, pages * PAGE)
        return StreamRead(statuses, newest, None if whole else _oldest(window))
    recent: list[dict[str, Any]] = []
    reached = complete = False
    page, links = await api.get(path, {"limit": PAGE})
    for n in range(1, pages + 1):
        if not isinstance(page, list):
            break
        recent.extend(page)
        reached = reached or any(_id_key(str(s.get("id", ""))) <= _id_key(cursor) for s in page)
        oldest = _oldest(page)
        follow = links.get("next")
        if len(page) < PAGE:
            complete = True
            break
        if n == pages or (oldest and oldest < now - timedelta(days=days)):
            break
        if not follow or not api.same_origin(follow):
            break
        page, links = await api.get(follow)
    statuses = recent
    if not reached and not complete:  # more new statuses than the window: walk up
        newer, _ = await collect(api, path, min_id=cursor, cap=cap)
        ids = {str(s.get("id")) for s in recent}
        statuses = recent + [s for s in newer if str(s.get("id")) not in ids]
    newest = cursor
    for s in statuses:
        ident = str(s.get("id", ""))
        if ident and _id_key(ident) > _id_key(newest):
            newest = ident
    return StreamRead(statuses, newest, None if complete else _oldest(recent), cursor)


def _oldest(statuses: list[dict[str, Any]]) -> datetime | None:
    times = [t for s in statuses if (t := _when(s.get("created_at"))) is not None]
    return min(times) if times else None


def deletion_candidates(
    remembered: dict[str, list[str]], seen: set[str], window_start: datetime | None
) -> dict[str, list[str]]:
    """Pure: window entries of the last sync (key -> [status id, created_at]) that this
    sync's read should have seen again and did not."""
    out = {}
    for key, (ident, created) in remembered.items():
        when = _when(created)
        if key in seen or when is None:
            continue
        if window_start is None or when >= window_start:
            out[key] = [ident, created]
    return out


async def reconcile(
    api: MastodonAPI, remembered: object, read: StreamRead
) -> tuple[list[str], dict[str, list[str]]]:
    """Compare the window with the one remembered from the last sync: a missing status
    that answers 404 by id is gone. Returns the gone dedupe keys and the window to
    remember (key -> [status id, created_at])."""
    gone: list[str] = []
    seen = {entry_key(s) for s in read.statuses}
    kept: dict[str, list[str]] = {}
    if read.confirmed_from is not None and isinstance(remembered, dict):
        candidates = deletion_candidates(remembered, seen, read.window_start)
        for n, (key, (ident, created)) in enumerate(candidates.items()):
            if n >= CONFIRM_CAP:
                kept[key] = [ident, created]  # looked up on a later sync
                continue
            try:
                await api.get(f"/api/v1/statuses/{ident}")
            except RateLimited:
                raise
            except HTTPStatusError as exc:
                if exc.status in (404, 410):
                    gone.append(key)
                else:
                    kept[key] = [ident, created]
            except IngestError:
                kept[key] = [ident, created]
    fresh = sorted(read.statuses, key=lambda s: _id_key(str(s.get("id", ""))), reverse=True)
    for s in fresh:
        when = _when(s.get("created_at"))
        if when is None or (read.window_start is not None and when < read.window_start):
            continue
        kept.setdefault(entry_key(s), [str(s.get("id")), str(s.get("created_at"))])
    return gone, dict(list(kept.items())[:RECENT_KEPT])
