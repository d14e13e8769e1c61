"""App passwords through the API: shown once, stored hashed (argon2, the Fever key only
as sha256 of its md5), listed by prefix, revoked; another user's answers 404 like a
missing one. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import select

from app.apps import passwords
from app.config import Settings
from app.db import get_engine, session_scope
from app.models import AppPassword
from tests.app.conftest import ApiUser

API = "/api/v1/app-passwords"


def test_create_list_revoke_and_fever_lookup(
    client: TestClient, settings: Settings, alice: ApiUser, bob: ApiUser
) -> None:
    made = client.post(API, json={"name": "Reeder"}, headers=alice.auth)
    assert made.status_code == 201, made.text
    body = made.json()
    raw = body["password"]
    assert body["user_name"] == "alice" and body["prefix"] == raw[:4] and len(raw) == 24
    listed = client.get(API, headers=alice.auth).json()["items"]
    assert [p["id"] for p in listed] == [body["id"]] and "password" not in listed[0]
    assert client.get(API, headers=bob.auth).json()["items"] == []
    with session_scope(get_engine(settings.database_url)) as s:
        row = s.exec(select(AppPassword)).one()
        assert raw not in (row.password_hash, row.fever_key_hash)
        key = passwords.fever_key("alice", raw)
        assert key not in (row.fever_key_hash or "")
        now = datetime.now(UTC)
        who = passwords.fever_owner(s, api_key=key.upper(), now=now)
        assert who is not None and who.user_id == alice.id
        assert passwords.fever_owner(s, api_key="0" * 32, now=now) is None
        assert passwords.verify(s, name="alice", password="correct horse", now=now) is None
    # Bob cannot revoke it: the same answer as an id that never existed
    theirs = client.delete(f"{API}/{body['id']}", headers=bob.auth)
    missing = client.delete(f"{API}/900000000", headers=bob.auth)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    assert client.delete(f"{API}/{body['id']}", headers=alice.auth).status_code == 204
    with session_scope(get_engine(settings.database_url)) as s:
        assert passwords.fever_owner(s, api_key=key, now=datetime.now(UTC)) is None
    for bad in ({"name": ""}, {"name": "x" * 101}, {}):
        answer = client.post(API, json=bad, headers=alice.auth)
        assert answer.status_code == 422 and answer.json()["error"]["code"], answer.text
    assert client.delete(f"{API}/{2**40}", headers=alice.auth).status_code in (404, 422)
