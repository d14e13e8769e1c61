from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import CredentialsDep, EngineDep, api_user_id
from app.db import session_scope
from app.jobs.scoring import explain_stored
from app.schemas import TimelinePage
from app.storage.items import TimelineEntry, TimelineQuery, read_timeline_entries

router = APIRouter(prefix="/timeline", tags=["timeline"])


@router.get("", response_model=TimelinePage)
async def read_timeline_page(
    engine: EngineDep,
    credentials: CredentialsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; keep items after it")] = None,
    person: Annotated[int | None, Query(description="Only this person's items")] = None,
    source: Annotated[int | None, Query(description="Only this source's items")] = None,
    tag: Annotated[
        str | None, Query(max_length=200, description="Only items with this tag (any case)")
    ] = None,
    order: Annotated[
        Literal["rank", "newest"], Query(description="rank: best first (default); newest first")
    ] = "rank",
) -> Response:
    """The unified timeline of the current user, best first, keyset-paged; each item
    carries its score and why (the contributions that make it up)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    def page() -> bytes:
        # the hot path, in one worker-thread call: authenticate, one index range read,
        # serialize once, straight from the columns (the stored JSON ones spliced in as
        # they are), in the shape of TimelinePage (tests hold it to that model)
        with session_scope(engine) as session:
            user_id = api_user_id(session, credentials)
            query = TimelineQuery(user_id, limit, cursor, since, person, source, tag, order)
            entries, next_cursor = read_timeline_entries(session, query)
        now = datetime.now(UTC)
        items = [_entry(e, now=now) for e in entries]
        return orjson.dumps({"items": items, "next_cursor": next_cursor}, option=orjson.OPT_UTC_Z)

    return Response(await run_in_threadpool(page), media_type="application/json")


def _json_list(stored: str | None) -> orjson.Fragment:
    """A stored JSON list, spliced into the page without parsing it ([] when unset)."""
    return orjson.Fragment(stored if stored and stored != "null" else "[]")


def _entry(e: TimelineEntry, *, now: datetime) -> dict[str, object]:
    """One item in the shape of :class:`app.schemas.TimelineItem`."""
    score, why = explain_stored(
        e.rank_key,
        orjson.loads(e.why) if e.why else None,
        e.published,
        pinned=bool(e.person_pinned),
        now=now,
    )
    return {
        "id": e.id,
        "title": e.title,
        "url": e.url,
        "content": e.content,
        "published": e.published,
        "source": {"id": e.source_id, "kind": e.source_kind, "title": e.source_title},
        "person": None if e.person_id is None else {"id": e.person_id, "name": e.person_name},
        "in_reply_to": e.in_reply_to,
        "tags": _json_list(e.tags),
        "enclosures": _json_list(e.enclosures),
        "comments_feed": e.comments_feed,
        "comment_count": e.comment_count,
        "score": score,
        "why": [{"reason": text, "value": value} for text, value in why],
    }
