"""Account deletion: `DELETE /api/v1/me` with the password again (or, for an account
without one, its name typed out) and `kith user delete NAME --yes` remove the account and
every row it owns, in one transaction; the other user's rows stay byte for byte; the
deleted account's tokens and sessions stop working, even for an account that later gets
the same id. SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.config import Settings
from app.db import get_engine, session_scope
from app.storage import users as user_store
from tests.app.conftest import add_user
from tests.app.test_isolation import API, build_world, rows_of, web_client
from tests.helpers import FeedServer


def table_counts(settings: Settings, user_id: int) -> dict[str, int]:
    """Rows per table of the database (every table, models or not): the user's where the
    table has a user column, else all of them."""
    engine = get_engine(settings.database_url)
    out: dict[str, int] = {}
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        for name in inspector.get_table_names():
            columns = {c["name"] for c in inspector.get_columns(name)}
            where = " WHERE user_id = :u" if "user_id" in columns else ""
            if name == "user_account":
                where = " WHERE id = :u"
            out[name] = conn.execute(
                sa.text(f'SELECT count(*) FROM "{name}"{where}'), {"u": user_id}
            ).scalar_one()
    return out


def test_delete_me_removes_everything_of_mine_and_nothing_else(
    client: TestClient, settings: Settings, feed_server: FeedServer
) -> None:
    _, a, b = build_world(client, settings, feed_server)
    alice_web = web_client(client.app, a.user)  # type: ignore[arg-type]
    pair = {"a": a.pair[0], "b": a.pair[1]}
    resp = client.post(f"{API}/people/suggestions/reject", json=pair, headers=a.user.auth)
    assert resp.status_code == 204
    before = table_counts(settings, a.user.id)
    owned = {t for t, n in before.items() if n and t != "alembic_version"}
    assert {"source", "item", "person", "identity", "feedback", "interaction", "person_date",
            "api_token", "merge_rejection", "user_account"} <= owned  # fmt: skip
    bob_rows = rows_of(settings, b.user.id)

    h = a.user.auth
    wrong = client.request("DELETE", f"{API}/me", json={"password": "wrong"}, headers=h)
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password"
    none = client.request("DELETE", f"{API}/me", json={}, headers=h)
    assert none.status_code == 422 and none.json()["error"]["code"] == "invalid_input"
    assert table_counts(settings, a.user.id) == before

    # Bob's token deletes Bob or nothing: there is no way to name another account
    gone = client.request(
        "DELETE", f"{API}/me", json={"password": "correct horse"}, headers=a.user.auth
    )
    assert gone.status_code == 204, gone.text
    after = table_counts(settings, a.user.id)
    left = {t: n for t, n in after.items() if n and t != "alembic_version"}
    user_tables = {t for t in after if t != "alembic_version"}
    leftovers = {t: n for t, n in left.items() if t in user_tables and _has_user(settings, t)}
    assert leftovers == {}, leftovers
    assert rows_of(settings, b.user.id) == bob_rows  # Bob's rows, byte for byte
    engine = get_engine(settings.database_url)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            tables = set(sa.inspect(engine).get_table_names())
            if "item_fts" in tables:  # the search index follows the items
                fts = conn.exec_driver_sql("SELECT count(*) FROM item_fts").scalar_one()
                items = conn.exec_driver_sql("SELECT count(*) FROM item").scalar_one()
                assert fts == items

    # every way in of the deleted account stops working
    for token in (a.user.token, a.extra_token):
        resp = client.get(f"{API}/sources", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, resp.text
    assert client.get(f"{API}/feeds/{a.feed_token}/atom.xml").status_code == 404
    assert alice_web.get(f"{API}/sources").status_code == 401
    assert alice_web.get("/", follow_redirects=False).status_code in (302, 303)
    assert client.get(f"{API}/sources", headers=b.user.auth).status_code == 200

    # an account created later (on SQLite it may get the same id) is not opened by the
    # deleted account's session
    newcomer = add_user(settings, "newcomer")
    assert alice_web.get(f"{API}/sources").status_code == 401
    assert alice_web.get("/", follow_redirects=False).status_code in (302, 303)
    assert client.get(f"{API}/sources", headers=newcomer.auth).json()["items"] == []


def _has_user(settings: Settings, table: str) -> bool:
    inspector = sa.inspect(get_engine(settings.database_url))
    return table == "user_account" or "user_id" in {c["name"] for c in inspector.get_columns(table)}


def test_an_account_without_a_password_confirms_with_its_name(
    client: TestClient, settings: Settings
) -> None:
    engine = get_engine(settings.database_url)
    with session_scope(engine) as s:
        user = user_store.create_user(s, name="robot")
        assert user.id is not None
        _, raw = user_store.create_token(s, user_id=user.id)
    h = {"Authorization": f"Bearer {raw}"}
    resp = client.request("DELETE", f"{API}/me", json={"password": "x"}, headers=h)
    assert resp.status_code == 422 and "confirm" in resp.json()["error"]["message"]
    resp = client.request("DELETE", f"{API}/me", json={"confirm": "alice"}, headers=h)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "confirmation_mismatch"
    assert (
        client.request("DELETE", f"{API}/me", json={"confirm": "robot"}, headers=h).status_code
        == 204
    )
    assert client.get(f"{API}/sources", headers=h).status_code == 401
    with session_scope(engine) as s:
        assert user_store.get_user_by_name(s, name="robot") is None


def test_user_delete_command(settings: Settings, monkeypatch: object) -> None:
    from app.cli import cli
    from app.config import get_settings

    alice, bob = add_user(settings, "alice"), add_user(settings, "bob")
    monkeypatch.setenv("KITH_DATABASE_URL", settings.database_url)  # type: ignore[attr-defined]
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        out = runner.invoke(cli, ["user", "delete", "alice"])
        assert out.exit_code == 2 and "--yes" in out.output
        out = runner.invoke(cli, ["user", "delete", "alice", "--yes"])
        assert out.exit_code == 0 and "user_account=1" in out.output, out.output
        out = runner.invoke(cli, ["user", "delete", "alice", "--yes"])
        assert out.exit_code == 1 and "not_found" in out.output
    finally:
        get_settings.cache_clear()
    assert table_counts(settings, alice.id)["api_token"] == 0
    assert table_counts(settings, bob.id)["api_token"] == 1


def test_a_new_account_with_a_deleted_ones_id_is_not_opened_by_its_session(
    client: TestClient, settings: Settings
) -> None:
    add_user(settings, "alice")
    carol = add_user(settings, "carol")  # the newest: on SQLite its id is handed out again
    web = web_client(client.app, carol)  # type: ignore[arg-type]
    assert web.get(f"{API}/sources").status_code == 200
    resp = client.request(
        "DELETE", f"{API}/me", json={"password": "correct horse"}, headers=carol.auth
    )
    assert resp.status_code == 204
    dave = add_user(settings, "dave")
    if get_engine(settings.database_url).dialect.name == "sqlite":
        assert dave.id == carol.id  # the case this guards against
    assert web.get(f"{API}/sources").status_code == 401
    assert web.get("/", follow_redirects=False).status_code in (302, 303)
