"""App passwords for native reader apps (Google Reader API, Fever): shown once, stored
hashed, listed by their first characters with their last use, revoked one by one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Response, status
from pydantic import BaseModel, Field

from app.api.deps import CurrentUser, LimiterDep, SessionDep
from app.apps import passwords as app_passwords

router = APIRouter(prefix="/app-passwords", tags=["app passwords"])


class AppPasswordOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The first characters, to tell app passwords apart")
    created_at: datetime
    last_used_at: datetime | None = Field(None, description="Updated at most once an hour")
    revoked_at: datetime | None


class AppPasswordCreated(AppPasswordOut):
    password: str = Field(description="The app password itself: shown this once, stored hashed")
    user_name: str = Field(description="The user name to type in the app")


class AppPasswordCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["Reeder on my phone"])


class AppPasswordPage(BaseModel):
    items: list[AppPasswordOut]
    next_cursor: str | None = None


@router.get("", response_model=AppPasswordPage)
def read_app_passwords(session: SessionDep, user: CurrentUser) -> AppPasswordPage:
    """Your app passwords, newest first (first characters only; revoked ones marked)."""
    assert user.id is not None
    rows = app_passwords.list_for(session, user_id=user.id)
    return AppPasswordPage(
        items=[AppPasswordOut.model_validate(r, from_attributes=True) for r in rows]
    )


@router.post("", response_model=AppPasswordCreated, status_code=status.HTTP_201_CREATED)
def create_app_password(
    session: SessionDep,
    user: CurrentUser,
    limiter: LimiterDep,
    body: Annotated[AppPasswordCreate, Body()],
) -> AppPasswordCreated:
    """A new app password for one app; the response is the only time it is shown."""
    assert user.id is not None
    limiter.hit("token", f"user:{user.id}")
    row, raw = app_passwords.create(session, user=user, name=body.name, now=datetime.now(UTC))
    out = AppPasswordOut.model_validate(row, from_attributes=True).model_dump()
    return AppPasswordCreated.model_validate({**out, "password": raw, "user_name": user.name})


@router.delete("/{app_password_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_app_password(app_password_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """Revoke an app password: the app is signed out at once."""
    assert user.id is not None
    app_passwords.revoke(
        session, user_id=user.id, app_password_id=app_password_id, now=datetime.now(UTC)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
