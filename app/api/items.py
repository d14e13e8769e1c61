from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from app.api.deps import (
    CredentialsDep,
    CurrentUser,
    EngineDep,
    SessionDep,
    api_user_id,
    cached_user_id,
)
from app.db import retry_transient, session_scope
from app.jobs import learner
from app.storage import items as item_store

router = APIRouter(prefix="/items", tags=["items"])


class FeedbackIn(BaseModel):
    model_config = {
        "json_schema_extra": {"examples": [{"action": "like"}, {"action": "seen", "rank": 3}]}
    }

    action: Literal["seen", "open", "like", "reply", "hide", "more", "less"] = Field(
        description="seen: shown (with rank); open/like/reply: engaged; hide: take it out; "
        "more/less: listen more or less to its author for a while"
    )
    rank: int | None = Field(
        None, ge=1, le=100_000, description="1-based position shown (with seen)"
    )


@router.post("/{item_id}/feedback", status_code=status.HTTP_204_NO_CONTENT)
def create_feedback(
    item_id: int, body: FeedbackIn, engine: EngineDep, credentials: CredentialsDep
) -> Response:
    """Tell Kith what you did with an item; ``hide`` takes it out of your timeline.

    Everything but ``seen`` is learned from at once (the next timeline request is ranked
    with it); ``seen`` impressions are batched into the next learning run."""
    # the caller from the token cache, or one short read: no session is held while the
    # write below waits for its connection and SQLite's write lock (a request holding one
    # connection and waiting for a second emptied the pool at 64 clients)
    user_id = cached_user_id(credentials)
    if user_id is None:
        with session_scope(engine) as session:
            user_id = api_user_id(session, credentials)
    now = datetime.now(UTC)

    def record() -> None:
        # one short write transaction, first in this process's queue for SQLite's write
        # lock (BEGIN IMMEDIATE: it waits instead of failing as a stale reader), run again
        # on a transient failure; learning happens after the commit, off this path
        with session_scope(engine, write=True, interactive=True) as session:
            item_store.add_feedback(
                session,
                user_id=user_id,
                item_id=item_id,
                action=body.action,
                rank=body.rank,
                now=now,
            )

    retry_transient(record)  # committed: the 204 means the row is stored
    if body.action != "seen":
        learner.submit(engine, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_item(item_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """Delete an item; it does not come back when its feed is fetched again."""
    assert user.id is not None
    item_store.delete_item(session, user_id=user.id, item_id=item_id, now=datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
