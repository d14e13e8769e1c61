"""The API token cache (app/api/token_cache.py): a revoked token or a disabled account
stops working at once when the change is committed in this process, and within
TOKEN_CACHE_SECONDS when another process made it (seen here as SQL that bypasses the
ORM); an owner read before a revoke is never cached after it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col

from app.api.token_cache import TOKEN_CACHE, TOKEN_CACHE_SECONDS, TokenCache
from app.config import Settings
from app.db import get_engine, session_scope
from app.models import ApiToken, User
from app.security import hash_token
from app.storage import users as user_store
from tests.app.conftest import ApiUser


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr("app.api.deps.time.monotonic", c)
    TOKEN_CACHE.invalidate()
    return c


def test_a_change_made_elsewhere_is_seen_when_the_entry_expires(
    client: TestClient, settings: Settings, alice: ApiUser, clock: Clock
) -> None:
    assert client.get("/api/v1/timeline", headers=alice.auth).status_code == 200  # cached
    # another process revokes it: nothing in this one hears of it
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(update(ApiToken).values(revoked_at=datetime.now(UTC)))
    clock.now += TOKEN_CACHE_SECONDS / 2
    assert client.get("/api/v1/timeline", headers=alice.auth).status_code == 200
    clock.now += TOKEN_CACHE_SECONDS
    assert client.get("/api/v1/timeline", headers=alice.auth).status_code == 401


def test_a_change_committed_in_this_process_is_seen_at_once(
    client: TestClient, settings: Settings, alice: ApiUser, clock: Clock
) -> None:
    engine = get_engine(settings.database_url)
    assert client.get("/api/v1/timeline", headers=alice.auth).status_code == 200
    with session_scope(engine) as s:  # the ORM, as `kith` commands and admin routes do
        user_store.set_disabled(s, user_id=alice.id, disabled_at=datetime.now(UTC))
    assert client.get("/api/v1/timeline", headers=alice.auth).status_code == 401
    with session_scope(engine) as s:
        user_store.set_disabled(s, user_id=alice.id, disabled_at=None)
    assert client.get("/api/v1/timeline", headers=alice.auth).status_code == 200
    with session_scope(engine) as s:  # an ORM bulk update counts too
        s.execute(
            update(User).where(col(User.id) == alice.id).values(disabled_at=datetime.now(UTC))
        )
    assert client.get("/api/v1/timeline", headers=alice.auth).status_code == 401


def test_an_owner_read_before_a_revoke_is_not_cached_after_it() -> None:
    cache = TokenCache(ttl=5.0)
    generation = cache.generation  # a request starts reading the token's row
    cache.invalidate()  # meanwhile a revoke commits
    cache.put("hash", 7, generation=generation, now=0.0)  # the request's stale answer
    assert cache.get("hash", now=1.0) is None
    cache.put("hash", 7, generation=cache.generation, now=0.0)
    assert cache.get("hash", now=1.0) == 7 and cache.get("hash", now=5.0) is None


def test_unknown_tokens_are_never_cached(client: TestClient, clock: Clock) -> None:
    bad = {"Authorization": "Bearer not-a-token"}
    for _ in range(2):
        assert client.get("/api/v1/timeline", headers=bad).status_code == 401
    assert TOKEN_CACHE.get(hash_token("not-a-token"), now=clock.now) is None
