"""The reader's add form in Chromium: a comment feed added without discovery is filed as
a plain feed, recognised as comments on its first refresh (the live server's own
scheduler), and its comments are contact from their writers; a blog with a post titled
"Comments on ..." added the same way stays a feed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import FeedServer, Reply
from tests.ingest.test_kinds import blog_rss, wp_comments_rss
from tests.web.conftest import LiveServer, login, screenshot, start_live_server

SITE = "https://demo-blog.example"
RSS = {"Content-Type": "application/rss+xml; charset=UTF-8"}


@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    server.routes["/wp/comments.xml"] = Reply(
        200,
        wp_comments_rss(SITE, [("hello", "Bea Commenter", 21), ("hello", "Cy Commenter", 22)]),
        RSS,
    )
    server.routes["/news.xml"] = Reply(
        200,
        blog_rss("https://news.example", [("budget", "Comments on the budget")]),
        RSS,
    )
    yield server
    server.close()


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, feeds: FeedServer
) -> Iterator[LiveServer]:
    """The demo, with the loopback feed server allow-listed and a quick scheduler."""
    env = {
        "KITH_ALLOWED_HOSTS": json.dumps([feeds.hostport]),
        # the test waits for the live server's first refresh of a newly added feed;
        # at the default 30 s tick it would mostly wait for the clock
        "KITH_SCHEDULER_TICK_SECONDS": "1",
    }
    with start_live_server(tmp_path_factory.mktemp("kith-kinds"), env) as server:
        yield server


def kind_of(live_server: LiveServer, url: str) -> str | None:
    rows = live_server.rows("SELECT kind, last_success_at FROM source WHERE url = ?", url)
    return str(rows[0][0]) if rows and rows[0][1] is not None else None


def wait_until_fetched(live_server: LiveServer, url: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kind = kind_of(live_server, url)
        if kind is not None:
            return kind
        time.sleep(0.25)
    raise AssertionError(f"{url} was not refreshed within {timeout}s")


def test_the_add_form_files_a_comment_feed_as_comments(
    page: Page, live_server: LiveServer, feeds: FeedServer
) -> None:
    live_server.api(  # the demo user's own blog, which the comments are on
        "PUT",
        "/me/identities",
        json.dumps({"identities": [{"kind": "url", "value": SITE + "/"}]}).encode(),
    )
    comments_url, blog_url = feeds.url("/wp/comments.xml"), feeds.url("/news.xml")
    login(page)
    page.click("nav >> text=Sources")
    page.wait_for_url("**/sources")
    for url in (comments_url, blog_url):
        page.fill("#add-url", url)
        page.click("form[data-add] button[type=submit]")
        added = page.locator("li.source").filter(has=page.locator(".feed-url", has_text=url))
        expect(added).to_have_count(1)
        expect(added.locator(".badge.kind")).to_have_text("feed")  # nothing fetched yet

    assert wait_until_fetched(live_server, comments_url) == "comments"
    assert wait_until_fetched(live_server, blog_url) == "feed"
    contact = live_server.rows(
        "SELECT i.direction, p.name FROM interaction i JOIN person p ON p.id = i.person_id "
        "JOIN item it ON it.id = i.item_id JOIN source s ON s.id = it.source_id "
        "WHERE s.url = ? ORDER BY p.name",
        comments_url,
    )
    assert contact == [("in", "Bea Commenter"), ("in", "Cy Commenter")]

    page.reload()
    card = page.locator("li.source").filter(has=page.locator(".feed-url", has_text=comments_url))
    expect(card.locator(".badge.kind")).to_have_text("comments")
    blog = page.locator("li.source").filter(has=page.locator(".feed-url", has_text=blog_url))
    expect(blog.locator(".badge.kind")).to_have_text("feed")
    screenshot(page, "sources-comment-kind")
