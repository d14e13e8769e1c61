from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Response, status
from pydantic import BaseModel, Field

from app.api.deps import CurrentUser, LimiterDep, SessionDep
from app.storage import users as user_store

router = APIRouter(prefix="/tokens", tags=["tokens"])


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The first characters, to tell tokens apart")
    created_at: datetime
    last_used_at: datetime | None = Field(None, description="Updated at most once an hour")
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself: shown this once, stored only hashed")


class TokenCreate(BaseModel):
    name: str = Field("default", min_length=1, max_length=100, examples=["phone"])


class TokenPage(BaseModel):
    items: list[TokenOut]
    next_cursor: str | None = None


@router.get("", response_model=TokenPage)
def read_tokens(session: SessionDep, user: CurrentUser) -> TokenPage:
    """Your API tokens (prefix only; revoked ones too, marked)."""
    assert user.id is not None
    return TokenPage(
        items=[
            TokenOut.model_validate(t, from_attributes=True)
            for t in user_store.list_tokens(session, user_id=user.id)
        ]
    )


@router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(
    session: SessionDep,
    user: CurrentUser,
    limiter: LimiterDep,
    body: Annotated[TokenCreate | None, Body()] = None,
) -> TokenCreated:
    """A new API token; the response is the only time it is shown. Rate-limited."""
    assert user.id is not None
    limiter.hit("token", f"user:{user.id}")
    name = (body or TokenCreate()).name
    if name == user_store.FEED_TOKEN:
        name = "feed-api"  # "feed" names the Atom feed's token, which opens nothing else
    token, raw = user_store.create_token(session, user_id=user.id, name=name)
    return TokenCreated.model_validate(
        {**TokenOut.model_validate(token, from_attributes=True).model_dump(), "token": raw}
    )


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """Revoke one of your tokens (it stops working at once)."""
    assert user.id is not None
    user_store.revoke_token(session, user_id=user.id, token_id=token_id, now=datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
