from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import get_engine, session_scope
from app.main import create_app
from app.storage import users as user_store


@dataclass
class ApiUser:
    name: str
    id: int
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def add_user(settings: Settings, name: str, password: str = "correct horse") -> ApiUser:
    with session_scope(get_engine(settings.database_url)) as s:
        user = user_store.create_user(s, name=name, password=password)
        assert user.id is not None
        _, raw = user_store.create_token(s, user_id=user.id)
        return ApiUser(name=name, id=user.id, token=raw)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c
    get_engine.cache_clear()


@pytest.fixture
def alice(settings: Settings) -> ApiUser:
    return add_user(settings, "alice")


@pytest.fixture
def bob(settings: Settings) -> ApiUser:
    return add_user(settings, "bob")
