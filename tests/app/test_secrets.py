"""Secrets at rest: tokens never appear in clear in the database, rotation re-encrypts
them all, and a wrong key is one clear start-up error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from fastapi.testclient import TestClient
from sqlmodel import SQLModel, select

from app import secrets
from app.config import Settings
from app.db import get_engine, session_scope
from app.models import Source
from tests.app.conftest import add_user
from tests.app.test_cli_e2e import kith

TOKENS = ["mastodon-token-aaaa-1111", "mastodon-token-bbbb-2222", "bsky-app-pass-cccc"]


@pytest.fixture(autouse=True)
def keys_restored() -> Iterator[None]:
    """Tests here swap the process's key set; put back what they found."""
    before = secrets._KEYS
    yield
    secrets.configure(before)


def dump(url: str) -> str:
    """Every stored text: SQLite's iterdump, or every text column of every table."""
    engine = get_engine(url)
    if url.startswith("sqlite"):
        raw = engine.raw_connection()
        try:
            return "\n".join(raw.driver_connection.iterdump())  # type: ignore[union-attr]
        finally:
            raw.close()
    out = []
    with engine.connect() as conn:
        cols = conn.execute(
            sa.text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type IN "
                "('text', 'character varying', 'json', 'jsonb')"
            )
        ).all()
        for table, column in cols:
            q = f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL'  # noqa: S608
            out.extend(str(v) for (v,) in conn.execute(sa.text(q)))
    return "\n".join(out)


def add_sources(client: TestClient, settings: Settings) -> list[int]:
    ids = []
    for n, token in enumerate(TOKENS):
        user = add_user(settings, f"user{n}")
        resp = client.post(
            "/api/v1/sources",
            json={"url": "https://mastodon.example", "token": token},
            headers=user.auth,
        )
        assert resp.status_code == 201, resp.text
        assert token not in resp.text
        assert (
            token not in client.get(f"/api/v1/sources/{resp.json()['id']}", headers=user.auth).text
        )
        ids.append(resp.json()["id"])
    return ids


def test_no_secret_in_clear_in_the_database(client: TestClient, settings: Settings) -> None:
    add_sources(client, settings)
    text = dump(settings.database_url)
    assert "mastodon.example" in text  # the dump does show the rows ...
    for token in TOKENS:
        assert token not in text  # ... but no token
    assert text.count(secrets.PREFIX) >= len(TOKENS)
    with session_scope(get_engine(settings.database_url)) as s:  # the code sees plain text
        assert sorted(src.access_token or "" for src in s.exec(select(Source)).all()) == sorted(
            TOKENS
        )


def test_rotation_reencrypts_every_secret(client: TestClient, settings: Settings) -> None:
    old = secrets.current()
    add_sources(client, settings)
    engine = get_engine(settings.database_url)
    new_key = Fernet.generate_key()
    rotated = secrets.KeySet(new_key, (old.primary,), "KITH_ENCRYPTION_KEY")
    assert secrets.check_keys(engine, rotated) == len(TOKENS)
    assert secrets.rotate(engine, rotated) == len(TOKENS)
    column = Source.__table__.c.access_token  # type: ignore[attr-defined]
    with engine.connect() as conn:
        stored = [t for _, t in secrets._raw_rows(conn, column)]
    assert len(stored) == len(TOKENS)
    for text in stored:
        token = text.removeprefix(secrets.PREFIX).encode()
        with pytest.raises(InvalidToken):
            Fernet(old.primary).decrypt(token)  # the old key alone no longer reads it
        assert Fernet(new_key).decrypt(token).decode() in TOKENS
    with pytest.raises(secrets.KeyMismatch, match="KITH_SECRET_KEY"):
        secrets.check_keys(engine, old)
    secrets.configure(secrets.KeySet(new_key))
    with session_scope(engine) as s:
        assert sorted(src.access_token or "" for src in s.exec(select(Source)).all()) == sorted(
            TOKENS
        )
    assert secrets.encrypt_plaintext  # the migration's helper leaves encrypted values alone
    with engine.begin() as conn:
        assert secrets.encrypt_plaintext(conn, rotated, [("source", "access_token")]) == 0


def test_every_encrypted_column_is_covered() -> None:
    names = {(c.table.name, c.name) for c in secrets.secret_columns(SQLModel.metadata)}
    assert ("source", "access_token") in names


def test_the_migration_encrypts_plaintext_left_by_0016(tmp_path: Path) -> None:
    from alembic import command

    from app.db import alembic_config, create_db_engine

    url = f"sqlite:///{tmp_path}/old.db"
    command.upgrade(alembic_config(url), "0016")
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO user_account (name, is_admin, created_at) VALUES ('a', 0, '2026-01-01')"
        )
        conn.exec_driver_sql(
            "INSERT INTO source (user_id, url, kind, next_check_at, error_count, paused, state, created_at) "
            "VALUES (1, 'https://m.example', 'mastodon', '2026-01-01', 0, 0, '{}', '2026-01-01')"
        )
        conn.exec_driver_sql("UPDATE source SET access_token = 'plain-old-token'")
    secrets.configure(secrets.KeySet(secrets.derive_key("a long passphrase for the test")))
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as conn:
        (stored,) = conn.exec_driver_sql("SELECT access_token FROM source").one()
    assert stored.startswith(secrets.PREFIX) and "plain-old-token" not in stored
    assert secrets.decrypt(stored) == "plain-old-token"
    engine.dispose()


def test_cli_rotate_key_and_a_wrong_key_is_a_start_up_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kith.db"
    base = {k: v for k, v in os.environ.items() if not k.startswith("KITH_")}
    env = {**base, "KITH_DATABASE_URL": url, "KITH_SECRET_KEY": "the first secret key"}
    assert kith("user", "add", "alice", env=env).returncode == 0
    added = kith(
        "source", "add", "https://mastodon.example", "--token", "cli-token-9999", "--user",
        "alice", "--no-check", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "cli-token-9999" not in (tmp_path / "kith.db").read_bytes().decode("latin-1")

    wrong = {**env, "KITH_SECRET_KEY": "another key"}
    for args in (("db", "upgrade"), ("serve", "--port", "1")):
        out = kith(*args, env=wrong)
        assert out.returncode == 2, out.stdout + out.stderr
        assert "error: encryption_key_mismatch:" in out.stderr
        assert "KITH_SECRET_KEY" in out.stderr and "Traceback" not in out.stderr

    fresh = Fernet.generate_key().decode()
    rotating = {
        **env,
        "KITH_ENCRYPTION_KEY": fresh,
        "KITH_ENCRYPTION_OLD_KEYS": "the first secret key",
    }
    out = kith("rotate-key", env=rotating)
    assert out.returncode == 0 and "rotated=1" in out.stdout, out.stdout + out.stderr
    assert kith("db", "upgrade", env=env).returncode == 2  # the first key alone: refused
    assert kith("db", "upgrade", env={**env, "KITH_ENCRYPTION_KEY": fresh}).returncode == 0


def test_no_key_set_generates_a_key_file_beside_the_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/kith.db", secret_key=None)
    keys = secrets.keys_from_settings(settings)
    path = tmp_path / secrets.KEY_FILE_NAME
    assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert secrets.keys_from_settings(settings).primary == keys.primary  # kept, not renewed
    assert "key file" in keys.origin
