from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import CredentialsDep, EngineDep, api_user_id
from app.db import session_scope
from app.errors import InvalidInput
from app.jobs.scoring import explain_stored
from app.schemas import SearchPage
from app.search.query import parse_query
from app.search.store import SearchHit, search_items
from app.search.text import html_text, snippet

router = APIRouter(prefix="/search", tags=["search"])

SYNTAX = (
    'words (all must match), "a phrase", -word or -"a phrase" to leave out, a OR b, '
    'person:Name, person:"Full Name" or person:7, tag:cooking'
)


def _aware(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


@router.get("", response_model=SearchPage)
async def read_search(
    engine: EngineDep,
    credentials: CredentialsDep,
    # the length is checked by the parser, which answers query_too_long
    q: Annotated[str, Query(max_length=20_000, description=SYNTAX)] = "",
    person: Annotated[int | None, Query(description="Only this person's items")] = None,
    source: Annotated[int | None, Query(description="Only this source's items")] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; published after")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; published up to")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Full-text search over your items' titles, text and people, most relevant first,
    keyset-paged; each result is a timeline item with a highlighted snippet."""
    since, until = _aware(since), _aware(until)

    def page() -> bytes:
        with session_scope(engine) as session:
            user_id = api_user_id(session, credentials)
            query = parse_query(q)  # invalid_query, query_too_long
            if since is not None and until is not None and until <= since:
                raise InvalidInput("until must be after since")
            hits, next_cursor = search_items(
                session,
                user_id=user_id,
                query=query,
                person_id=person,
                source_id=source,
                since=since,
                until=until,
                limit=limit,
                cursor=cursor,
            )
        now = datetime.now(UTC)
        items = [result(h, query.highlight, now=now) for h in hits]
        return orjson.dumps({"items": items, "next_cursor": next_cursor}, option=orjson.OPT_UTC_Z)

    return Response(await run_in_threadpool(page), media_type="application/json")


def _json_list(stored: str | None) -> orjson.Fragment:
    return orjson.Fragment(stored if stored and stored != "null" else "[]")


def result(h: SearchHit, words: frozenset[str], *, now: datetime) -> dict[str, object]:
    """One hit in the shape of :class:`app.schemas.SearchResult`."""
    score, why = explain_stored(
        h.rank_key,
        orjson.loads(h.why) if h.why else None,
        h.published,
        pinned=bool(h.person_pinned),
        now=now,
    )
    cut = snippet(html_text(h.content) or h.title, words)
    return {
        "id": h.id,
        "title": h.title,
        "url": h.url,
        "content": h.content,
        "published": h.published,
        "source": {"id": h.source_id, "kind": h.source_kind, "title": h.source_title},
        "person": None if h.person_id is None else {"id": h.person_id, "name": h.person_name},
        "in_reply_to": h.in_reply_to,
        "tags": _json_list(h.tags),
        "enclosures": _json_list(h.enclosures),
        "comments_feed": h.comments_feed,
        "comment_count": h.comment_count,
        "score": score,
        "why": [{"reason": text, "value": value} for text, value in why],
        "relevance": round(h.relevance, 6),
        "snippet": cut.html(),
        "snippet_text": cut.text,
        "marks": cut.marks,
    }
