"""The Sources, Reach out and Digest pages without a browser: signed out they send you to
the login page; signed in they show only your own things, with everything escaped."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import Interaction, Source
from tests.app.conftest import ApiUser
from tests.app.test_web import HOSTILE, login
from tests.helpers import FeedServer, Reply

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
NOW = datetime.now(UTC)


def refresh(settings: Settings) -> None:
    """Fetch every due source, in a thread of its own: refresh_due runs its own event
    loop, which a Playwright session left in this thread (tests/web) would refuse."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(
            refresh_due,
            get_engine(settings.database_url),
            RefreshOptions(policy=settings.fetch_policy()),
        ).result()


def body_of(html: str) -> str:
    """The page's <main>: the layout (with its own script tags) left out."""
    return html.split("<main>", 1)[1].split("</main>", 1)[0]


@pytest.mark.parametrize("path", ["/sources", "/reach-out", "/digest", "/digest?days=7"])
def test_pages_send_you_to_login_when_signed_out(client: TestClient, path: str) -> None:
    resp = client.get(path, follow_redirects=False)
    assert resp.status_code == 303
    location = resp.headers["location"]
    assert location.startswith("/login?next=")
    assert unquote(location.removeprefix("/login?next=")) == path
    # and the API behind the pages' scripts wants credentials too
    assert client.get("/api/v1/sources").status_code == 401


def test_sources_page_escapes_hostile_titles_folders_and_errors(
    client: TestClient, settings: Settings, alice: ApiUser, bob: ApiUser
) -> None:
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>'
        '<outline text="&lt;img src=x onerror=alert(1)&gt;">'
        '<outline type="rss" text="&lt;script&gt;alert(1)&lt;/script&gt;"'
        ' xmlUrl="https://hostile.example/feed"/></outline>'
        "</body></opml>"
    )
    added = client.post("/api/v1/sources/opml", content=opml, headers=alice.auth).json()
    assert [(s["title"], s["folder"]) for s in added["added"]] == [(SCRIPT, IMG)]
    with session_scope(get_engine(settings.database_url)) as s:
        source = s.exec(select(Source).where(Source.user_id == alice.id)).one()
        source.error_code = "http_error"
        source.error_message = f'{SCRIPT} "quoted" <b onmouseover=alert(1)>x</b>'
        source.error_count = 3
        source.site_url = "javascript:alert(1)"  # never a link
        source.last_success_at = NOW - timedelta(hours=5)
        s.add(source)
    login(client, "alice", "correct horse")
    resp = client.get("/sources")
    assert resp.status_code == 200
    main = body_of(resp.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in main  # the title, shown as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in main  # the folder
    assert "&lt;b onmouseover=alert(1)&gt;" in main  # the error message
    assert "<script" not in main and "<img" not in main and "<b " not in main
    assert "javascript:" not in main
    # the error is marked: the card, its message and how often it failed
    card = re.search(r'<li class="card source failing".*?</li>', main, re.S)
    assert card, main
    assert "Last error" in card.group(0) and "3 failures in a row" in card.group(0)
    assert "http_error" in card.group(0)
    assert re.search(r"Next check</dt>\s*<dd[^>]*>.*?due now", card.group(0), re.S)
    assert "5 h ago" in card.group(0)
    assert "1 failing" in main

    # Bob sees none of it
    client.cookies.clear()
    login(client, "bob", "correct horse")
    bobs = body_of(client.get("/sources").text)
    assert "hostile.example" not in bobs and "alert(1)" not in bobs
    assert "No sources yet" in bobs


def test_reach_out_and_digest_pages_escape_names_and_titles(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    feed_server.routes["/feed"] = Reply(
        200, HOSTILE.replace(b"</item>", f"<pubDate>{now}</pubDate></item>".encode())
    )
    client.post("/api/v1/sources", json={"url": feed_server.url("/feed")}, headers=alice.auth)
    refresh(settings)
    people = client.get("/api/v1/people", headers=alice.auth).json()["items"]
    assert len(people) == 1
    person = people[0]
    renamed = client.patch(
        f"/api/v1/people/{person['id']}", json={"name": SCRIPT}, headers=alice.auth
    )
    assert renamed.status_code == 200
    with session_scope(get_engine(settings.database_url)) as s:
        for days in (70, 60, 50, 40):  # every ten days, then forty days of silence
            s.add(
                Interaction(
                    user_id=alice.id,
                    person_id=person["id"],
                    direction="out",
                    kind="comment",
                    at=NOW - timedelta(days=days),
                )
            )
    drifting = client.get("/api/v1/people/drifting", headers=alice.auth).json()["items"]
    assert [d["person"]["name"] for d in drifting] == [SCRIPT]

    login(client, "alice", "correct horse")
    reach = body_of(client.get("/reach-out").text)
    assert f'href="/people/{person["id"]}">&lt;script&gt;alert(1)&lt;/script&gt;</a>' in reach
    assert "Usually every 10 days, now 40 days." in reach
    assert "Title" in reach  # the opener's title, its markup stripped at ingest
    assert "<script" not in reach and "onerror" not in reach and "javascript:" not in reach
    assert "Nobody is drifting" in reach  # the empty state is there, hidden
    assert re.search(r'<p class="empty" data-empty hidden>', reach)

    digest = client.get("/digest")
    assert digest.status_code == 200
    main = body_of(digest.text)
    assert "Title" in main and "&lt;script&gt;alert(1)&lt;/script&gt;" in main
    assert "<script" not in main and "onerror" not in main and "javascript:" not in main
    assert 'aria-current="page">Last day' in main

    # a time that is not one: said so, and the last day shown
    bad = client.get("/digest", params={"since": "<b>soon</b>"})
    assert bad.status_code == 200
    assert "&lt;b&gt;soon&lt;/b&gt;” is not a date" in bad.text and "<b>soon" not in bad.text
    # an offset's "+" left unencoded in the URL arrives as a space
    offset = client.get("/digest?since=2026-05-01T08:00+02:00")
    assert 'Since <time datetime="2026-05-01T06:00:00+00:00">2026-05-01 06:00 UTC' in offset.text
    later = client.get("/digest", params={"since": (NOW + timedelta(days=1)).isoformat()})
    assert "Nothing new since then." in later.text and "Title" not in body_of(later.text)


def test_empty_reach_out_page(client: TestClient, alice: ApiUser) -> None:
    login(client, "alice", "correct horse")
    page = body_of(client.get("/reach-out").text)
    assert '<p class="empty" data-empty>Nobody is drifting' in page
    assert "data-person" not in page
