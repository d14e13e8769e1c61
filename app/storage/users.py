"""Users and their API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from app.errors import Conflict, InvalidInput
from app.models import ApiToken, User
from app.security import hash_password, hash_token, new_token, verify_password


def create_user(
    session: Session, *, name: str, password: str | None = None, is_admin: bool = False
) -> User:
    name = name.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise InvalidInput("a user name is 1-100 characters without spaces")
    if get_user_by_name(session, name=name) is not None:
        raise Conflict(f"user {name!r} already exists")
    user = User(
        name=name,
        password_hash=hash_password(password) if password else None,
        is_admin=is_admin,
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
    return user if (user is not None and ok) else None


def create_token(session: Session, *, user_id: int, name: str = "default") -> tuple[ApiToken, str]:
    """A new token for the user: the row (hash only) and the raw token, shown once."""
    raw = new_token()
    token = ApiToken(user_id=user_id, name=name, prefix=raw[:12], token_hash=hash_token(raw))
    session.add(token)
    session.flush()
    return token, raw


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


# the name reserved for the token in the URL of a user's Atom feed
FEED_TOKEN = "feed"  # noqa: S105 - a name, not a secret


def user_for_token(session: Session, *, raw: str, feed: bool = False) -> User | None:
    """The owner of a live token, or None. A feed token (it travels in URLs) opens only
    the Atom feed; an API token never opens it, and a feed token never opens the API."""
    row = session.exec(
        select(User, ApiToken)
        .join(ApiToken, ApiToken.user_id == User.id)  # type: ignore[arg-type]
        .where(ApiToken.token_hash == hash_token(raw), ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    ).first()
    if row is None or (row[1].name == FEED_TOKEN) != feed:
        return None
    return row[0]
