"""Ways back from an item to its author, and replying to a Mastodon status from Kith with
your own account (app.people.ways, app.people.reach)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.people.reach import reply_to_item
from app.people.ways import ways_for
from app.schemas import ReplyIn, ReplyOut, WaysOut

router = APIRouter(prefix="/items", tags=["items"])


@router.get("/{item_id}/ways", response_model=WaysOut)
def read_ways(item_id: int, session: SessionDep, user: CurrentUser) -> WaysOut:
    """How to answer this item: reply on Mastodon, e-mail, comment (with why not, when not)."""
    assert user.id is not None
    return WaysOut(item_id=item_id, ways=ways_for(session, user_id=user.id, item_id=item_id))


@router.post(
    "/{item_id}/reply",
    response_model=ReplyOut,
    status_code=201,
    responses={
        403: {"description": "scope_missing / mastodon_auth_failed: the token may not post"},
        409: {"description": "no_mastodon_account: add your own account first"},
        422: {"description": "not_a_status / reply_refused (the instance's words)"},
        502: {"description": "instance_unavailable"},
    },
)
async def create_reply(
    item_id: int, body: ReplyIn, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> ReplyOut:
    """Reply to a Mastodon status with your own account; recorded as contact at once."""
    assert user.id is not None
    return await reply_to_item(
        session,
        user_id=user.id,
        item_id=item_id,
        text=body.text,
        visibility=body.visibility,
        policy=settings.fetch_policy(),
        now=datetime.now(UTC),
    )
