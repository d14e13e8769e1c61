"""App passwords: one per native app, shown once, stored hashed (argon2, like the account
password), revocable, never the account password and never an API token.

- :func:`create` makes one (``xxxx-xxxx-xxxx-xxxx-xxxx``: 20 characters of a-z0-9, about
  103 bits, easy to type on a phone) and stores the argon2 hash, the first characters
  (to tell them apart) and the Fever key hashed again (sha256 of md5("user:password")).
- :func:`verify` checks a user name and app password (Google Reader ClientLogin); same
  argon2 cost whether or not the user or a matching password exists.
- :func:`fever_owner` looks a Fever ``api_key`` up by its hash (one indexed read).
- :func:`session_token` / :func:`session_owner`: the token a protocol hands out after a
  login (Google Reader's ``Auth``). It is derived, not stored: an HMAC of the row's id
  and argon2 hash keyed with the secrets-at-rest key, so it stops working the moment the
  app password is revoked (or the user disabled), and a database dump alone cannot mint
  one. Rotating the encryption key signs every app out once (they log in again).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app import secrets as secrets_at_rest
from app.errors import InvalidInput, NotFound
from app.models import AppPassword, User
from app.security import hash_password, verify_password

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
GROUPS, GROUP_SIZE = 5, 4
PREFIX_LEN = 4  # the first characters, shown in lists and used to find candidates
LAST_USED_PRECISION = timedelta(hours=1)  # at most one write an hour per password
MAX_PER_USER = 50
ID_MAX = 2**31 - 1  # ids are 32-bit on PostgreSQL
TOKEN_MARK = "kgr1"  # noqa: S105 - session tokens start with this (a version)


@dataclass(frozen=True, slots=True)
class Verified:
    """Who an app password belongs to: the user and the app password row's id."""

    user_id: int
    user_name: str
    app_password_id: int


def new_password() -> str:
    groups = ("".join(secrets.choice(ALPHABET) for _ in range(GROUP_SIZE)) for _ in range(GROUPS))
    return "-".join(groups)


def normalise(raw: str) -> str:
    """What people type: spaces and case do not matter, dashes are optional."""
    compact = "".join(raw.split()).lower().replace("-", "")
    if len(compact) != GROUPS * GROUP_SIZE:
        return raw.strip()
    return "-".join(compact[i : i + GROUP_SIZE] for i in range(0, len(compact), GROUP_SIZE))


def fever_key(user_name: str, raw: str) -> str:
    """The Fever ``api_key`` a client computes: md5 of ``user:password`` (hex)."""
    return hashlib.md5(f"{user_name}:{raw}".encode(), usedforsecurity=False).hexdigest()


def fever_key_hash(api_key: str) -> str:
    """How a Fever key is stored and looked up: sha256 of the md5 hex (lower case)."""
    return hashlib.sha256(api_key.strip().lower().encode("ascii", "replace")).hexdigest()


def create(session: Session, *, user: User, name: str, now: datetime) -> tuple[AppPassword, str]:
    """A new app password for ``user``: the row (hashes only) and the password, shown once."""
    assert user.id is not None
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise InvalidInput("an app password's name is 1-100 characters (e.g. 'Reeder on my phone')")
    live = session.exec(
        select(AppPassword.id).where(
            AppPassword.user_id == user.id, col(AppPassword.revoked_at).is_(None)
        )
    ).all()
    if len(live) >= MAX_PER_USER:
        raise InvalidInput(f"at most {MAX_PER_USER} live app passwords; revoke one first")
    raw = new_password()
    row = AppPassword(
        user_id=user.id,
        name=name,
        prefix=raw[:PREFIX_LEN],
        password_hash=hash_password(raw),
        fever_key_hash=fever_key_hash(fever_key(user.name, raw)),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, raw


def list_for(session: Session, *, user_id: int) -> list[AppPassword]:
    """The user's app passwords, newest first (revoked ones too, marked)."""
    return list(
        session.exec(
            select(AppPassword)
            .where(AppPassword.user_id == user_id)
            .order_by(col(AppPassword.id).desc())
        ).all()
    )


def revoke(session: Session, *, user_id: int, app_password_id: int, now: datetime) -> AppPassword:
    """Revoke one; another user's answers :class:`NotFound` exactly like a missing one."""
    row = session.get(AppPassword, app_password_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"no app password {app_password_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(row)
        session.flush()
    return row


def _touch(session: Session, row: AppPassword, now: datetime) -> None:
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        row.last_used_at = now
        session.add(row)


def _live_user(session: Session, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.disabled_at is None else None


def verify(session: Session, *, name: str, password: str, now: datetime) -> Verified | None:
    """The owner if ``password`` is one of ``name``'s live app passwords, else None.
    The account password and API tokens never pass. One argon2 check per candidate with
    the same first characters (almost always one), a dummy one when there is none."""
    raw = normalise(password)
    user = session.exec(select(User).where(User.name == name.strip())).first()
    candidates: list[AppPassword] = []
    if user is not None and user.disabled_at is None and len(raw) <= 200:
        candidates = list(
            session.exec(
                select(AppPassword).where(
                    AppPassword.user_id == user.id,
                    AppPassword.prefix == raw[:PREFIX_LEN],
                    col(AppPassword.revoked_at).is_(None),
                )
            ).all()
        )
    if not candidates:
        verify_password(None, raw)  # the same cost as a real check
        return None
    for row in candidates:
        if verify_password(row.password_hash, raw):
            assert user is not None and user.id is not None and row.id is not None
            _touch(session, row, now)
            return Verified(user.id, user.name, row.id)
    return None


def fever_owner(session: Session, *, api_key: str, now: datetime) -> Verified | None:
    """The owner of a live app password whose Fever key is ``api_key``, else None."""
    if not api_key or len(api_key) > 100:
        return None
    row = session.exec(
        select(AppPassword).where(
            AppPassword.fever_key_hash == fever_key_hash(api_key),
            col(AppPassword.revoked_at).is_(None),
        )
    ).first()
    if row is None or row.id is None:
        return None
    user = _live_user(session, row.user_id)
    if user is None or user.id is None:
        return None
    _touch(session, row, now)
    return Verified(user.id, user.name, row.id)


def _signature(row: AppPassword) -> str:
    key = secrets_at_rest.current().primary + b"|" + row.password_hash.encode("utf-8")
    return hmac.new(key, f"app-session:{row.id}".encode(), hashlib.sha256).hexdigest()


def session_token(row: AppPassword) -> str:
    """The token handed out at login for ``row`` (the same every time; see module doc)."""
    return f"{TOKEN_MARK}.{row.id}.{_signature(row)}"


def session_owner(session: Session, *, token: str, now: datetime) -> Verified | None:
    """The owner of a session token whose app password is live, else None."""
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != TOKEN_MARK or not parts[1].isdigit() or len(parts[1]) > 12:
        return None
    if int(parts[1]) > ID_MAX:
        return None
    row = session.get(AppPassword, int(parts[1]))
    if row is None or row.revoked_at is not None or row.id is None:
        return None
    if not hmac.compare_digest(_signature(row), parts[2]):
        return None
    user = _live_user(session, row.user_id)
    if user is None or user.id is None:
        return None
    _touch(session, row, now)
    return Verified(user.id, user.name, row.id)
