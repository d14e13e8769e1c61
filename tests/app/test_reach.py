"""Reach out: openers (posts before comments), the ways back from each, and replying on
Mastodon with the user's own account against a fake instance on loopback (both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import Identity, Interaction, Item, Person, Source
from app.people.reach import pick_openers
from app.people.ways import Account, Opening, local_status_id, ways_back
from tests.app.conftest import ApiUser, add_user
from tests.fake_mastodon import TOKEN, FakeMastodon
from tests.helpers import FeedServer, Reply, rss

API = "/api/v1"


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    server = FakeMastodon()
    yield server
    server.close()


@pytest.fixture
def remote() -> Iterator[FakeMastodon]:
    """Another instance: its statuses reach the user's instance only through search."""
    server = FakeMastodon()
    yield server
    server.close()


@pytest.fixture
def settings(settings: Settings, fake: FakeMastodon, remote: FakeMastodon) -> Settings:
    hosts = [*settings.allowed_hosts, fake.host, remote.host]
    return settings.model_copy(update={"allowed_hosts": hosts})


@pytest.fixture
def carol(settings: Settings) -> ApiUser:
    return add_user(settings, "carol")


def sync(settings: Settings) -> None:
    options = RefreshOptions(policy=settings.fetch_policy())
    stats = refresh_due(get_engine(settings.database_url), options, include_all=True)
    assert stats.errors == 0


def add(client: TestClient, user: ApiUser, **body: Any) -> int:
    resp = client.post(f"{API}/sources", json=body, headers=user.auth)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def make_drifting(settings: Settings, user: ApiUser, acct_prefix: str) -> int:
    """Five weekly contacts with the person behind ``acct_prefix``, the last 60 days ago:
    they are drifting. Returns the person's id."""
    now = datetime.now(UTC)
    with session_scope(get_engine(settings.database_url)) as s:
        identity = s.exec(
            select(Identity).where(
                Identity.user_id == user.id, Identity.value.startswith(acct_prefix)
            )
        ).one()
        for n in range(5):
            s.add(
                Interaction(
                    user_id=user.id,
                    person_id=identity.person_id,
                    direction="in",
                    kind="mention",
                    at=now - timedelta(days=60 + 7 * n),
                    external_id=f"test:{acct_prefix}:{n}",
                )
            )
        return identity.person_id


def drifting(client: TestClient, user: ApiUser) -> list[dict[str, Any]]:
    resp = client.get(f"{API}/people/drifting", headers=user.auth)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def setup_kim(
    client: TestClient, settings: Settings, fake: FakeMastodon, user: ApiUser
) -> tuple[int, dict[str, Any], int]:
    """The user's own account on ``fake``; Kim there posts; Kim is drifting.
    Returns (Kim's person id, Kim's status, the account source id)."""
    fake.me = fake.account("carol")
    kim = fake.account("kim", "Kim Lee")
    status = fake.status(kim, "<p>Moving to Lisbon!</p>")
    fake.home.insert(0, status)
    sid = add(client, user, url=fake.base, token=TOKEN)
    sync(settings)
    return make_drifting(settings, user, "kim@"), status, sid


def kim_opener(client: TestClient, user: ApiUser) -> dict[str, Any]:
    (drift,) = drifting(client, user)
    assert drift["person"]["name"] == "Kim Lee"
    opener: dict[str, Any] = drift["openers"][0]
    return opener


# --- pure decisions --------------------------------------------------------------------


def test_openers_prefer_posts_over_comments() -> None:
    def row(kind: str, n: int) -> Any:
        return SimpleNamespace(source=SimpleNamespace(kind=kind), n=n)

    newest_first = [row("comments", 1), row("feed", 2), row("comments", 3), row("mastodon", 4)]
    assert [r.n for r in pick_openers(newest_first, n=3)] == [2, 4, 1]
    only_comments = [row("comments", 1), row("comments", 2)]
    assert [r.n for r in pick_openers(only_comments, n=3)] == [1, 2]


def test_ways_back_decisions() -> None:
    status = Opening(1, "mastodon", "https://a.example/@kim/42", "Moving", acct="kim@a.example")
    can = Account(1, "https://a.example", ("read", "write:statuses"))
    cannot = Account(2, "https://b.example", ("read",))
    (way,) = ways_back(status, accounts=[cannot, can], emails=[])
    assert (way.kind, way.available, way.prefill) == ("mastodon_reply", True, "@kim@a.example ")
    (way,) = ways_back(status, accounts=[cannot], emails=[])
    assert not way.available and "write:statuses" in (way.reason or "")
    (way,) = ways_back(status, accounts=[], emails=[])
    assert not way.available and "Add your own Mastodon account" in (way.reason or "")
    post = Opening(2, "feed", "https://blog.example/p", 'On "tea" & cake', comments_feed="x")
    ways = {w.kind: w for w in ways_back(post, accounts=[can], emails=["ann@blog.example"])}
    assert ways["comment"].url == "https://blog.example/p#respond"
    assert (
        ways["mailto"].url == "mailto:ann@blog.example?subject=Re%3A%20On%20%22tea%22%20%26%20cake"
    )
    # a hashed e-mail is no address; a post without a comment feed: the post itself
    plain = Opening(3, "feed", "https://blog.example/q", "Q")
    assert [w.url for w in ways_back(plain, accounts=[], emails=["0" * 64])] == [
        "https://blog.example/q"
    ]
    assert local_status_id("https://a.example/@kim/42", "https://a.example") == "42"
    assert local_status_id("https://c.example/@kim/42", "https://a.example") is None


# --- through the API, against the fake instance -----------------------------------------


def test_posted_reply_reaches_the_instance_and_counts_as_contact(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    person_id, status, _ = setup_kim(client, settings, fake, carol)
    opener = kim_opener(client, carol)
    (way,) = opener["ways"]
    assert way["kind"] == "mastodon_reply" and way["available"], way
    assert way["prefill"].startswith("@kim@127.0.0.1")
    ways = client.get(f"{API}/items/{opener['id']}/ways", headers=carol.auth).json()["ways"]
    assert ways == opener["ways"]

    resp = client.post(
        f"{API}/items/{opener['id']}/reply", json={"text": "@kim Lisbon!"}, headers=carol.auth
    )
    assert resp.status_code == 201, resp.text
    (posted,) = fake.posts
    assert posted["in_reply_to_id"] == status["id"] and posted["status"] == "@kim Lisbon!"
    assert posted["idempotency_key"]
    assert resp.json()["url"].startswith(f"{fake.base}/@carol/")
    assert drifting(client, carol) == []  # in touch now
    with session_scope(get_engine(settings.database_url)) as s:
        (contact,) = s.exec(select(Interaction).where(Interaction.kind == "reply")).all()
        assert (contact.direction, contact.item_id, contact.person_id) == (
            "out",
            opener["id"],
            person_id,
        )
    sync(settings)  # the next sync sees the same reply: it is not counted twice
    with session_scope(get_engine(settings.database_url)) as s:
        assert len(s.exec(select(Interaction).where(Interaction.kind == "reply")).all()) == 1


def test_a_status_of_another_instance_is_resolved_first(
    client: TestClient,
    settings: Settings,
    fake: FakeMastodon,
    remote: FakeMastodon,
    carol: ApiUser,
) -> None:
    fake.me = fake.account("carol")
    add(client, carol, url=fake.base, token=TOKEN)
    lee = remote.account("lee", "Lee Park")
    theirs = remote.status(lee, "<p>New job</p>")
    add(client, carol, url=f"{remote.base}/@lee")  # followed as a public profile
    fake.remote[theirs["url"]] = theirs
    sync(settings)
    make_drifting(settings, carol, "lee@")
    (drift,) = drifting(client, carol)
    opener = drift["openers"][0]
    assert opener["ways"][0]["available"]
    resp = client.post(
        f"{API}/items/{opener['id']}/reply", json={"text": "Congrats!"}, headers=carol.auth
    )
    assert resp.status_code == 201, resp.text
    searched = [p for p, _ in fake.requests if p.startswith("/api/v2/search")]
    assert len(searched) == 1 and "resolve=true" in searched[0]
    (posted,) = fake.posts
    assert posted["in_reply_to_id"] != theirs["id"]  # the id on the user's own instance
    local = next(s for s in fake.all_statuses() if s["id"] == posted["in_reply_to_id"])
    assert local["url"] == theirs["url"]
    assert all(auth is None for _, auth in remote.requests)  # the token never left


def test_a_token_without_write_statuses_gets_no_button_and_a_refused_reply(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    fake.scopes = ["read"]
    setup_kim(client, settings, fake, carol)
    opener = kim_opener(client, carol)
    (way,) = opener["ways"]
    assert not way["available"] and "write:statuses" in way["reason"]
    resp = client.post(f"{API}/items/{opener['id']}/reply", json={"text": "hi"}, headers=carol.auth)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "scope_missing"
    assert fake.posts == [] and not any(p == "/api/v1/statuses" for p, _ in fake.requests)


def test_an_instance_that_does_not_say_the_scopes(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    fake.scopes_say = set()
    setup_kim(client, settings, fake, carol)
    (way,) = kim_opener(client, carol)["ways"]
    assert not way["available"] and "does not say what the token may do" in way["reason"]
    # apps/verify_credentials alone (Mastodon 4.3+) is enough
    fake.scopes_say = {"apps"}
    sync(settings)
    assert kim_opener(client, carol)["ways"][0]["available"]


def test_refusals_are_clear_errors(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    _, _, sid = setup_kim(client, settings, fake, carol)
    item_id = kim_opener(client, carol)["id"]

    def reply(text: str = "hello") -> tuple[int, dict[str, Any]]:
        resp = client.post(f"{API}/items/{item_id}/reply", json={"text": text}, headers=carol.auth)
        return resp.status_code, resp.json()["error"]

    fake.post_failure = (422, {"error": "Validation failed: Text character limit of 500 exceeded"})
    status, error = reply("x" * 600)
    assert (status, error["code"]) == (422, "reply_refused")
    assert "Text character limit of 500 exceeded" in error["message"]
    fake.post_failure = None
    assert reply("   ")[1]["code"] == "reply_refused"  # blank: refused before posting
    assert reply("y" * 5001)[1]["code"] == "validation_error"
    fake.down = True
    status, error = reply()
    assert (status, error["code"]) == (502, "instance_unavailable")
    fake.down = False
    # the token lost write: the instance says 403; the scopes are checked again and kept
    fake.scopes = ["read"]
    status, error = reply()
    assert (status, error["code"]) == (403, "scope_missing")
    assert kim_opener(client, carol)["ways"][0]["available"] is False
    with session_scope(get_engine(settings.database_url)) as s:
        source = s.get(Source, sid)
        assert source is not None and source.state["scopes"] == ["read"]
    assert fake.posts == []
    assert drifting(client, carol) != []  # nothing was posted: still drifting


def test_feed_posts_get_comment_and_mail_links_not_mastodon(
    client: TestClient, settings: Settings, feed_server: FeedServer, carol: ApiUser
) -> None:
    feed_server.routes["/feed.xml"] = Reply(
        200,
        rss(("p1", "Tea & cake", "<p>x</p>"), link=feed_server.url("/")),
        {"Content-Type": "application/rss+xml"},
    )
    add(client, carol, url=feed_server.url("/feed.xml"))
    sync(settings)
    with session_scope(get_engine(settings.database_url)) as s:
        item = s.exec(select(Item)).one()
        person = s.exec(select(Person).where(Person.name == "Ann Author")).one()
        s.add(Identity(user_id=carol.id, person_id=person.id, kind="email", value="ann@x.example"))
        item_id = item.id
    ways = client.get(f"{API}/items/{item_id}/ways", headers=carol.auth).json()["ways"]
    assert [(w["kind"], w["url"]) for w in ways] == [
        ("comment", feed_server.url("/p1")),
        ("mailto", "mailto:ann@x.example?subject=Re%3A%20Tea%20%26%20cake"),
    ]
    resp = client.post(f"{API}/items/{item_id}/reply", json={"text": "hi"}, headers=carol.auth)
    assert (resp.status_code, resp.json()["error"]["code"]) == (422, "not_a_status")


def test_i_reached_out_takes_them_off_the_list(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    person_id, _, _ = setup_kim(client, settings, fake, carol)
    assert len(drifting(client, carol)) == 1
    resp = client.post(
        f"{API}/people/{person_id}/contacts",
        json={"kind": "message", "direction": "out"},
        headers=carol.auth,
    )
    assert resp.status_code == 201, resp.text
    assert drifting(client, carol) == []


def test_another_users_item_is_not_found(
    client: TestClient, settings: Settings, fake: FakeMastodon, carol: ApiUser
) -> None:
    setup_kim(client, settings, fake, carol)
    item_id = kim_opener(client, carol)["id"]
    dave = add_user(settings, "dave")
    for method, path, body in (
        ("GET", f"{API}/items/{item_id}/ways", None),
        ("POST", f"{API}/items/{item_id}/reply", {"text": "hi"}),
    ):
        resp = client.request(method, path, json=body, headers=dave.auth)
        assert (resp.status_code, resp.json()["error"]["code"]) == (404, "not_found")
    assert fake.posts == []
