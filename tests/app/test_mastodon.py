"""Mastodon sources against a fake instance on loopback (no mocks of the HTTP client)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, RefreshStats, refresh_due
from app.models import Interaction, Item, Person, Source
from tests.app.conftest import ApiUser, add_user
from tests.fake_mastodon import TOKEN, FakeMastodon
from tests.helpers import FeedServer, Reply


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    server = FakeMastodon()
    yield server
    server.close()


@pytest.fixture
def settings(settings: Settings, fake: FakeMastodon) -> Settings:
    """The shared settings, with the fake instance allow-listed too."""
    return settings.model_copy(update={"allowed_hosts": [*settings.allowed_hosts, fake.host]})


@pytest.fixture
def carol(settings: Settings) -> ApiUser:
    return add_user(settings, "carol")


def sync(settings: Settings, *, backfill: int = 200, all_: bool = True) -> RefreshStats:
    options = RefreshOptions(policy=settings.fetch_policy(), mastodon_backfill=backfill)
    return refresh_due(get_engine(settings.database_url), options, include_all=all_)


def items_of(settings: Settings) -> list[Item]:
    with session_scope(get_engine(settings.database_url)) as s:
        return list(s.exec(select(Item).order_by(Item.published)).all())


def source_of(settings: Settings, sid: int) -> Source:
    with session_scope(get_engine(settings.database_url)) as s:
        src = s.get(Source, sid)
        assert src is not None
        return src


def add(client: TestClient, user: ApiUser, **body) -> int:
    resp = client.post("/api/v1/sources", json=body, headers=user.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def test_public_account_pages_with_no_gap(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    kim = fake.account("kim", "Kim <script>alert(1)</script> Lee")
    start = datetime.now(UTC) - timedelta(days=2)
    for n in range(95):
        fake.status(kim, f"<p>post {n}</p>", created_at=start + timedelta(minutes=n))
    sid = add(client, carol, url=f"{fake.base}/@kim")
    assert source_of(settings, sid).kind == "mastodon"
    stats = sync(settings)
    assert (stats.errors, stats.new_items) == (0, 95), source_of(settings, sid).error_message
    # 1 lookup + 3 pages of 40 (the last one short) + 1 empty page is not needed on backfill
    assert sum(1 for path, _ in fake.requests if "/statuses" in path) == 3
    for n in range(95, 180):
        fake.status(kim, f"<p>post {n}</p>", created_at=start + timedelta(minutes=n))
    fake.requests.clear()
    stats = sync(settings)
    assert stats.new_items == 85
    assert any("min_id=" in path for path, _ in fake.requests)
    assert not any("since_id=" in path for path, _ in fake.requests)
    texts = sorted(
        int(i.content.removeprefix("<p>post ").removesuffix("</p>")) for i in items_of(settings)
    )
    assert texts == list(range(180))  # every status once, no gap
    timeline = client.get("/api/v1/timeline?limit=5", headers=carol.auth).json()["items"]
    assert (
        timeline[0]["person"]["name"] == "Kim Lee" and timeline[0]["source"]["kind"] == "mastodon"
    )
    assert "<script" not in timeline[0]["person"]["name"]


def test_content_is_sanitised_and_rich_parts_kept(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    kim = fake.account("kim")
    fake.status(
        kim,
        '<p>hi <a href="javascript:alert(1)">x</a><script>alert(2)</script> <a href="https://x.example/tags/cats" class="mention hashtag" rel="tag">#<span>cats</span></a> :blobcat:</p>',
        spoiler="food",
        language="de",
        media=[
            {
                "id": "1",
                "type": "image",
                "url": "https://files.example/a.png",
                "description": "A <b>cat</b>",
            }
        ],
        poll={
            "id": "9",
            "options": [
                {"title": "yes", "votes_count": 3},
                {"title": "<i>no</i>", "votes_count": 1},
            ],
        },
    )
    add(client, carol, url=f"{fake.base}/@kim")
    sync(settings)
    (item,) = items_of(settings)
    assert "<script" not in item.content and "javascript" not in item.content
    assert (
        "CW: food" in item.content
        and ":blobcat:" in item.content
        and "#cats" in item.content.replace("<span>", "").replace("</span>", "")
    )
    assert "&lt;i&gt;no&lt;/i&gt; (1)" in item.content
    assert item.enclosures == [
        {
            "url": "https://files.example/a.png",
            "type": "image",
            "length": None,
            "description": "A cat",
        }
    ]
    assert item.language == "de"


def test_edit_updates_and_boost_is_one_entry(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    kim, lee = fake.account("kim"), fake.account("lee")
    original = fake.status(kim, "<p>first version</p>")
    add(client, carol, url=f"{fake.base}/@kim")
    add(client, carol, url=f"{fake.base}/@lee")
    sync(settings)
    original["content"] = "<p>second version</p>"
    original["edited_at"] = datetime.now(UTC).isoformat()
    fake.status(lee, reblog=original)  # lee boosts kim's status
    fake.status(lee, reblog=original)  # twice
    fake.status(kim, "<p>newer</p>")
    sync(settings)
    items = items_of(settings)
    by_kim = [i for i in items if i.dedupe_key.endswith(original["id"])]
    assert len(by_kim) == 2  # one per source, stored ...
    timeline = client.get("/api/v1/timeline", headers=carol.auth).json()["items"]
    assert sum(1 for i in timeline if i["url"] == original["url"]) == 1  # ... shown once
    boosted = next(i for i in items if i.boosted_by)
    assert boosted.boosted_by.startswith("lee@") and "second version" in boosted.content
    assert boosted.identity_id is not None
    with session_scope(get_engine(settings.database_url)) as s:
        names = {p.name for p in s.exec(select(Person)).all()}
    assert "Kim" in names  # a boost is by the original author


def test_own_account_records_interactions_both_ways(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    me, kim, lee, max_ = (
        fake.account("carol"),
        fake.account("kim"),
        fake.account("lee"),
        fake.account("max"),
    )
    fake.me = me
    theirs = fake.status(kim, "<p>hi carol</p>", mentions=[me])
    fake.home.insert(0, theirs)
    fake.notify("mention", kim, theirs)
    fake.notify("favourite", lee, fake.status(me, "<p>mine</p>"))
    fake.notify("reblog", max_, fake.status(me, "<p>also mine</p>"))
    fake.notify("follow", lee)
    fake.status(me, "<p>@kim thanks</p>", in_reply_to=theirs, mentions=[kim, lee])
    fake.status(me, reblog=fake.status(max_, "<p>max says</p>"))
    fake.favourites.append(fake.status(lee, "<p>lee says</p>"))
    sid = add(client, carol, url=fake.base, token=TOKEN)
    stats = sync(settings)
    assert stats.errors == 0, source_of(settings, sid).error_message
    with session_scope(get_engine(settings.database_url)) as s:
        people = {p.id: p.name for p in s.exec(select(Person)).all()}
        got = sorted(
            (i.direction, i.kind, people[i.person_id]) for i in s.exec(select(Interaction)).all()
        )
    assert got == [
        ("in", "boost", "Max"),
        ("in", "favourite", "Lee"),
        ("in", "follow", "Lee"),
        ("in", "mention", "Kim"),
        ("out", "boost", "Max"),
        ("out", "favourite", "Lee"),
        ("out", "mention", "Lee"),
        ("out", "reply", "Kim"),
    ]
    assert all(auth == f"Bearer {TOKEN}" for _, auth in fake.requests)
    assert "token" not in client.get(
        f"/api/v1/sources/{sid}", headers=carol.auth
    ).text.lower().replace("next_check", "")
    sync(settings)  # again: nothing recorded twice
    with session_scope(get_engine(settings.database_url)) as s:
        assert len(s.exec(select(Interaction)).all()) == 8


def test_revoked_token_pauses_and_keeps_the_token(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    fake.me = fake.account("carol")
    sid = add(client, carol, url=fake.base, token="wrong-token")
    sync(settings)
    src = source_of(settings, sid)
    assert (src.error_code, src.paused, src.access_token) == ("auth_failed", True, "wrong-token")
    assert "invalid" in (src.error_message or "")


def test_rate_limit_waits_until_reset(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    kim = fake.account("kim")
    for n in range(10):
        fake.status(kim, f"<p>{n}</p>")
    sid = add(client, carol, url=f"{fake.base}/@kim")
    fake.remaining, fake.reset_in = 1, 600
    before = datetime.now(UTC)
    stats = sync(settings)
    src = source_of(settings, sid)
    assert stats.new_items == 0 and src.error_code is None
    assert src.next_check_at - before > timedelta(minutes=9)  # not before the reset
    fake.remaining = None
    assert sync(settings).new_items == 10  # and then nothing was skipped


def test_429_is_a_rate_limit_not_a_failure(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    fake.account("kim")
    sid = add(client, carol, url=f"{fake.base}/@kim")
    fake.remaining, fake.reset_in = 0, 120
    before = datetime.now(UTC)
    sync(settings)
    assert source_of(settings, sid).next_check_at - before > timedelta(seconds=100)


def test_cross_origin_next_link_is_not_followed(
    client: TestClient,
    settings: Settings,
    fake: FakeMastodon,
    feed_server: FeedServer,
    carol: ApiUser,
) -> None:
    kim = fake.account("kim")
    fake.me = fake.account("carol")
    for n in range(60):
        fake.status(kim, f"<p>{n}</p>")
        fake.home.insert(0, fake.statuses[kim["id"]][0])
    feed_server.routes["/api/v1/timelines/home"] = Reply(200, b"[]")
    fake.link_base = feed_server.base  # Link: next points at another origin
    add(client, carol, url=fake.base, token=TOKEN)
    stats = sync(settings)
    assert stats.errors == 0 and stats.new_items == 40  # the first page only
    assert feed_server.requests == []  # never followed, so the token never left


def test_closed_api_falls_back_to_rss(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    kim = fake.account("kim")
    fake.status(kim, "<p>from the feed</p>")
    fake.api_closed = True
    add(client, carol, url=f"{fake.base}/@kim")
    stats = sync(settings)
    assert (stats.errors, stats.new_items) == (0, 1)


def test_unknown_account_is_a_clear_error(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    sid = add(client, carol, url=f"{fake.base}/@nobody")
    sync(settings)
    src = source_of(settings, sid)
    assert src.error_code == "not_found" and "Record not found" in (src.error_message or "")


def test_cli_adds_a_profile_and_an_account_next_to_a_feed(
    fake: FakeMastodon, feed_server: FeedServer, db_url: str
) -> None:
    import os

    from tests.app.test_cli_e2e import kith
    from tests.helpers import rss

    kim = fake.account("kim", "Kim Lee")
    fake.status(kim, "<p>from mastodon</p>")
    fake.me = fake.account("alice")
    fake.home.insert(0, fake.status(fake.account("lee", "Lee Park"), "<p>home</p>"))
    feed_server.routes["/feed"] = Reply(200, rss(("1", "From a blog", "<p>b</p>")))
    env = {
        **os.environ,
        "KITH_DATABASE_URL": db_url,
        "KITH_ALLOWED_HOSTS": f'["{fake.host}", "{feed_server.hostport}"]',
        "KITH_SECRET_KEY": "test-secret",  # the token is stored encrypted with it
    }
    from app import secrets

    secrets.install(Settings(database_url=db_url, secret_key="test-secret"))
    assert kith("user", "add", "alice", env=env).returncode == 0
    for args in ([f"{fake.base}/@kim"], [fake.base, "--token", TOKEN], [feed_server.url("/feed")]):
        added = kith("source", "add", *args, "--user", "alice", env=env)
        assert added.returncode == 0, added.stderr
    out = kith("ingest", "--once", env=env)
    assert out.stdout.startswith("sources=3 new_items=3 updated=0 errors=0"), (
        out.stdout + out.stderr
    )
    with session_scope(get_engine(db_url)) as s:
        rows = s.exec(select(Item, Source).join(Source, Source.id == Item.source_id)).all()
        people = {p.id: p.name for p in s.exec(select(Person)).all()}
        from app.models import Identity

        who = {i.id: people[i.person_id] for i in s.exec(select(Identity)).all()}
    got = sorted((src.kind, who[item.identity_id]) for item, src in rows if item.identity_id)
    assert got == [("feed", "Ann Author"), ("mastodon", "Kim Lee"), ("mastodon", "Lee Park")]
    get_engine.cache_clear()


def test_large_pages_are_read_to_the_end(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    kim = fake.account("kim")
    for n in range(40):
        fake.status(kim, f"<p>{n} " + "long words of a long status " * 200 + "</p>")  # ~6 KB each
    add(client, carol, url=f"{fake.base}/@kim")
    stats = sync(settings)
    assert (stats.errors, stats.new_items) == (0, 40)
