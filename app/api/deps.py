"""Dependencies shared by the routers: settings, a session per request, the current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.config import Settings
from app.db import get_engine, session_scope
from app.errors import Forbidden, Unauthorized
from app.models import User
from app.ratelimit import RateLimiter
from app.storage.users import token_owner, user_for_token


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def get_db_engine(settings: SettingsDep) -> Engine:
    return get_engine(settings.database_url)


EngineDep = Annotated[Engine, Depends(get_db_engine)]


def get_session(engine: EngineDep) -> Iterator[Session]:
    """One session and one commit per request."""
    with session_scope(engine) as session:
        yield session


# scope="function": the commit happens when the handler returns, before the response is
# sent (so a failed commit is an error response, never a silent loss after a 2xx), and
# the connection goes back to the pool at once instead of after the response is
# written (holding it longer starved the pool at 64 concurrent clients: requests
# waited 30 s for a connection, then failed)
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

UNKNOWN_TOKEN = "the API token is unknown or revoked"  # noqa: S105 - a message
_bearer = HTTPBearer(auto_error=False, description="An API token from `kith user add`")


async def get_bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The raw API token of the request (not checked yet: see :func:`get_current_user`)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    return credentials.credentials


BearerToken = Annotated[str, Depends(get_bearer_token)]


def api_user_id(session: Session, token: str) -> int:
    """The id of the token's owner, for a route that authenticates inside its own
    worker-thread call (one thread hop per request instead of four: the timeline)."""
    user_id = token_owner(session, raw=token)
    if user_id is None:
        raise Unauthorized(UNKNOWN_TOKEN)
    return user_id


def get_current_user(session: SessionDep, token: BearerToken) -> User:
    user = user_for_token(session, raw=token)
    if user is None:
        raise Unauthorized(UNKNOWN_TOKEN)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("this needs an admin (the first user, or `kith user add --admin`)")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
