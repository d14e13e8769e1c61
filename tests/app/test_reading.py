"""Daily reading through the API: read state (open, mark, scroll in the reader), the
catch-up timeline, "mark all read" that leaves later arrivals unread, saved items, and
state that survives re-fetches, merges and copies of one URL. SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings
from app.db import get_engine
from app.jobs.refresh import RefreshOptions, refresh_due
from tests.app.conftest import ApiUser
from tests.app.test_people import people, two_blogs
from tests.helpers import FeedServer, Reply

API = "/api/v1"


def titles(client: TestClient, user: ApiUser, **params: object) -> list[str]:
    answer = client.get(f"{API}/timeline", params={"limit": 200, **params}, headers=user.auth)
    assert answer.status_code == 200, answer.text
    return sorted(i["title"] for i in answer.json()["items"])


def ids(client: TestClient, user: ApiUser) -> dict[str, int]:
    answer = client.get(f"{API}/timeline", params={"limit": 200}, headers=user.auth).json()
    return {i["title"]: i["id"] for i in answer["items"]}


def test_open_and_mark_read_leave_the_unread_view(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    every = titles(client, alice)
    assert every == ["Ann Lee 0", "Ann Lee 1", "Ann Lee 2", "Bo Berg 0", "Bo Berg 1"]
    assert titles(client, alice, state="unread") == every  # nothing read yet
    item = ids(client, alice)
    h = alice.auth
    assert (
        client.post(
            f"{API}/items/{item['Ann Lee 0']}/feedback", json={"action": "open"}, headers=h
        ).status_code
        == 204
    )
    assert client.post(f"{API}/items/{item['Bo Berg 1']}/read", headers=h).status_code == 204
    # a "seen" impression alone is not reading
    client.post(f"{API}/items/{item['Bo Berg 0']}/feedback", json={"action": "seen"}, headers=h)
    assert titles(client, alice, state="unread") == ["Ann Lee 1", "Ann Lee 2", "Bo Berg 0"]
    assert titles(client, alice, state="read") == ["Ann Lee 0", "Bo Berg 1"]
    assert titles(client, alice) == every  # the API's default is still everything
    page = client.get(f"{API}/timeline", params={"limit": 200}, headers=h).json()["items"]
    assert {i["title"]: i["read"] for i in page}["Ann Lee 0"] is True
    counts = client.get(f"{API}/timeline/counts", headers=h).json()
    assert counts == {"unread": 3, "new_since": None}
    # unread again
    assert client.delete(f"{API}/items/{item['Bo Berg 1']}/read", headers=h).status_code == 204
    assert "Bo Berg 1" in titles(client, alice, state="unread")
    # Bob can neither read nor mark Alice's items
    for method in ("post", "delete"):
        for what in ("read", "save"):
            resp = getattr(client, method)(
                f"{API}/items/{item['Ann Lee 1']}/{what}", headers=bob.auth
            )
            assert resp.status_code == 404
    assert titles(client, bob, state="unread") == []
    bad = client.get(f"{API}/timeline", params={"state": "skimmed"}, headers=h)
    assert bad.status_code == 422


def test_mark_all_read_keeps_what_arrived_meanwhile_unread(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    newest = max(ids(client, alice).values())
    # a new post arrives after the client's page was shown
    feed_server.routes["/late"] = Reply(
        200,
        b"<rss version='2.0'><channel><title>Late</title><link>https://late.example/</link>"
        b"<item><guid>late-1</guid><link>https://late.example/1</link><title>Late news</title>"
        b"</item></channel></rss>",
    )
    client.post(f"{API}/sources", json={"url": feed_server.url("/late")}, headers=alice.auth)
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))
    resp = client.post(f"{API}/timeline/mark-read", json={"before": newest}, headers=alice.auth)
    assert resp.status_code == 200 and resp.json() == {"marked": 5}
    assert titles(client, alice, state="unread") == ["Late news"]
    again = client.post(f"{API}/timeline/mark-read", json={"before": newest}, headers=alice.auth)
    assert again.json() == {"marked": 0}
    for body in ({}, {"before": -1}, {"before": "soon"}, {"before": 2**64}):
        bad = client.post(f"{API}/timeline/mark-read", json=body, headers=alice.auth)
        assert bad.status_code == 422, body


def test_mark_all_read_for_one_person(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    bo = people(client, alice)["Bo Berg"]
    newest = max(ids(client, alice).values())
    resp = client.post(
        f"{API}/timeline/mark-read", json={"before": newest, "person": bo["id"]}, headers=alice.auth
    )
    assert resp.json() == {"marked": 2}
    assert titles(client, alice, state="unread") == ["Ann Lee 0", "Ann Lee 1", "Ann Lee 2"]


def test_saved_items_and_state_that_survives_refetch_and_merge(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    item = ids(client, alice)
    h = alice.auth
    assert client.post(f"{API}/items/{item['Ann Lee 2']}/save", headers=h).status_code == 204
    assert client.post(f"{API}/items/{item['Ann Lee 2']}/save", headers=h).status_code == 204
    client.post(f"{API}/items/{item['Bo Berg 0']}/read", headers=h)
    assert titles(client, alice, state="saved") == ["Ann Lee 2"]
    # a re-fetch of every source, then a merge of the two people: nothing forgotten
    for s in client.get(f"{API}/sources", headers=h).json()["items"]:
        client.post(f"{API}/sources/{s['id']}/refresh", headers=h)
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))
    found = people(client, alice)
    merged = client.post(
        f"{API}/people/{found['Ann Lee']['id']}/merge",
        json={"other_id": found["Bo Berg"]["id"]},
        headers=h,
    )
    assert merged.status_code == 200
    assert titles(client, alice, state="saved") == ["Ann Lee 2"]
    assert titles(client, alice, state="read") == ["Bo Berg 0"]
    saved = client.get(f"{API}/timeline", params={"state": "saved"}, headers=h).json()
    assert saved["items"][0]["saved"] is True
    assert client.delete(f"{API}/items/{item['Ann Lee 2']}/save", headers=h).status_code == 204
    assert titles(client, alice, state="saved") == []


def test_a_copy_of_the_same_url_shares_the_read_state(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    post = (
        b"<rss version='2.0'><channel><title>%s</title><link>https://same.example/</link>"
        b"<item><guid>%s</guid><link>https://same.example/post</link><title>Same post</title>"
        b"<author>ann@same.example (Ann)</author></item></channel></rss>"
    )
    feed_server.routes["/one"] = Reply(200, post % (b"One", b"one-1"))
    feed_server.routes["/two"] = Reply(200, post % (b"Two", b"two-1"))
    for path in ("/one", "/two"):
        client.post(f"{API}/sources", json={"url": feed_server.url(path)}, headers=alice.auth)
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))
    shown = client.get(f"{API}/timeline", headers=alice.auth).json()["items"]
    assert [i["title"] for i in shown] == ["Same post"]  # one entry for the two copies
    client.post(f"{API}/items/{shown[0]['id']}/read", headers=alice.auth)
    counts = client.get(f"{API}/timeline/counts", headers=alice.auth).json()
    assert counts["unread"] == 0
    assert titles(client, alice, state="unread") == []
