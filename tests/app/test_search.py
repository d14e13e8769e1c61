"""Full-text search through the API: words, phrases, exclusions, OR, person: and tag:,
relevance order, safe highlighted snippets, keyset paging, the timeline's exclusions
(hidden, muted, another user's items), the index kept in step by the database
(re-fetch, delete, rename, merge, migration backfill) and hostile queries answered
with a search or a 422, never a 500. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import alembic_config, get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import Person
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply

NOW = datetime.now(UTC)
API = "/api/v1"


def feed(site: str, posts: list[tuple[str, str, str, str]]) -> bytes:
    """RSS: (author name, title, HTML content, tag) per post, newest first."""
    items = "".join(
        f"<item><guid>{site}/{n}</guid><link>{site}/{n}</link><title>{escape(title)}</title>"
        f"<author>{name.split()[0].lower()}@{site.split('//')[1]} ({name})</author>"
        f"<category>{tag}</category>"
        f"<pubDate>{(NOW - timedelta(hours=n + 1)).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        f"<description>{escape(html)}</description></item>"
        for n, (name, title, html, tag) in enumerate(posts)
    )
    return (
        f"<rss version='2.0'><channel><title>{site}</title><link>{site}/</link>{items}"
        "</channel></rss>"
    ).encode()


POSTS = [
    (
        "Priya Raman",
        "Sourdough at last",
        "<p>My <b>sourdough</b> starter finally rose.</p>",
        "baking",
    ),
    ("Priya Raman", "Garden party", "<p>The garden party was lovely &amp; sunny.</p>", "life"),
    ("Priya Raman", "New job!", "<p>I start a new job at the bakery on Monday.</p>", "life"),
    ("Sam Okafor", "Job hunting", "<p>Still looking for a job, new or old.</p>", "life"),
    (
        "Sam Okafor",
        "Garden notes",
        "<p>Tomatoes in the garden, and a <em>wedding</em> soon.</p>",
        "garden",
    ),
]


def ingest(
    client: TestClient,
    settings: Settings,
    server: FeedServer,
    user: ApiUser,
    path: str,
    posts: list[tuple[str, str, str, str]],
) -> int:
    server.routes[path] = Reply(200, feed(f"https://{path.strip('/')}.example", posts))
    resp = client.post(f"{API}/sources", json={"url": server.url(path)}, headers=user.auth)
    assert resp.status_code == 201, resp.text
    refresh(settings)
    return int(resp.json()["id"])


def refresh(settings: Settings) -> None:
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))


def search(client: TestClient, user: ApiUser, q: str, **params: object) -> dict:
    resp = client.get(f"{API}/search", params={"q": q, **params}, headers=user.auth)
    assert resp.status_code == 200, resp.text
    return resp.json()


def titles(page: dict) -> list[str]:
    return [i["title"] for i in page["items"]]


def test_words_phrase_exclusion_or_person_tag_and_snippets(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    ingest(client, settings, feed_server, alice, "/blog", POSTS)
    assert set(titles(search(client, alice, "garden"))) == {"Garden party", "Garden notes"}
    assert titles(search(client, alice, '"new job"')) == ["New job!"]
    assert set(titles(search(client, alice, "job"))) == {"New job!", "Job hunting"}
    assert titles(search(client, alice, "garden -wedding")) == ["Garden party"]
    assert titles(search(client, alice, 'job -"new job"')) == ["Job hunting"]
    assert set(titles(search(client, alice, "sourdough OR tomatoes"))) == {
        "Sourdough at last",
        "Garden notes",
    }
    # person names are searched too, and person: narrows by name or id
    assert len(search(client, alice, "okafor")["items"]) == 2
    assert titles(search(client, alice, "garden person:priya")) == ["Garden party"]
    sam = search(client, alice, 'person:"Sam Okafor"')["items"]
    assert {i["title"] for i in sam} == {"Job hunting", "Garden notes"}
    assert titles(search(client, alice, f"garden person:{sam[0]['person']['id']}")) == [
        "Garden notes"
    ]
    assert titles(search(client, alice, "job tag:LIFE")) != []
    assert titles(search(client, alice, "garden tag:life")) == ["Garden party"]
    # a title match outranks a body match; the shape is a timeline item plus snippet
    ranked = search(client, alice, "job")["items"]
    assert ranked[0]["relevance"] >= ranked[1]["relevance"]
    top = search(client, alice, "sourdough")["items"][0]
    assert top["content"].startswith("<p>") and top["source"]["kind"] == "feed"
    assert top["person"]["name"] == "Priya Raman" and "why" in top and "score" in top
    # the snippet is the text (no item HTML), escaped, with the matches marked
    assert top["snippet"] == "My <mark>sourdough</mark> starter finally rose."
    assert top["snippet_text"] == "My sourdough starter finally rose."
    assert top["marks"] == [[3, 12]]
    party = search(client, alice, "sunny")["items"][0]
    assert party["snippet"] == "The garden party was lovely &amp; <mark>sunny</mark>."
    # another user's items are never searched
    assert search(client, bob, "garden")["items"] == []
    assert search(client, bob, "okafor")["items"] == []


def test_keyset_paging_visits_every_match_once(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    posts = [
        ("Ann Lee", f"Walk {n}", "<p>" + "river " * (n % 4 + 1) + "</p>", "walks")
        for n in range(11)
    ]
    ingest(client, settings, feed_server, alice, "/walks", posts)
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        page = search(client, alice, "river", limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [i["id"] for i in page["items"]]
        relevances = [i["relevance"] for i in page["items"]]
        assert relevances == sorted(relevances, reverse=True)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 11 and len(set(seen)) == 11
    resp = client.get(
        f"{API}/search", params={"q": "river", "cursor": "nonsense"}, headers=alice.auth
    )
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_input"


def test_hidden_muted_filters_and_dates(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    source = ingest(client, settings, feed_server, alice, "/blog", POSTS)
    found = search(client, alice, "garden")["items"]
    party = next(i for i in found if i["title"] == "Garden party")
    notes = next(i for i in found if i["title"] == "Garden notes")
    assert search(client, alice, "garden", source=source + 1000)["items"] == []
    assert len(search(client, alice, "garden", source=source)["items"]) == 2
    assert titles(search(client, alice, "garden", person=party["person"]["id"])) == ["Garden party"]
    # until/since on published: Garden party is 2 h old, Garden notes 5 h
    cut = (NOW - timedelta(hours=3)).isoformat()
    assert titles(search(client, alice, "garden", since=cut)) == ["Garden party"]
    assert titles(search(client, alice, "garden", until=cut)) == ["Garden notes"]
    resp = client.get(
        f"{API}/search", params={"q": "garden", "since": cut, "until": cut}, headers=alice.auth
    )
    assert resp.status_code == 422
    # hidden items and muted people are left out, as in the timeline
    h = alice.auth
    assert (
        client.post(
            f"{API}/items/{party['id']}/feedback", json={"action": "hide"}, headers=h
        ).status_code
        == 204
    )
    assert titles(search(client, alice, "garden")) == ["Garden notes"]
    resp = client.put(
        f"{API}/people/{notes['person']['id']}/weight",
        json={"manual": None, "pinned": False, "muted": True},
        headers=h,
    )
    assert resp.status_code == 200
    assert search(client, alice, "garden")["items"] == []


def test_index_follows_refetch_delete_rename_and_merge(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    ingest(client, settings, feed_server, alice, "/blog", POSTS)
    # a re-fetch with changed content: the new words are found, the old ones are gone
    changed = [POSTS[0][:2] + ("<p>Rye bread instead.</p>", "baking"), *POSTS[1:]]
    feed_server.routes["/blog"] = Reply(200, feed("https://blog.example", changed))
    client.post(
        f"{API}/sources/{search(client, alice, 'garden')['items'][0]['source']['id']}/refresh",
        headers=alice.auth,
    )
    refresh(settings)
    assert titles(search(client, alice, "rye")) == ["Sourdough at last"]
    assert titles(search(client, alice, "starter")) == []
    # a deleted item leaves the index
    job = search(client, alice, "hunting")["items"][0]
    assert client.delete(f"{API}/items/{job['id']}", headers=alice.auth).status_code == 204
    assert search(client, alice, "hunting")["items"] == []
    # a renamed person is found by the new name
    sam_id = search(client, alice, "tomatoes")["items"][0]["person"]["id"]
    with session_scope(get_engine(settings.database_url)) as s:
        person = s.get(Person, sam_id)
        assert person is not None
        person.name = "Samuel Okafor-Birch"
    assert titles(search(client, alice, "samuel birch")) == ["Garden notes"]
    assert search(client, alice, "person:sam")["items"] == []
    # merged into Priya: Sam's items are hers for person:
    priya_id = search(client, alice, "sourdough")["items"][0]["person"]["id"]
    resp = client.post(
        f"{API}/people/{priya_id}/merge", json={"other_id": sam_id}, headers=alice.auth
    )
    assert resp.status_code == 200, resp.text
    assert "Garden notes" in titles(search(client, alice, "garden person:priya"))


HOSTILE = [
    "",
    " ",
    "-",
    '"',
    '"""',
    "NEAR(garden party)",
    "garden*",
    "^garden",
    "garden AND OR NOT",
    "title:garden",
    "person:",
    "tag:",
    "person:'; DROP TABLE item; --",
    "'; DROP TABLE item; --",
    "garden' OR '1'='1",
    '" OR 1=1 --',
    "(((garden",
    "garden)))",
    "{title}: garden",
    "garden NOT",
    "-garden -party",
    "😀 🎉",
    "東京 Café ÜBER",
    "\x00\x01garden",
    "a" * 10_240,
    "garden " * 2000,
    "person:99999999999999999999999 garden",
    "garden:::party",
    "&lt;script&gt;",
    "<script>alert(1)</script>",
    "%",
    "_",
    "\\",
]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_queries_search_or_answer_422(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, q: str
) -> None:
    if not feed_server.routes:
        ingest(client, settings, feed_server, alice, "/blog", POSTS)
    resp = client.get(f"{API}/search", params={"q": q}, headers=alice.auth)
    assert resp.status_code in (200, 422), resp.text
    if resp.status_code == 422:
        assert resp.json()["error"]["code"] in ("invalid_query", "query_too_long")
    else:
        for item in resp.json()["items"]:
            assert "<script" not in item["snippet"]


def test_backfill_indexes_items_stored_before_the_migration(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    ingest(client, settings, feed_server, alice, "/blog", POSTS)
    cfg = alembic_config(settings.database_url)
    command.downgrade(cfg, "0013")
    engine = get_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE item SET title = title || ' backfilled'"))
    command.upgrade(cfg, "heads")
    assert len(search(client, alice, "backfilled")["items"]) == len(POSTS)
    assert titles(search(client, alice, '"new job"')) == ["New job! backfilled"]
