"""Bluesky sources end to end: the API adds them, the refresh job syncs the fake
service on loopback, items, people and contact land in the database (both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, RefreshStats, refresh_due
from app.models import Identity, Interaction, Item, Person, Source
from app.storage import people as people_store
from ingest.atproto_identity import IdentityOptions
from ingest.bluesky import BlueskyOptions
from tests.app.conftest import ApiUser, add_user
from tests.fake_bluesky import PASSWORD, FakeBluesky
from tests.helpers import FeedServer, Reply, rss

TXT: dict[str, list[str]] = {}


async def _txt(name: str) -> list[str]:
    return TXT.get(name, [])


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    server = FakeBluesky()
    TXT.clear()
    yield server
    server.close()


@pytest.fixture
def settings(settings: Settings, fake: FakeBluesky) -> Settings:
    return settings.model_copy(update={"allowed_hosts": [*settings.allowed_hosts, *fake.hosts]})


@pytest.fixture
def carol(settings: Settings) -> ApiUser:
    return add_user(settings, "carol")


def sync(settings: Settings, fake: FakeBluesky) -> RefreshStats:
    identity = IdentityOptions(plc_url=fake.appview_base, txt=_txt)
    options = RefreshOptions(
        policy=settings.fetch_policy(),
        bluesky=BlueskyOptions(appview=fake.appview_base, identity=identity),
    )
    return refresh_due(get_engine(settings.database_url), options, include_all=True)


def source_of(settings: Settings, sid: int) -> Source:
    with session_scope(get_engine(settings.database_url)) as s:
        src = s.get(Source, sid)
        assert src is not None
        return src


def add(client: TestClient, user: ApiUser, **body) -> dict:
    resp = client.post("/api/v1/sources", json=body, headers=user.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_public_profile_into_the_timeline(
    client: TestClient, settings: Settings, fake: FakeBluesky, carol: ApiUser
) -> None:
    kim = fake.actor("kim.example", "Kim Lee", description="my blog: kim-writes.example")
    lee = fake.actor("lee.bsky.social", "Lee")
    first = fake.post(kim, "first 🌱 post")
    fake.post(kim, "a reply", reply_to=first)
    fake.repost(kim, fake.post(lee, "lee's post"))
    out = add(client, carol, url="@kim.example")
    assert out["kind"] == "bluesky" and out["url"] == "https://bsky.app/profile/kim.example"
    stats = sync(settings, fake)
    assert (stats.errors, stats.new_items) == (0, 3), source_of(settings, out["id"]).error_message
    with session_scope(get_engine(settings.database_url)) as s:
        items = {i.title: i for i in s.exec(select(Item)).all()}
        people = {p.id: p.name for p in s.exec(select(Person)).all()}
        person_of = {i.id: i.person_id for i in s.exec(select(Identity)).all()}
        sites = {p.name: p.sites for p in people_store.person_sketches(s, user_id=carol.id)}
    assert items["a reply"].in_reply_to == items["first 🌱 post"].url
    assert items["lee's post"].boosted_by == "kim.example"
    assert people[person_of[items["lee's post"].identity_id]] == "Lee"  # a repost is by its author
    assert "kim-writes.example" in sites["Kim Lee"]  # the profile's link feeds suggestions
    timeline = client.get("/api/v1/timeline", headers=carol.auth).json()["items"]
    assert {i["source"]["kind"] for i in timeline} == {"bluesky"}
    assert sync(settings, fake).new_items == 0  # nothing twice


def test_own_account_contact_both_ways_and_no_secret_out(
    client: TestClient, settings: Settings, fake: FakeBluesky, carol: ApiUser
) -> None:
    me = fake.account("carol.example", "Carol")
    kim = fake.actor("kim.example", "Kim")
    theirs = fake.post(kim, "hi carol")
    fake.timeline.insert(0, fake.feeds[kim["did"]][0])
    fake.notify("mention", kim, fake.post(kim, "@carol look"))
    fake.post(me, "thanks kim", reply_to=theirs)
    fake.like(theirs)
    TXT["_atproto.carol.example"] = [f"did={me['did']}"]
    out = add(client, carol, url="bsky:carol.example", kind="bluesky", token=PASSWORD)
    assert PASSWORD not in str(out)
    listed = client.get("/api/v1/sources", headers=carol.auth).text
    assert PASSWORD not in listed
    stats = sync(settings, fake)
    assert stats.errors == 0, source_of(settings, out["id"]).error_message
    sync(settings, fake)  # a second sync records nothing twice
    with session_scope(get_engine(settings.database_url)) as s:
        got = sorted((i.direction, i.kind) for i in s.exec(select(Interaction)).all())
    assert got == [("in", "mention"), ("out", "favourite"), ("out", "reply")]
    assert PASSWORD not in str(source_of(settings, out["id"]).state)


def test_secondary_stream_failure_keeps_the_source_working(
    client: TestClient, settings: Settings, fake: FakeBluesky, carol: ApiUser
) -> None:
    me = fake.account("carol.example")
    kim = fake.actor("kim.example")
    fake.post(kim, "on the timeline")
    fake.timeline.insert(0, fake.feeds[kim["did"]][0])
    fake.notify("follow", kim)
    TXT["_atproto.carol.example"] = [f"did={me['did']}"]
    sid = add(client, carol, url="https://bsky.app/profile/carol.example", token=PASSWORD)["id"]
    fake.fail["app.bsky.notification.listNotifications"] = 502
    stats = sync(settings, fake)
    src = source_of(settings, sid)
    assert stats.new_items == 1 and src.error_code is None, (src.kind, src.error_message)
    assert src.error_message and "notifications failed" in src.error_message
    fake.fail = {"app.bsky.feed.getTimeline": 500}
    stats = sync(settings, fake)
    src = source_of(settings, sid)
    assert stats.errors == 1 and src.error_code == "server_error"
    with session_scope(get_engine(settings.database_url)) as s:  # notifications still stored
        assert [i.kind for i in s.exec(select(Interaction)).all()] == ["follow"]


def test_rate_limited_sync_waits_for_the_reset(
    client: TestClient, settings: Settings, fake: FakeBluesky, carol: ApiUser
) -> None:
    kim = fake.actor("kim.example")
    fake.post(kim, "one")
    sid = add(client, carol, url="https://bsky.app/profile/kim.example")["id"]
    fake.remaining, fake.reset_in = 0, 7200.0  # longer than the hourly check
    stats = sync(settings, fake)
    src = source_of(settings, sid)
    assert stats.errors == 0 and src.error_code is None
    wait = (src.next_check_at.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()
    assert 7100 < wait <= 7201
    fake.remaining = None
    assert sync(settings, fake).new_items == 1


def test_domain_handle_merges_with_the_blog(
    client: TestClient,
    settings: Settings,
    fake: FakeBluesky,
    feed_server: FeedServer,
    carol: ApiUser,
) -> None:
    feed_server.routes["/feed"] = Reply(
        200, rss(("p1", "Blog post", "<p>hi</p>"), link="https://ann.example/")
    )
    add(client, carol, url=feed_server.url("/feed"))
    ann = fake.actor("ann.example", "Ann A.")
    fake.post(ann, "skeet")
    add(client, carol, url="https://bsky.app/profile/ann.example")
    TXT["_atproto.ann.example"] = [f"did={ann['did']}"]
    assert sync(settings, fake).errors == 0  # the blog may be stored after the account ...
    assert sync(settings, fake).errors == 0  # ... the check is kept, the merge follows
    with session_scope(get_engine(settings.database_url)) as s:
        people = s.exec(select(Person)).all()
        kinds = {
            (i.kind, p.name)
            for p in people
            for i in s.exec(select(Identity).where(Identity.person_id == p.id)).all()
        }
    assert len(people) == 1, kinds  # the blog's author and the Bluesky account are one
    assert {k for k, _ in kinds} >= {"feed_author", "bsky"}


def test_unverified_domain_handle_does_not_merge(
    client: TestClient,
    settings: Settings,
    fake: FakeBluesky,
    feed_server: FeedServer,
    carol: ApiUser,
) -> None:
    feed_server.routes["/feed"] = Reply(
        200, rss(("p1", "Blog post", "<p>hi</p>"), link="https://ann.example/")
    )
    add(client, carol, url=feed_server.url("/feed"))
    ann = fake.actor("ann.example", "Ann A.")
    fake.post(ann, "skeet")
    add(client, carol, url="https://bsky.app/profile/ann.example")
    other = fake.new_did()
    TXT["_atproto.ann.example"] = [f"did={other}"]  # the domain points elsewhere
    assert sync(settings, fake).errors == 0
    assert sync(settings, fake).errors == 0
    with session_scope(get_engine(settings.database_url)) as s:
        assert len(s.exec(select(Person)).all()) == 2


def test_bad_bluesky_addresses_are_clear_4xx(client: TestClient, carol: ApiUser) -> None:
    for url in ("bsky:127.0.0.1", "https://bsky.app/profile/", "bsky:a..b"):
        resp = client.post(
            "/api/v1/sources", json={"url": url, "kind": "bluesky"}, headers=carol.auth
        )
        assert resp.status_code == 422, (url, resp.text)
        assert resp.json()["error"]["code"] == "invalid_input"


def test_only_an_explicit_address_is_taken_for_a_bluesky_handle() -> None:
    from app.jobs.subscriptions import bluesky_actor, default_kind

    assert default_kind("example.org", None) == "feed"  # a site, as it always was
    assert default_kind("https://example.org/feed", None) == "feed"
    for address in (
        "alice.bsky.social",
        "@alice.example",
        "bsky:alice.example",
        "https://bsky.app/profile/alice.example",
    ):
        assert default_kind(address, None) == "bluesky", address
        assert bluesky_actor(address) in {"alice.bsky.social", "alice.example"}
