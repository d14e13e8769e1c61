# ruff: noqa: F811 - the fixtures of test_mastodon are imported by name
"""Mastodon, completed: streams that fail on their own, relationship flags in the ranking,
edits and deletions reconciled by the re-read window, verified profile links as rel=me."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.scoring import rank_all_pending
from app.models import Identity, Item, ItemTombstone, Person
from tests.app.conftest import ApiUser
from tests.app.test_mastodon import add, carol, fake, items_of, settings, source_of, sync  # noqa: F401
from tests.fake_mastodon import TOKEN, FakeMastodon
from tests.helpers import FeedServer, Reply

SCOPE_403 = (403, {"error": "This action is outside the authorized scopes"})


def own_account(fake: FakeMastodon) -> dict:
    fake.me = fake.account("carol")
    return fake.me


def test_each_stream_fails_on_its_own(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    me, kim = own_account(fake), fake.account("kim")
    fake.home.insert(0, fake.status(kim, "<p>on the home timeline</p>"))
    fake.notify("favourite", kim, fake.status(me, "<p>mine</p>"))
    fake.failures = {
        "/api/v1/notifications": SCOPE_403,
        f"/api/v1/accounts/{me['id']}/statuses": (404, {"error": "Record not found"}),
        "/api/v1/favourites": (500, {"error": "We're sorry, but something went wrong"}),
    }
    sid = add(client, carol, url=fake.base, token=TOKEN)
    stats = sync(settings)
    assert (stats.errors, stats.new_items) == (0, 1)  # home stored
    out = client.get(f"/api/v1/sources/{sid}", headers=carol.auth).json()
    assert out["error_code"] is None
    errors = out["stream_errors"]
    assert errors["notifications"]["code"] == "scope_missing"
    assert "needs the read:notifications scope" in errors["notifications"]["message"]
    assert errors["own_statuses"]["code"] == "not_found"
    assert errors["favourites"]["code"] == "server_error"
    assert "home" not in errors
    assert [i.content for i in items_of(settings)] == ["<p>on the home timeline</p>"]
    fake.failures.clear()  # the instance recovers: the streams catch up, errors clear
    sync(settings)
    assert client.get(f"/api/v1/sources/{sid}", headers=carol.auth).json()["stream_errors"] == {}
    with session_scope(get_engine(settings.database_url)) as s:
        from app.models import Interaction

        assert [i.kind for i in s.exec(select(Interaction)).all()] == ["favourite"]


def test_primary_stream_failing_is_the_source_error(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    own_account(fake)
    fake.failures = {"/api/v1/timelines/home": SCOPE_403}
    sid = add(client, carol, url=fake.base, token=TOKEN)
    sync(settings)
    src = source_of(settings, sid)
    assert src.error_code == "auth_failed" and src.paused
    assert "read:statuses" in (src.error_message or "")


def test_edit_and_deletion_are_reconciled(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    kim = fake.account("kim")
    start = datetime.now(UTC) - timedelta(hours=3)
    kept, edited, deleted = (
        fake.status(kim, f"<p>{word}</p>", created_at=start + timedelta(minutes=n))
        for n, word in enumerate(("kept", "first version", "regrettable"))
    )
    sid = add(client, carol, url=f"{fake.base}/@kim")
    assert sync(settings).new_items == 3
    edited_at = datetime.now(UTC).replace(microsecond=0)
    edited["content"] = "<p>second version</p>"
    edited["edited_at"] = edited_at.isoformat().replace("+00:00", "Z")
    fake.delete(deleted)
    fake.requests.clear()
    stats = sync(settings)
    assert stats.updated == 1
    by_text = {i.content: i for i in items_of(settings)}
    assert set(by_text) == {"<p>kept</p>", "<p>second version</p>"}
    assert by_text["<p>second version</p>"].updated == edited_at
    assert f"/api/v1/statuses/{deleted['id']}" in [p for p, _ in fake.requests]
    with session_scope(get_engine(settings.database_url)) as s:
        (stone,) = s.exec(select(ItemTombstone)).all()
    assert (stone.reason, stone.source_id) == ("deleted", sid)
    assert stone.dedupe_key.endswith(deleted["id"])
    timeline = client.get("/api/v1/timeline", headers=carol.auth).json()["items"]
    assert "regrettable" not in str(timeline)
    sync(settings)  # nothing comes back, nothing else goes
    assert len(items_of(settings)) == 2 and kept["id"]


def test_home_keeps_a_status_that_only_left_the_timeline(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    own_account(fake)
    kim, lee = fake.account("kim"), fake.account("lee")
    gone, unfollowed = fake.status(kim, "<p>deleted</p>"), fake.status(lee, "<p>still there</p>")
    fake.home[:0] = [unfollowed, gone]
    add(client, carol, url=fake.base, token=TOKEN)
    sync(settings)
    fake.delete(gone)
    fake.home.remove(unfollowed)  # unfollowed: out of home, but the status exists
    sync(settings)
    assert [i.content for i in items_of(settings)] == ["<p>still there</p>"]


def test_endorsed_account_ranks_above_an_equal_one(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    own_account(fake)
    kim, lee = fake.account("kim", "Kim"), fake.account("lee", "Lee")
    at = datetime.now(UTC) - timedelta(hours=1)
    for who in (lee, kim):  # the same text at the same time; lee first on the timeline
        fake.home.insert(0, fake.status(who, "<p>a day at the sea</p>", created_at=at))
    for who in (kim, lee):
        fake.relationships[who["id"]] = {"following": True, "followed_by": True}
    fake.relationships[lee["id"]]["note"] = "met at the conference"  # a note weighs less
    fake.endorsed = [kim]
    add(client, carol, url=fake.base, token=TOKEN)
    sync(settings)
    engine = get_engine(settings.database_url)
    with session_scope(engine) as s:
        flags = {i.value.split("@")[0]: i.relationship for i in s.exec(select(Identity)).all()}
    mutual = {"following": True, "followed_by": True}
    assert flags["kim"] == {**mutual, "endorsed": True, "note": False}
    assert flags["lee"] == {**mutual, "endorsed": False, "note": True}
    rank_all_pending(engine, now=datetime.now(UTC))
    items = client.get("/api/v1/timeline", headers=carol.auth).json()["items"]
    assert [i["person"]["name"] for i in items] == ["Kim", "Lee"]
    reasons = " ".join(r["reason"] for r in items[0]["why"])
    assert "featured" in reasons and "follow each other" in reasons
    # un-featured: the next full read of /endorsements clears the flag, and kim's items
    # are scored again
    fake.endorsed = []
    from app.models import Source

    with session_scope(engine) as s:
        source = s.exec(select(Source)).one()
        source.state = {**source.state, "endorsements_at": "2000-01-01T00:00:00+00:00"}
        s.add(source)
    sync(settings)
    with session_scope(engine) as s:
        kim_ident = s.exec(select(Identity).where(Identity.value.startswith("kim@"))).one()
        assert kim_ident.relationship["endorsed"] is False
        assert all(
            i.scored_at is None
            for i in s.exec(select(Item)).all()
            if "Kim" in (i.author_name or "")
        )


def test_verified_profile_link_merges_account_and_blog(
    client: TestClient,
    settings: Settings,
    fake: FakeMastodon,
    feed_server: FeedServer,
    carol: ApiUser,
) -> None:
    blog = feed_server.url("/")
    feed_server.routes["/feed"] = Reply(
        200,
        (
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Kim</title>'
            f"<id>{blog}</id><updated>2026-11-01T00:00:00Z</updated>"
            f"<author><name>Kim Lee</name><uri>{blog}</uri></author>"
            f'<entry><id>{blog}1</id><title>On the blog</title><link href="{blog}1"/>'
            "<updated>2026-11-01T00:00:00Z</updated><content>b</content></entry></feed>"
        ).encode(),
        {"Content-Type": "application/atom+xml"},
    )
    kim = fake.account(
        "kim",
        "Kim Lee",
        fields=[
            {
                "name": "Blog",
                "value": f'<a href="{blog}" rel="me nofollow noopener">{blog}</a>',
                "verified_at": "2026-10-01T00:00:00.000+00:00",
            },
            {"name": "Shop", "value": '<a href="https://shop.example/">s</a>', "verified_at": None},
        ],
    )
    fake.status(kim, "<p>on mastodon</p>")
    add(client, carol, url=feed_server.url("/feed"))
    add(client, carol, url=f"{fake.base}/@kim")
    assert sync(settings).errors == 0
    with session_scope(get_engine(settings.database_url)) as s:
        people = s.exec(select(Person).where(Person.is_self == False)).all()  # noqa: E712
        keys = sorted((i.kind, i.person_id) for i in s.exec(select(Identity)).all())
    assert len(people) == 1, keys
    assert {k for k, _ in keys} == {"acct", "url"}
    assert not any("shop.example" in str(k) for k in keys)  # not verified: no evidence
