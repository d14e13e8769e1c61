"""Retention: `kith prune` and the daily run. Old items go, in batches, tombstoned so a
re-fetch never brings them back; saved items, items whose feedback the ranker still needs,
the posts of followed comment threads and the contact history stay. The daily run runs
once a day however many processes try. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.prune import cutoffs, prune, run_daily
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import Feedback, Interaction, Item, ItemTombstone, Person, Source, User
from app.storage import ranking as ranking_store
from tests.app.conftest import ApiUser, add_user
from tests.helpers import FeedServer, Reply

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=400)


def _item(
    s: Session, user_id: int, source_id: int, key: str, published: datetime, **kw: object
) -> int:
    item = Item(
        user_id=user_id,
        source_id=source_id,
        dedupe_key=key,
        url=f"https://blog.example/{key}",
        title=key,
        content_hash="h",
        published=published,
        **kw,
    )
    s.add(item)
    s.flush()
    assert item.id is not None
    return item.id


def world(settings: Settings) -> dict[str, int]:
    """Alice's items in every situation retention distinguishes, and an old item of Bob's."""
    alice, bob = add_user(settings, "alice"), add_user(settings, "bob")
    ids: dict[str, int] = {}
    with session_scope(get_engine(settings.database_url)) as s:
        src = Source(user_id=alice.id, url="https://blog.example/feed")
        bob_src = Source(user_id=bob.id, url="https://blog.example/feed")
        s.add_all([src, bob_src])
        s.flush()
        assert src.id and bob_src.id
        person = Person(user_id=alice.id, name="Ann")
        s.add(person)
        s.flush()
        a = alice.id
        ids["plain"] = _item(s, a, src.id, "plain", OLD)
        ids["read"] = _item(s, a, src.id, "read", OLD, read_at=OLD)
        ids["saved"] = _item(s, a, src.id, "saved", OLD, saved_at=OLD)
        ids["liked"] = _item(s, a, src.id, "liked", OLD)
        ids["seen_unlearned"] = _item(s, a, src.id, "seen_unlearned", OLD)
        ids["seen_old"] = _item(s, a, src.id, "seen_old", OLD)
        ids["seen_recent"] = _item(s, a, src.id, "seen_recent", OLD)
        ids["thread_post"] = _item(s, a, src.id, "thread_post", OLD)
        ids["contact"] = _item(s, a, src.id, "contact", OLD)
        ids["original"] = _item(s, a, src.id, "original", OLD)
        ids["duplicate"] = _item(
            s, a, src.id, "duplicate", OLD, duplicate_of_id=ids["original"], saved_at=OLD
        )
        ids["fresh"] = _item(s, a, src.id, "fresh", NOW - timedelta(days=3))
        ids["bob_old"] = _item(s, bob.id, bob_src.id, "bob_old", OLD)
        s.add_all(
            [
                Feedback(user_id=a, item_id=ids["liked"], action="like", at=OLD, learned=True),
                Feedback(user_id=a, item_id=ids["liked"], action="seen", at=OLD, learned=True),
                Feedback(user_id=a, item_id=ids["seen_unlearned"], action="seen", at=OLD),
                Feedback(user_id=a, item_id=ids["seen_old"], action="seen", at=OLD, learned=True),
                Feedback(
                    user_id=a,
                    item_id=ids["seen_recent"],
                    action="seen",
                    at=NOW - timedelta(days=100),
                    learned=True,
                ),
                Source(
                    user_id=a,
                    url="https://blog.example/thread_post/feed",
                    kind="comments",
                    parent_item_id=ids["thread_post"],
                ),
                Interaction(
                    user_id=a,
                    person_id=person.id,
                    direction="in",
                    kind="comment",
                    at=OLD,
                    item_id=ids["contact"],
                    external_id="c1",
                ),
            ]
        )
        ids["alice"], ids["bob"], ids["source"] = alice.id, bob.id, src.id
    return ids


PRUNED = {"plain", "read", "seen_old", "contact", "original"}
KEPT = {"saved", "liked", "seen_unlearned", "seen_recent", "thread_post", "duplicate", "fresh"}


def left(settings: Settings, ids: dict[str, int]) -> set[str]:
    with session_scope(get_engine(settings.database_url)) as s:
        there = set(s.exec(select(Item.id)).all())
    return {name for name in PRUNED | KEPT | {"bob_old"} if ids[name] in there}


def test_prune_keeps_what_must_stay_and_tombstones_the_rest(settings: Settings) -> None:
    ids = world(settings)
    engine = get_engine(settings.database_url)
    dry = prune(engine, days=365, now=NOW, user_name="alice", dry_run=True)
    assert (dry.items, dry.tombstones, dry.kept_old) == (len(PRUNED), 0, len(KEPT) - 1)
    assert left(settings, ids) == PRUNED | KEPT | {"bob_old"}  # a dry run deletes nothing

    report = prune(engine, days=365, now=NOW, user_name="alice", batch=2, pause=0)
    assert (report.users, report.items, report.tombstones) == (1, len(PRUNED), len(PRUNED))
    assert report.batches == 3 and report.kept_old == len(KEPT) - 1  # "fresh" is not old
    assert left(settings, ids) == KEPT | {"bob_old"}  # Bob's old item: not his prune
    assert "freed_pages_bytes=" in report.line() or "table_bytes_after=" in report.line()
    with session_scope(engine) as s:
        stones = s.exec(select(ItemTombstone.dedupe_key, ItemTombstone.reason)).all()
        assert sorted(stones) == sorted((k, "aged_out") for k in PRUNED)
        contact = s.exec(select(Interaction)).one()  # the contact stays, its item is gone
        assert contact.item_id is None and contact.person_id is not None
        dup = s.get(Item, ids["duplicate"])
        assert dup is not None and dup.duplicate_of_id is None
        # the replay keeps every event but the old seen impression of a pruned item
        events, _ = ranking_store.feedback_events(s, user_id=ids["alice"])
        assert sorted(e.action for e in events) == ["like", "seen", "seen", "seen"]
    again = prune(engine, days=365, now=NOW, pause=0)
    assert (again.users, again.items) == (2, 1)  # Bob's turn; Alice has nothing left to go
    assert left(settings, ids) == KEPT


def test_seen_impressions_keep_their_item_for_six_half_lives() -> None:
    cut = cutoffs(NOW, 30, memory_half_life_days=60)
    assert cut.items == NOW - timedelta(days=30) and cut.seen == NOW - timedelta(days=360)
    assert cutoffs(NOW, 1000, memory_half_life_days=60).seen == NOW - timedelta(days=1000)


def test_pruned_items_do_not_come_back_on_refetch(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    def entry(key: str, when: datetime) -> str:
        return (
            f"<item><guid>https://blog.example/{key}</guid><link>https://blog.example/{key}"
            f"</link><title>{key}</title>"
            f"<pubDate>{when.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>"
        )

    body = f"<rss version='2.0'><channel><title>B</title>{entry('old', OLD)}{entry('new', NOW)}"
    feed_server.routes["/f"] = Reply(200, (body + "</channel></rss>").encode())
    resp = client.post("/api/v1/sources", json={"url": feed_server.url("/f")}, headers=alice.auth)
    assert resp.status_code == 201
    engine = get_engine(settings.database_url)
    options = RefreshOptions(policy=settings.fetch_policy())
    refresh_due(engine, options, include_all=True)
    assert prune(engine, days=365, now=NOW).items == 1
    stats = refresh_due(engine, options, include_all=True)
    assert stats.new_items == 0
    with session_scope(engine) as s:
        assert s.exec(select(Item.title)).all() == ["new"]


def test_daily_prune_runs_once_a_day_across_processes(settings: Settings) -> None:
    world(settings)
    engine = get_engine(settings.database_url)
    results: list[object] = []

    def attempt(n: int) -> None:
        results.append(run_daily(engine, days=365, now=NOW, owner=f"proc-{n}"))

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ran = [r for r in results if r is not None]
    assert len(ran) == 1 and len(results) == 4
    assert run_daily(engine, days=365, now=NOW + timedelta(hours=1), owner="late") is None
    tomorrow = run_daily(engine, days=365, now=NOW + timedelta(days=1), owner="next")
    assert tomorrow is not None and tomorrow.items == 0
    assert run_daily(engine, days=0, now=NOW + timedelta(days=2), owner="off") is None
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT day, finished_at, result FROM job_run")).all()
    assert len(rows) == 2 and all(r.finished_at is not None for r in rows)


def test_prune_command(settings: Settings, monkeypatch: object) -> None:
    from app.cli import cli
    from app.config import get_settings

    world(settings)
    monkeypatch.setenv("KITH_DATABASE_URL", settings.database_url)  # type: ignore[attr-defined]
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        out = runner.invoke(cli, ["prune", "--dry-run", "--user", "alice"])
        assert out.exit_code == 0, out.output
        assert f"would_delete={len(PRUNED)}" in out.output
        out = runner.invoke(cli, ["prune", "--user", "nobody"])
        assert out.exit_code == 1 and "not_found" in out.output
        out = runner.invoke(cli, ["prune", "--older-than", "0"])
        assert out.exit_code == 2
        out = runner.invoke(cli, ["prune", "--older-than", "10"])
        assert out.exit_code == 0 and f"items={len(PRUNED) + 1} " in out.output, out.output
    finally:
        get_settings.cache_clear()
    with session_scope(get_engine(settings.database_url)) as s:
        assert s.exec(select(sa.func.count()).select_from(User)).one() == 2
