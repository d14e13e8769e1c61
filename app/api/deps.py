"""Dependencies shared by the routers: settings, a session per request, the current user."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.api.token_cache import TOKEN_CACHE
from app.config import Settings
from app.db import get_engine, session_scope
from app.errors import CsrfFailed, Forbidden, Unauthorized
from app.models import User
from app.ratelimit import RateLimiter
from app.security import hash_token
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
NO_CREDENTIALS = "send an API token as 'Authorization: Bearer <token>'"
_bearer = HTTPBearer(auto_error=False, description="An API token from `kith user add`")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who a request says it is, not checked yet: an API token, or the user signed in
    to the web reader (its cookie), whose scripts call the API with the same routes."""

    token: str | None = None
    session_user: int | None = None
    session_since: object = None  # the account's created_at, signed in at login


async def get_credentials(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Credentials:
    """An ``Authorization: Bearer`` token, else the reader's session. A state-changing
    request on the session must carry the session's CSRF token in ``X-CSRF-Token``
    (another site can neither read it nor, with SameSite=Lax, send the cookie)."""
    if bearer is not None:
        if bearer.scheme.lower() != "bearer":
            raise Unauthorized(NO_CREDENTIALS)
        return Credentials(token=bearer.credentials)
    user_id = request.session.get("user_id")
    if not isinstance(user_id, int):
        raise Unauthorized(NO_CREDENTIALS)
    if request.method not in SAFE_METHODS:
        expected = request.session.get("csrf")
        sent = request.headers.get(CSRF_HEADER, "")
        if not expected or not hmac.compare_digest(str(expected), sent):
            raise CsrfFailed(f"a signed-in page must send its CSRF token in {CSRF_HEADER}")
    return Credentials(session_user=user_id, session_since=request.session.get("user_since"))


CredentialsDep = Annotated[Credentials, Depends(get_credentials)]


def _session_user(session: Session, user_id: int, since: object = None) -> User:
    user = session.get(User, user_id)
    # ``since``: the account's creation time signed into the session at login, so a
    # session of a deleted account never opens another that got the same id later
    if user is None or user.disabled_at is not None or since != user.created_at.isoformat():
        raise Unauthorized("the session's account is disabled or gone; sign in again")
    return user


def api_user_id(session: Session, credentials: Credentials) -> int:
    """The id of the caller, read from the database (and an API token's owner kept in
    :data:`TOKEN_CACHE` for the next requests)."""
    if credentials.token is None:
        assert credentials.session_user is not None
        user_id: int | None = _session_user(
            session, credentials.session_user, credentials.session_since
        ).id
    else:
        key, generation = hash_token(credentials.token), TOKEN_CACHE.generation
        user_id = token_owner(session, raw=credentials.token)
        if user_id is not None:
            TOKEN_CACHE.put(key, user_id, generation=generation, now=time.monotonic())
    if user_id is None:
        raise Unauthorized(UNKNOWN_TOKEN)
    return user_id


def cached_user_id(credentials: Credentials) -> int | None:
    """The owner of the request's API token if :data:`TOKEN_CACHE` knows it, else None
    (then :func:`api_user_id` reads it)."""
    if credentials.token is None:
        return None
    return TOKEN_CACHE.get(hash_token(credentials.token), now=time.monotonic())


def get_current_user(session: SessionDep, credentials: CredentialsDep) -> User:
    if credentials.token is None:
        assert credentials.session_user is not None
        return _session_user(session, credentials.session_user, credentials.session_since)
    user = user_for_token(session, raw=credentials.token)
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
