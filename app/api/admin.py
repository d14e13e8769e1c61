from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.api.deps import AdminUser, SessionDep
from app.errors import InvalidInput
from app.models import User
from app.storage import users as user_store

router = APIRouter(prefix="/admin", tags=["admin"])


class UserOut(BaseModel):
    id: int
    name: str
    is_admin: bool
    created_at: datetime
    disabled_at: datetime | None


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


def _out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.get("/users", response_model=UserPage)
def read_users(
    session: SessionDep,
    _: AdminUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> UserPage:
    """Every user (admins only)."""
    rows, next_cursor = user_store.list_users(session, limit=limit, cursor=cursor)
    return UserPage(items=[_out(u) for u in rows], next_cursor=next_cursor)


@router.post("/users/{user_id}/disable", response_model=UserOut)
def disable_user(user_id: int, session: SessionDep, admin: AdminUser) -> UserOut:
    """Disable an account: its password and tokens stop working; its data stays."""
    if user_id == admin.id:
        raise InvalidInput("an admin cannot disable their own account")
    return _out(user_store.set_disabled(session, user_id=user_id, disabled_at=datetime.now(UTC)))


@router.post("/users/{user_id}/enable", response_model=UserOut)
def enable_user(user_id: int, session: SessionDep, _: AdminUser) -> UserOut:
    """Enable a disabled account again."""
    return _out(user_store.set_disabled(session, user_id=user_id, disabled_at=None))
