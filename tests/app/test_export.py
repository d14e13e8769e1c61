"""Your data: `GET /api/v1/me/export` streams the whole account as one JSON document (no
secrets), `kith import-export` restores it into an empty account with new ids, and an
export of the restored account equals the first (ids and the export time aside). A large
account streams in bounded memory. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.export import export_chunks
from app.jobs.import_export import import_export
from app.models import Feedback, Item, Source
from app.storage.accounts import SECTIONS
from tests.app.conftest import add_user
from tests.app.test_isolation import API, build_world
from tests.helpers import FeedServer

NOW = datetime.now(UTC)
ACCESS_TOKEN = "mastodon-secret-token-4f1c"
REFS = {
    "sources": {"parent_item_id": "items"},
    "identities": {"person_id": "people"},
    "merge_rejections": {"person_a": "people", "person_b": "people"},
    "items": {"source_id": "sources", "identity_id": "identities"},
    "feedback": {"item_id": "items"},
    "interactions": {"person_id": "people", "item_id": "items"},
    "person_dates": {"person_id": "people"},
    "tombstones": {"source_id": "sources"},
}


def normalized(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with every id replaced by its row's position in its section."""
    index = {name: {r["id"]: n for n, r in enumerate(doc[name])} for name in REFS | {"people": 0}}
    out: dict[str, Any] = {}
    for section in SECTIONS:
        rows = []
        for r in doc[section.name]:
            row = {**r, "id": index[section.name][r["id"]]}
            for column, target in REFS.get(section.name, {}).items():
                if row.get(column) is not None:
                    row[column] = index[target].get(row[column], "missing")
            rows.append(row)
        out[section.name] = rows
    return out


def export_of(settings: Settings, user_id: int) -> dict[str, Any]:
    engine = get_engine(settings.database_url)
    return json.loads(b"".join(export_chunks(engine, user_id=user_id, now=NOW)))


def test_export_import_round_trip(
    client: TestClient,
    settings: Settings,
    feed_server: FeedServer,
    monkeypatch: Any,
    tmp_path: Path,
) -> None:
    _, a, _b = build_world(client, settings, feed_server)
    h = a.user.auth
    pair = {"a": a.pair[0], "b": a.pair[1]}
    assert client.post(f"{API}/people/suggestions/reject", json=pair, headers=h).status_code == 204
    engine = get_engine(settings.database_url)
    with session_scope(engine) as s:  # read and saved state, a source with a secret
        s.execute(sa.update(Item).where(Item.id == a.item_id).values(saved_at=NOW, read_at=NOW))  # type: ignore[arg-type]
        s.add(Source(user_id=a.user.id, url="https://social.example", kind="mastodon",
                     access_token=ACCESS_TOKEN))  # fmt: skip
    assert client.delete(f"{API}/items/{a.item_id + 1}", headers=h).status_code in (204, 404)

    resp = client.get(f"{API}/me/export", headers=h)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
    assert "attachment" in resp.headers["content-disposition"]
    for secret in (a.user.token, a.extra_token, a.feed_token, ACCESS_TOKEN, "argon2"):
        assert secret not in resp.text
    doc = resp.json()
    assert doc["format"] == "kith-export" and doc["user"]["name"] == "alice"
    for name in ("sources", "people", "identities", "merge_rejections", "items", "feedback",
                 "interactions", "person_dates", "tombstones"):  # fmt: skip
        assert doc[name], name
    assert any(i["saved_at"] for i in doc["items"])
    assert any(c["logged"] and c["note"] for c in doc["interactions"])
    assert any(p["manual_weight"] == 1.5 and p["pinned"] for p in doc["people"])
    assert [s["had_token"] for s in doc["sources"]].count(True) == 1

    carol = add_user(settings, "carol")
    path = tmp_path / "alice.json"
    path.write_bytes(resp.content)
    monkeypatch.setenv("KITH_DATABASE_URL", settings.database_url)
    from app.cli import cli
    from app.config import get_settings

    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(cli, ["import-export", str(path), "--user", "carol"])
        if out.exc_info and out.exit_code == 1 and not out.output:
            import traceback

            traceback.print_exception(*out.exc_info)
        assert out.exit_code == 0, out.output
        assert "skipped" not in out.output, out.output
        again = CliRunner().invoke(cli, ["import-export", str(path), "--user", "carol"])
        assert again.exit_code == 1 and "account_not_empty" in again.output
    finally:
        get_settings.cache_clear()

    restored = export_of(settings, carol.id)
    expected = normalized(doc)
    for source in expected["sources"]:  # the token stayed behind: paused until given again
        if source["had_token"]:
            source.update(had_token=False, paused=True)
    assert normalized(restored) == expected
    with session_scope(engine) as s:  # the ranker learns the feedback again
        learned = s.execute(
            sa.select(Feedback.learned).where(Feedback.user_id == carol.id)  # type: ignore[arg-type]
        ).scalars()
        assert set(learned) == {False}
    people = client.get(f"{API}/people", headers=carol.auth).json()["items"]
    assert sorted(p["name"] for p in people) == sorted(
        p["name"] for p in client.get(f"{API}/people", headers=h).json()["items"]
    )


def test_import_refuses_what_is_not_an_export(settings: Settings) -> None:
    user = add_user(settings, "dora")
    engine = get_engine(settings.database_url)
    for document, code in (
        ([], "invalid_input"),
        ({"format": "other"}, "invalid_input"),
        ({"format": "kith-export", "version": 99}, "invalid_input"),
        ({"format": "kith-export", "version": 1, "sources": "x"}, "invalid_input"),
    ):
        try:
            with session_scope(engine) as s:
                import_export(s, user_id=user.id, document=document, now=NOW)
        except Exception as exc:  # noqa: BLE001 - the code is what is checked
            assert getattr(exc, "code", None) == code, exc
        else:
            raise AssertionError(f"{document!r} was accepted")


def _seed(engine: sa.Engine, user_id: int, source_id: int, start: int, stop: int) -> None:
    body = "<p>" + "word " * 300 + "</p>"
    with session_scope(engine) as s:
        rows = [
            {
                "user_id": user_id,
                "source_id": source_id,
                "dedupe_key": f"k{i}",
                "url": f"https://big.example/{i}",
                "title": f"Post {i}",
                "content": body,
                "content_hash": "h",
                "published": NOW - timedelta(minutes=i),
                "fetched_at": NOW,
                "read_at": NOW,
                "tags": [],
                "enclosures": [],
                "why": [],
            }  # fmt: skip
            for i in range(start, stop)
        ]
        s.execute(sa.insert(Item.__table__), rows)  # type: ignore[attr-defined]
        ids = (
            s.execute(
                sa.select(Item.id).where(
                    Item.user_id == user_id, Item.dedupe_key.in_([r["dedupe_key"] for r in rows])
                )  # type: ignore[arg-type,attr-defined]
            )
            .scalars()
            .all()
        )
        s.execute(
            sa.insert(Feedback.__table__),  # type: ignore[attr-defined]
            [
                {"user_id": user_id, "item_id": i, "action": "open", "at": NOW, "learned": True}
                for i in ids
            ],  # fmt: skip
        )


def _peak(engine: sa.Engine, user_id: int) -> tuple[int, int]:
    """(peak traced memory while the export streams, bytes streamed)."""
    total = 0
    tracemalloc.start()
    try:
        for chunk in export_chunks(engine, user_id=user_id, now=NOW):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, total


def test_a_large_account_streams_in_bounded_memory(settings: Settings) -> None:
    user = add_user(settings, "big")
    engine = get_engine(settings.database_url)
    with session_scope(engine) as s:
        source = Source(user_id=user.id, url="https://big.example/feed")
        s.add(source)
        s.flush()
        assert source.id is not None
        source_id = source.id
    _seed(engine, user.id, source_id, 0, 2_000)
    small_peak, small_total = _peak(engine, user.id)
    _seed(engine, user.id, source_id, 2_000, 12_000)
    peak, total = _peak(engine, user.id)
    # six times the data, the same memory: one batch of rows at a time
    assert total > 5 * small_total and total > 20_000_000
    assert peak < 1.3 * small_peak + 1_000_000 and peak < total / 4, (small_peak, peak, total)
    doc = orjson.loads(b"".join(export_chunks(engine, user_id=user.id, now=NOW)))
    assert len(doc["items"]) == 12_000 and len(doc["feedback"]) == 12_000
