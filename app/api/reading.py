"""Daily reading: read and unread, saved items, "mark all read" up to the newest item
the client saw (so what arrives meanwhile stays unread), and unread counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from app.api.deps import CurrentUser, EngineDep, SessionDep
from app.db import retry_transient, session_scope
from app.storage import reading

router = APIRouter(tags=["reading"])
MAX_ID = 2**63 - 1
ITEM_ID_MAX = 2**31 - 1  # item ids are 32-bit integers on PostgreSQL


class MarkAllRead(BaseModel):
    """Everything unread up to the newest item id the client saw."""

    model_config = {"json_schema_extra": {"examples": [{"before": 1234}]}}

    before: int = Field(
        ge=0, le=MAX_ID, description="The newest item id you saw: later arrivals stay unread"
    )
    person: int | None = Field(None, ge=0, le=MAX_ID, description="Only this person's items")
    source: int | None = Field(None, ge=0, le=MAX_ID, description="Only this source's items")


class Marked(BaseModel):
    marked: int


class Counts(BaseModel):
    unread: int
    new_since: int | None = Field(None, description="Unread items that arrived after `since`")


def _mark(session: SessionDep, user: CurrentUser, item_id: int, *, read: bool) -> Response:
    assert user.id is not None
    reading.one(session, user_id=user.id, item_id=item_id)
    reading.set_read(session, user_id=user.id, item_ids=[item_id], read=read, now=datetime.now(UTC))
    return Response(status_code=204)


@router.post("/items/{item_id}/read", status_code=204)
def mark_read(item_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """Mark an item read (opening it does too); it leaves the unread timeline."""
    return _mark(session, user, item_id, read=True)


@router.delete("/items/{item_id}/read", status_code=204)
def mark_unread(item_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """Mark an item unread again."""
    return _mark(session, user, item_id, read=False)


@router.post("/items/{item_id}/save", status_code=204)
def save_item(item_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """Keep an item for later: `state=saved` lists it, retention never removes it."""
    assert user.id is not None
    reading.set_saved(session, user_id=user.id, item_id=item_id, saved=True, now=datetime.now(UTC))
    return Response(status_code=204)


@router.delete("/items/{item_id}/save", status_code=204)
def unsave_item(item_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """No longer keep an item."""
    assert user.id is not None
    reading.set_saved(session, user_id=user.id, item_id=item_id, saved=False, now=datetime.now(UTC))
    return Response(status_code=204)


@router.post("/timeline/mark-read", response_model=Marked)
def mark_all_read(body: MarkAllRead, engine: EngineDep, user: CurrentUser) -> Marked:
    """Mark all read up to ``before`` (the newest item id you saw), in short
    transactions so ingest and other clicks never wait long for them."""
    assert user.id is not None
    uid, now, after, total = user.id, datetime.now(UTC), 0, 0
    before = min(body.before, ITEM_ID_MAX)  # ids are 32-bit: beyond that is "everything"
    while True:

        def batch(start: int = after) -> tuple[list[int], int]:
            with session_scope(engine, write=True, interactive=True) as session:
                ids = reading.unread_before(
                    session,
                    user_id=uid,
                    before=before,
                    person_id=body.person,
                    source_id=body.source,
                    after=start,
                )
                return ids, reading.mark_ids_read(session, user_id=uid, ids=ids, now=now)

        ids, marked = retry_transient(batch)
        total += marked
        if len(ids) < reading.MARK_ALL_BATCH:
            return Marked(marked=total)
        after = ids[-1]


@router.get("/timeline/counts", response_model=Counts)
def read_counts(
    session: SessionDep,
    user: CurrentUser,
    since: Annotated[
        datetime | None, Query(description="Also count unread arrivals after this (ISO 8601)")
    ] = None,
) -> Counts:
    """How many items are unread, and how many of them arrived since ``since``."""
    assert user.id is not None
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return Counts(
        unread=reading.unread_count(session, user_id=user.id),
        new_since=None
        if since is None
        else reading.unread_count(session, user_id=user.id, fetched_after=since),
    )
