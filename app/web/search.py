"""The reader's search page: the search box's results, most relevant first, with the
matches marked in a snippet, and the query syntax explained. It reads through
:mod:`app.search` like the API does; its script (static/search.js) fetches further
pages from ``/api/v1/search``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import SessionDep
from app.errors import InvalidInput
from app.search.query import parse_query
from app.search.store import SearchHit, search_items
from app.search.text import html_text, snippet
from app.web.common import WebUser, page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class Result:
    """One hit as the page shows it: the snippet as (text, is a match) parts."""

    hit: SearchHit
    parts: list[tuple[str, bool]]

    @property
    def name(self) -> str:
        return self.hit.person_name or ""


def result(hit: SearchHit, words: frozenset[str]) -> Result:
    cut = snippet(html_text(hit.content) or hit.title, words)
    parts, at = [], 0
    for start, end in cut.marks:
        parts += [(cut.text[at:start], False), (cut.text[start:end], True)]
        at = end
    parts.append((cut.text[at:], False))
    return Result(hit=hit, parts=[p for p in parts if p[0]])


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: SessionDep,
    user: WebUser,
    q: Annotated[str, Query(max_length=20_000)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
) -> Response:
    """Search results for ``q`` (nothing but the syntax help when it is empty)."""
    assert user.id is not None
    results: list[Result] = []
    next_cursor, error = None, None
    if q.strip():
        try:
            query = parse_query(q)
            hits, next_cursor = search_items(
                session, user_id=user.id, query=query, limit=limit, cursor=cursor
            )
            results = [result(h, query.highlight) for h in hits]
        except InvalidInput as exc:
            error = exc.message
    return page(
        request,
        "search.html",
        user,
        q=q,
        results=results,
        next_cursor=next_cursor,
        error=error,
        searched=bool(q.strip()),
        first_page=cursor is None,
        limit=limit,
    )
