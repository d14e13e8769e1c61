"""API token -> owner, remembered for a few seconds in this process.

A client sends its token with every request; looking it up costs a read (and a
session around it) each time. :data:`TOKEN_CACHE` keeps the owner of a live API token,
keyed by the token's SHA-256 (never the token itself), for :data:`TOKEN_CACHE_SECONDS`.

How a revoked token or a disabled account stops working:

- through this process (the API's ``DELETE /tokens/{id}``, ``/admin/users/{id}/disable``,
  a CLI command run in it): at once. Any commit of a session that changed, deleted or
  bulk-updated an ``ApiToken`` or a ``User`` empties the cache and moves its
  generation on, and an owner read before such a commit is never stored after it;
- through another process (a second API process, ``kith`` on the command line): within
  :data:`TOKEN_CACHE_SECONDS`, when the entry expires and the next request reads the
  database again.

Only positive answers are kept: an unknown or revoked token is read every time. Feed
tokens (Atom URLs) never pass through here.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from app.models import ApiToken, User

TOKEN_CACHE_SECONDS = 5.0
_CHANGED = "kith_auth_changed"  # session.info flag: this transaction touched tokens/users


class TokenCache:
    """Token hash -> (user id, expiry on the monotonic clock), at most ``size`` entries."""

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self.generation = 0
        self._entries: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, *, now: float) -> int | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    def put(self, key: str, user_id: int, *, generation: int, now: float) -> None:
        """Remember ``user_id``, read while the cache was at ``generation``, unless a
        change to tokens or users was committed since that read began."""
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[key] = (user_id, now + self.ttl)

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()


TOKEN_CACHE = TokenCache(TOKEN_CACHE_SECONDS)


_AUTH_TABLES = frozenset(str(m.__tablename__) for m in (ApiToken, User))


def _touches_auth(objects: Any) -> bool:
    return any(isinstance(o, ApiToken | User) for o in objects)


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _flush: UOWTransaction) -> None:
    if _touches_auth(session.dirty) or _touches_auth(session.deleted):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _AUTH_TABLES:
            state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _invalidate_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        TOKEN_CACHE.invalidate()
