"""People through the API: read, weigh, say how you know them, merge and split without
losing anything, and who you are drifting away from. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import func, select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import Feedback, Identity, Interaction, Item, Person
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply

NOW = datetime.now(UTC)


def two_blogs(
    client: TestClient, settings: Settings, feed_server: FeedServer, user: ApiUser
) -> None:
    def feed(author: str, site: str, n: int) -> bytes:
        items = "".join(
            f"<item><guid>{site}/{i}</guid><link>{site}/{i}</link><title>{author} {i}</title>"
            f"<author>{author.lower().split()[0]}@{site.split('//')[1]} ({author})</author>"
            f"<pubDate>{(NOW - timedelta(days=i)).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>"
            for i in range(n)
        )
        return f"<rss version='2.0'><channel><title>{author}</title><link>{site}/</link>{items}</channel></rss>".encode()

    feed_server.routes["/ann"] = Reply(200, feed("Ann Lee", "https://ann.example", 3))
    feed_server.routes["/bo"] = Reply(200, feed("Bo Berg", "https://bo.example", 2))
    for path in ("/ann", "/bo"):
        assert (
            client.post(
                "/api/v1/sources", json={"url": feed_server.url(path)}, headers=user.auth
            ).status_code
            == 201
        )
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))


def people(client: TestClient, user: ApiUser) -> dict[str, dict]:
    return {p["name"]: p for p in client.get("/api/v1/people", headers=user.auth).json()["items"]}


def counts(settings: Settings) -> tuple[int, int, int]:
    with session_scope(get_engine(settings.database_url)) as s:
        return (
            s.exec(select(func.count()).select_from(Item)).one(),
            s.exec(select(func.count()).select_from(Feedback)).one(),
            s.exec(select(func.count()).select_from(Interaction)).one(),
        )


def test_people_list_weight_and_relationships(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    found = people(client, alice)
    ann = found["Ann Lee"]
    assert ann["item_count"] == 3 and ann["identities"][0]["kind"] == "email_sha256"
    # no contact, no feedback: the learned affinity is the base rate's (0 over it)
    assert ann["weight"] == {
        "learned": 0.0,
        "manual": None,
        "recent": 0.0,
        "pinned": False,
        "muted": False,
        "effective": 0.0,
        "exposure": 0.0,
    }
    resp = client.put(
        f"/api/v1/people/{ann['id']}/weight",
        json={"manual": 1.5, "pinned": True, "muted": False},
        headers=alice.auth,
    )
    assert resp.status_code == 200 and resp.json()["weight"]["effective"] == 1.5
    assert (
        client.put(
            f"/api/v1/people/{ann['id']}/weight", json={"manual": 3}, headers=alice.auth
        ).status_code
        == 422
    )
    resp = client.patch(
        f"/api/v1/people/{ann['id']}",
        json={"relationships": ["friend", "met"], "name": "Ann"},
        headers=alice.auth,
    )
    assert resp.json()["relationships"] == ["friend", "met"] and resp.json()["name"] == "Ann"
    assert (
        client.patch(
            f"/api/v1/people/{ann['id']}", json={"relationships": ["enemy"]}, headers=alice.auth
        ).status_code
        == 422
    )
    # another user's person: 404 everywhere
    for call in (
        lambda: client.get(f"/api/v1/people/{ann['id']}", headers=bob.auth),
        lambda: client.put(
            f"/api/v1/people/{ann['id']}/weight", json={"manual": 1}, headers=bob.auth
        ),
        lambda: client.patch(f"/api/v1/people/{ann['id']}", json={"name": "x"}, headers=bob.auth),
        lambda: client.post(
            f"/api/v1/people/{ann['id']}/merge", json={"other_id": ann["id"] + 1}, headers=bob.auth
        ),
    ):
        assert call().status_code == 404
    assert client.get("/api/v1/people", headers=bob.auth).json()["items"] == []


def test_merge_then_split_round_trips_with_nothing_lost(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    found = people(client, alice)
    ann, bo = found["Ann Lee"], found["Bo Berg"]
    engine = get_engine(settings.database_url)
    with session_scope(engine) as s:
        item_id = s.exec(select(Item.id).where(Item.title == "Bo Berg 0")).one()
        s.add(Feedback(user_id=alice.id, item_id=item_id, action="like"))
        s.add(
            Interaction(
                user_id=alice.id, person_id=bo["id"], direction="out", kind="comment", at=NOW
            )
        )
    before = counts(settings)
    merged = client.post(
        f"/api/v1/people/{ann['id']}/merge", json={"other_id": bo["id"]}, headers=alice.auth
    ).json()
    assert merged["item_count"] == 5 and len(merged["identities"]) == 2
    assert client.get(f"/api/v1/people/{bo['id']}", headers=alice.auth).status_code == 404
    assert counts(settings) == before
    bo_identity = next(i for i in merged["identities"] if i["id"] == bo["identities"][0]["id"])
    split = client.post(
        f"/api/v1/people/{ann['id']}/split",
        json={"identity_id": bo_identity["id"]},
        headers=alice.auth,
    )
    assert (
        split.status_code == 200
        and split.json()["item_count"] == 2
        and split.json()["name"] == "Bo Berg"
    )
    assert counts(settings) == before
    timeline = client.get("/api/v1/timeline?limit=50", headers=alice.auth).json()["items"]
    assert {i["person"]["name"] for i in timeline} == {"Ann Lee", "Bo Berg"}
    # a person's last identity stays
    only = client.get(f"/api/v1/people/{split.json()['id']}", headers=alice.auth).json()[
        "identities"
    ][0]["id"]
    assert (
        client.post(
            f"/api/v1/people/{split.json()['id']}/split",
            json={"identity_id": only},
            headers=alice.auth,
        ).status_code
        == 422
    )


def test_drifting_through_the_api(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    found = people(client, alice)
    ann, bo = found["Ann Lee"], found["Bo Berg"]
    with session_scope(get_engine(settings.database_url)) as s:
        for days in (70, 60, 50, 40):  # every ten days, then forty days of silence
            s.add(
                Interaction(
                    user_id=alice.id,
                    person_id=ann["id"],
                    direction="out",
                    kind="comment",
                    at=NOW - timedelta(days=days),
                )
            )
            s.add(
                Interaction(
                    user_id=alice.id,
                    person_id=bo["id"],
                    direction="in",
                    kind="comment",
                    at=NOW - timedelta(days=days - 38),
                )
            )
    items = client.get("/api/v1/people/drifting", headers=alice.auth).json()["items"]
    assert [d["person"]["name"] for d in items] == ["Ann Lee"]
    contact = client.get(f"/api/v1/people/{ann['id']}", headers=alice.auth).json()["contact"]
    assert contact["count"] == 4 and contact["last_year"] == {"out": {"comment": 4}, "in": {}}
    drift = items[0]
    assert round(drift["days_since_contact"]) == 40 and drift["usual_gap_days"] == 10.0
    assert [o["title"] for o in drift["openers"]] == ["Ann Lee 0", "Ann Lee 1", "Ann Lee 2"]
    until = (NOW + timedelta(days=5)).isoformat()
    assert (
        client.post(
            f"/api/v1/people/{ann['id']}/snooze", json={"until": until}, headers=alice.auth
        ).status_code
        == 200
    )
    assert client.get("/api/v1/people/drifting", headers=alice.auth).json()["items"] == []


def test_weak_name_suggestions_accepted_and_rejected(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    def feed(site: str, *names: str) -> bytes:
        items = "".join(
            f"<item><guid>{site}/{n}</guid><title>{n}</title><dc:creator>{n}</dc:creator></item>"
            for n in names
        )
        return (
            f"<rss version='2.0' xmlns:dc='http://purl.org/dc/elements/1.1/'><channel><title>{site}</title>"
            f"<link>https://{site}/</link>{items}</channel></rss>"
        ).encode()

    feed_server.routes["/one"] = Reply(200, feed("one.example", "Sam Okafor", "Kim Lee"))
    feed_server.routes["/two"] = Reply(200, feed("two.example", "sam okafor", "Kim  Lee"))
    for path in ("/one", "/two"):
        client.post("/api/v1/sources", json={"url": feed_server.url(path)}, headers=alice.auth)
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))
    got = client.get("/api/v1/people/suggestions", headers=alice.auth).json()["items"]
    pairs = {tuple(sorted(p["name"] for p in s["people"])): s for s in got}
    assert set(pairs) == {("Sam Okafor", "sam okafor"), ("Kim Lee", "Kim Lee")}
    sam, kim = pairs[("Sam Okafor", "sam okafor")], pairs[("Kim Lee", "Kim Lee")]
    assert sam["confidence"] == 0.7 and [r.lower() for r in sam["reasons"]] == [
        "the same name: 'sam okafor'"
    ]
    a, b = (p["id"] for p in kim["people"])
    assert (
        client.post(
            "/api/v1/people/suggestions/reject", json={"a": a, "b": b}, headers=bob.auth
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/api/v1/people/suggestions/reject", json={"a": a, "b": b}, headers=alice.auth
        ).status_code
        == 204
    )
    a, b = (p["id"] for p in sam["people"])
    merged = client.post(
        "/api/v1/people/suggestions/accept", json={"a": a, "b": b}, headers=alice.auth
    ).json()
    assert merged["item_count"] == 2 and len(merged["identities"]) == 2
    assert client.get("/api/v1/people/suggestions", headers=alice.auth).json()["items"] == []
    with session_scope(get_engine(settings.database_url)) as s:
        assert s.exec(select(func.count()).select_from(Person)).one() == 3
        assert s.exec(select(func.count()).select_from(Identity)).one() == 4


def test_digest_and_atom_feed(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    body = (
        b"<rss version='2.0'><channel><title>Mia</title><link>https://mia.example/</link>"
        b"<item><guid>https://mia.example/1</guid><title>We're getting married!</title><author>mia@mia.example (Mia)</author>"
        + f"<pubDate>{NOW.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>".encode()
        + b"<description>&lt;p&gt;Yes &lt;script&gt;x&lt;/script&gt;&lt;/p&gt;</description></item>"
        b"<item><guid>https://mia.example/2</guid><title>Bread & butter</title>"
        + f"<pubDate>{NOW.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>".encode()
        + b"</item></channel></rss>"
    )
    feed_server.routes["/mia"] = Reply(200, body)
    client.post("/api/v1/sources", json={"url": feed_server.url("/mia")}, headers=alice.auth)
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))
    digest = client.get("/api/v1/digest", headers=alice.auth).json()
    assert len(digest["items"]) == 2
    assert [(s["item"]["title"], s["event"]) for s in digest["stories"]] == [
        ("We're getting married!", "wedding")
    ]
    page = client.get("/api/v1/digest?format=html", headers=alice.auth)
    assert (
        page.status_code == 200
        and "wedding" in page.text
        and "<script" not in page.text.split("<body>")[1]
    )
    # the Atom feed: its own token in the URL, which opens nothing else
    url = client.post("/api/v1/me/feed-token", headers=alice.auth).json()["url"]
    path = url.split("testserver")[-1]
    atom = client.get(path)
    assert atom.status_code == 200 and atom.headers["content-type"].startswith(
        "application/atom+xml"
    )
    assert b"We're getting married!" in atom.content and b"<script" not in atom.content
    token = path.split("/feeds/")[1].split("/")[0]
    assert (
        client.get("/api/v1/timeline", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    assert (
        client.get(f"/api/v1/feeds/{alice.token}/atom.xml").status_code == 404
    )  # an API token is no feed token
    assert client.delete("/api/v1/me/feed-token", headers=alice.auth).status_code == 204
    assert client.get(path).status_code == 404
