"""Users and their API tokens. The first user is an admin; a disabled user's password
and tokens stop working (their data stays)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, func, select

from app.errors import Conflict, InvalidInput, NotFound
from app.models import ApiToken, User
from app.security import hash_password, hash_token, new_token, verify_password
from app.storage.pagination import decode_cursor, encode_cursor


def create_user(
    session: Session, *, name: str, password: str | None = None, is_admin: bool = False
) -> User:
    name = name.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise InvalidInput("a user name is 1-100 characters without spaces")
    if get_user_by_name(session, name=name) is not None:
        raise Conflict(f"user {name!r} already exists")
    first = session.exec(select(func.count()).select_from(User)).one() == 0
    user = User(
        name=name,
        password_hash=hash_password(password) if password else None,
        is_admin=is_admin or first,
    )
    session.add(user)
    session.flush()
    return user


def get_user_by_name(session: Session, *, name: str) -> User | None:
    return session.exec(select(User).where(User.name == name)).first()


def set_password(session: Session, *, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    session.add(user)


def authenticate(session: Session, *, name: str, password: str) -> User | None:
    """The user if ``password`` is theirs; None otherwise (same cost either way)."""
    user = get_user_by_name(session, name=name)
    ok = verify_password(user.password_hash if user else None, password)
    return user if (user is not None and ok and user.disabled_at is None) else None


def create_token(session: Session, *, user_id: int, name: str = "default") -> tuple[ApiToken, str]:
    """A new token for the user: the row (hash only) and the raw token, shown once."""
    raw = new_token()
    token = ApiToken(user_id=user_id, name=name, prefix=raw[:12], token_hash=hash_token(raw))
    session.add(token)
    session.flush()
    return token, raw


def list_tokens(session: Session, *, user_id: int) -> list[ApiToken]:
    """The user's API tokens, newest first (the feed token is not one of them)."""
    return list(
        session.exec(
            select(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.name != FEED_TOKEN)
            .order_by(col(ApiToken.id).desc())
        ).all()
    )


def revoke_token(session: Session, *, user_id: int, token_id: int, now: datetime) -> ApiToken:
    """Revoke one of the user's API tokens; another user's answers :class:`NotFound`."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id or token.name == FEED_TOKEN:
        raise NotFound(f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now
        session.add(token)
        session.flush()
    return token


def list_users(
    session: Session, *, limit: int, cursor: str | None
) -> tuple[list[User], str | None]:
    """Every user, by id, keyset-paged (for admins)."""
    query = select(User).order_by(col(User.id)).limit(limit + 1)
    if cursor:
        (after,) = decode_cursor(cursor, size=1)
        if not isinstance(after, int):
            raise InvalidInput("the cursor is not one this API returned")
        query = query.where(col(User.id) > after)
    rows = list(session.exec(query).all())
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def set_disabled(session: Session, *, user_id: int, disabled_at: datetime | None) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    user.disabled_at = disabled_at
    session.add(user)
    session.flush()
    return user


def revoke_tokens(session: Session, *, user_id: int, name: str, now: datetime) -> int:
    tokens = session.exec(
        select(ApiToken).where(
            ApiToken.user_id == user_id,
            ApiToken.name == name,
            ApiToken.revoked_at.is_(None),  # type: ignore[union-attr]
        )
    ).all()
    for token in tokens:
        token.revoked_at = now
        session.add(token)
    return len(tokens)


LAST_USED_PRECISION = timedelta(hours=1)
# the name reserved for the token in the URL of a user's Atom feed
FEED_TOKEN = "feed"  # noqa: S105 - a name, not a secret


_TOKEN_OWNER = (
    select(ApiToken.id, ApiToken.user_id, ApiToken.name, ApiToken.last_used_at)
    .join(User, col(User.id) == ApiToken.user_id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        col(ApiToken.revoked_at).is_(None),
        col(User.disabled_at).is_(None),
    )
)


def token_owner(session: Session, *, raw: str, feed: bool = False) -> int | None:
    """The id of the user owning a live token, or None: one indexed read, no ORM
    objects (the timeline's hot path). A feed token (it travels in URLs) opens only the
    Atom feed; an API token never opens it, and a feed token never opens the API."""
    session.flush()  # Core reads below do not autoflush; see what this session changed
    conn = session.connection()
    row = conn.execute(_TOKEN_OWNER, {"token_hash": hash_token(raw)}).first()
    if row is None or (row.name == FEED_TOKEN) != feed:
        return None
    now = datetime.now(UTC)
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        # at most one write an hour per token, not one a request
        conn.execute(update(ApiToken).where(col(ApiToken.id) == row.id).values(last_used_at=now))
    user_id: int = row.user_id
    return user_id


def user_for_token(session: Session, *, raw: str, feed: bool = False) -> User | None:
    """The owner of a live token (see :func:`token_owner`), or None."""
    user_id = token_owner(session, raw=raw, feed=feed)
    return None if user_id is None else session.get(User, user_id)
