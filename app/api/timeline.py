from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Response
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from app.api.deps import Credentials, CredentialsDep, EngineDep, api_user_id, cached_user_id
from app.db import session_scope
from app.jobs import learner
from app.jobs.scoring import DEFAULT
from app.schemas import TimelinePage
from app.storage.items import TimelineEntry, TimelineQuery
from app.storage.timeline_page import read_page

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
    state: Annotated[
        Literal["all", "unread", "read", "saved"],
        Query(description="all (default), unread (the catch-up view), read, or saved items"),
    ] = "all",
) -> Response:
    """The unified timeline of the current user, best first, keyset-paged; each item
    carries its score and why (the contributions that make it up)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    # the hot path: the token's owner from the cache (a read in a worker thread only when
    # it is not there: the read may write last_used_at), one index range read, one
    # orjson pass straight from the columns, in the shape of TimelinePage (tests hold it
    # to that model). On SQLite the read runs on the event loop itself: one index range
    # of a local file takes well under a millisecond, less than a hop to a worker thread
    # and back costs under load; PostgreSQL's network round trips go to a thread.
    user_id = cached_user_id(credentials)
    if user_id is None:
        user_id = await run_in_threadpool(_authenticate, engine, credentials)
    if learner.pending(engine, user_id):  # feedback this process took is learned first
        await run_in_threadpool(learner.settle, engine, user_id)
    query = TimelineQuery(user_id, limit, cursor, since, person, source, tag, order, state)
    if engine.dialect.name == "sqlite":
        body = _page(engine, query, held=True)
    else:
        body = await run_in_threadpool(_page, engine, query)
    return Response(body, media_type="application/json")


def _authenticate(engine: Engine, credentials: Credentials) -> int:
    with session_scope(engine) as session:
        return api_user_id(session, credentials)


def _page(engine: Engine, query: TimelineQuery, *, held: bool = False) -> bytes:
    entries, next_cursor = read_page(engine, query, held=held)
    explain = _Explainer(datetime.now(UTC))
    items = [_entry(e, explain) for e in entries]
    return orjson.dumps({"items": items, "next_cursor": next_cursor}, option=orjson.OPT_UTC_Z)


class _Explainer:
    """:func:`app.jobs.scoring.explain_stored` for every item of one page: the same
    model (``DEFAULT``) and arithmetic, with what depends only on ``now`` done once per
    page instead of once per item (tests hold the result to ``explain``)."""

    __slots__ = ("now", "age")

    def __init__(self, now: datetime) -> None:
        self.now = now
        # display_score is key - (pin_offset if pinned) - age_per_day * days: this is the
        # last term (0 - 0 - x is exactly -x, so the sums below round as it does)
        self.age = DEFAULT.display_score(0.0, pinned=False, now=now)

    def __call__(
        self, rank_key: float, stored: str | None, published: datetime, pinned: bool
    ) -> tuple[float, list[dict[str, Any]]]:
        score = (rank_key - DEFAULT.pin_offset if pinned else rank_key) + self.age
        age = DEFAULT.age_reason(published, now=self.now)
        why = [
            {"reason": w[1], "value": round(w[2], 4)}
            for w in (orjson.loads(stored) if stored else ())
            if len(w) == 3
        ]
        why.append({"reason": age.text, "value": round(age.value, 4)})
        why.sort(key=_magnitude)
        return round(score, 4), why


def _magnitude(reason: dict[str, Any]) -> float:
    """Largest contribution (either sign) first, as explain_stored orders them."""
    value: float = reason["value"]
    return -abs(value)


def _json_list(stored: str | None) -> orjson.Fragment:
    """A stored JSON list, spliced into the page without parsing it ([] when unset)."""
    return orjson.Fragment(stored if stored and stored != "null" else "[]")


def _entry(e: TimelineEntry, explain: _Explainer) -> dict[str, object]:
    """One item in the shape of :class:`app.schemas.TimelineItem`."""
    score, why = explain(e.rank_key, e.why, e.published, bool(e.person_pinned))
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
        "why": why,
        "read": e.read_at is not None,
        "saved": e.saved_at is not None,
    }
