from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.api.deps import CurrentUser, SessionDep
from app.api.schemas import TimelineItem, TimelinePage
from app.storage.items import read_timeline

router = APIRouter(prefix="/timeline", tags=["timeline"])


@router.get("", response_model=TimelinePage)
def read_timeline_page(
    session: SessionDep,
    user: CurrentUser,
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
) -> TimelinePage:
    """The unified timeline of the current user, best first, keyset-paged; each item
    carries its score and why (the contributions that make it up)."""
    assert user.id is not None
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    rows, next_cursor = read_timeline(
        session,
        user_id=user.id,
        limit=limit,
        cursor=cursor,
        since=since,
        person_id=person,
        source_id=source,
        tag=tag,
        order=order,
    )
    now = datetime.now(UTC)
    return TimelinePage(
        items=[TimelineItem.from_row(r, now=now) for r in rows], next_cursor=next_cursor
    )
