from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response, status

from app.api.deps import CurrentUser, SessionDep
from app.storage import items as item_store

router = APIRouter(prefix="/items", tags=["items"])


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_item(item_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """Delete an item; it does not come back when its feed is fetched again."""
    assert user.id is not None
    item_store.delete_item(session, user_id=user.id, item_id=item_id, now=datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
