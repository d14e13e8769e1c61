"""The Sources page in Chromium: add a source (and see the API's errors), import and
export OPML, retry, pause, resume and remove, a failing source marked, phone width."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime

import pytest
from playwright.sync_api import FilePayload, Locator, Page, expect

from tests.web.conftest import LiveServer, Problems, login, screenshot

NEW_FEED = "https://blog.example.org/feed.xml"


@pytest.fixture(autouse=True)
def _api_refusals_are_expected(problems: Problems) -> None:
    """The add form provokes the API's 4xx answers on the Sources routes on purpose (the
    page shows them); Chromium logs each as a console error, which is forgiven for those
    routes only. Any other console error, page error or CSP violation fails the test."""
    problems.expected_api_errors.append("/sources")


def sources(live_server: LiveServer) -> dict[str, dict[str, object]]:
    """The demo user's sources by URL, as the API has them."""
    page = live_server.api("GET", "/sources?limit=500")
    assert isinstance(page, dict)
    return {s["url"]: s for s in page["items"]}


def card(page: Page, url: str) -> Locator:
    return page.locator("li.source").filter(has=page.locator(".feed-url", has_text=url))


def open_sources(page: Page) -> None:
    login(page)
    page.click("nav >> text=Sources")
    page.wait_for_url("**/sources")
    expect(page.locator("h1")).to_have_text("Sources")


def test_add_a_source_and_see_the_apis_errors(page: Page, live_server: LiveServer) -> None:
    open_sources(page)
    before = sources(live_server)
    assert len(before) == 4 and NEW_FEED not in before
    expect(page.locator("li.source")).to_have_count(4)

    # a good address, without discovery: stored at once (nothing fetched), due for a check
    page.fill("#add-url", NEW_FEED)
    page.fill("#add-folder", "Friends")
    page.click("form[data-add] button[type=submit]")
    added = card(page, NEW_FEED)
    expect(added).to_have_count(1)
    expect(added).to_have_class(re.compile(r"\bnew\b"))
    expect(page.locator("#toast")).to_contain_text("Added")
    expect(added.locator("[data-folder]")).to_have_text("Friends")
    expect(added.locator(".badge.kind")).to_have_text("feed")
    expect(added.locator("[data-next-check]")).to_have_text(re.compile(r"due now|in \d+ (min|h)"))
    expect(added.locator("[data-next-check] time")).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-")
    )
    stored = sources(live_server)[NEW_FEED]
    assert stored["folder"] == "Friends" and stored["kind"] == "feed"
    assert stored["last_success_at"] is None
    expect(page.locator("#add-url")).to_have_value("")  # the form is ready for the next
    expect(page.locator("[data-summary]")).to_contain_text("5 sources")

    # the network guard refuses a loopback address: the API's message, on the page
    error = page.locator("[data-add-error]")
    expect(error).to_be_hidden()
    page.fill("#add-url", "http://127.0.0.1:9/feed")
    page.click("form[data-add] button[type=submit]")
    expect(error).to_be_visible()
    expect(error).to_contain_text("not a public address")
    # not an address at all
    page.fill("#add-url", "not a url")
    page.click("form[data-add] button[type=submit]")
    expect(error).to_contain_text("scheme")
    # already followed
    page.fill("#add-url", NEW_FEED)
    page.click("form[data-add] button[type=submit]")
    expect(error).to_contain_text("already follow")
    # typing hides the old error; nothing was added by any of these
    page.fill("#add-url", "x")
    expect(error).to_be_hidden()
    assert len(sources(live_server)) == 5
    expect(page.locator("li.source")).to_have_count(5)


def test_import_and_export_opml(page: Page, live_server: LiveServer) -> None:
    open_sources(page)
    count = len(sources(live_server))
    opml = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>From another reader</title></head><body>
  <outline text="News">
    <outline type="rss" text="One" xmlUrl="https://one.example.net/feed"/>
    <outline type="rss" text="Two" xmlUrl="https://two.example.net/rss.xml"/>
  </outline>
  <outline type="rss" text="Intranet" xmlUrl="http://10.0.0.1/feed"/>
</body></opml>"""
    upload = FilePayload(name="subs.opml", mimeType="text/x-opml", buffer=opml)
    report = page.locator("[data-opml-report]")
    page.click("form[data-opml] button[type=submit]")  # no file yet
    expect(report).to_contain_text("Choose an OPML file")
    page.set_input_files("#opml-file", files=[upload])
    page.click("form[data-opml] button[type=submit]")
    expect(report).to_contain_text("Added 2 sources; skipped 1.")
    expect(report.locator("li")).to_have_text([re.compile(r"^http://10\.0\.0\.1/feed: .+")])
    for url, title in (
        ("https://one.example.net/feed", "One"),
        ("https://two.example.net/rss.xml", "Two"),
    ):
        found = card(page, url)
        expect(found).to_have_count(1)
        expect(found.locator(".title")).to_have_text(title)
        expect(found.locator("[data-folder]")).to_have_text("News")
    stored = sources(live_server)
    assert len(stored) == count + 2
    assert stored["https://one.example.net/feed"]["folder"] == "News"
    assert "http://10.0.0.1/feed" not in stored

    # the same file again: everything is skipped as already followed
    page.set_input_files("#opml-file", files=[upload])
    page.click("form[data-opml] button[type=submit]")
    expect(report).to_contain_text("Added 0 sources; skipped 3.")
    expect(report).to_contain_text("already follow")

    # export: an OPML file with every source
    with page.expect_download() as download:
        page.click("button[data-export]")
    path = download.value.path()
    exported = path.read_text(encoding="utf-8")
    assert download.value.suggested_filename == "kith-sources.opml"
    assert "https://one.example.net/feed" in exported and "/sam/feed.atom" in exported


def test_retry_pause_resume_and_remove(page: Page, live_server: LiveServer) -> None:
    url = "https://retry.example.com/feed"
    made = live_server.api("POST", "/sources", json.dumps({"url": url}).encode())
    assert isinstance(made, dict)
    open_sources(page)
    one = card(page, url)
    expect(one).to_have_count(1)

    # pause: marked, not checked, and a Resume button
    one.locator("button[data-action=pause]").click()
    expect(one.locator(".paused-badge")).to_be_visible()
    expect(one.locator("[data-next-check]")).to_have_text("none while paused")
    expect(one.locator("button[data-action=resume]")).to_be_visible()
    assert sources(live_server)[url]["paused"] is True
    # resume
    one.locator("button[data-action=resume]").click()
    expect(one.locator("button[data-action=pause]")).to_be_visible()
    expect(one.locator(".paused-badge")).to_have_count(0)
    assert sources(live_server)[url]["paused"] is False

    # retry now: paused again first, then Retry unpauses it and makes it due
    one.locator("button[data-action=pause]").click()
    expect(one.locator(".paused-badge")).to_be_visible()
    clicked = datetime.now(UTC)
    one.locator("button[data-action=refresh]").click()
    expect(page.locator("#toast")).to_contain_text("will be checked")
    expect(one.locator(".paused-badge")).to_have_count(0)
    after = sources(live_server)[url]
    assert after["paused"] is False
    next_check = datetime.fromisoformat(str(after["next_check_at"]))
    checked = after["last_checked_at"]
    # due now, unless the scheduler has already taken it (and scheduled the next check)
    assert next_check <= datetime.now(UTC) or (
        checked is not None and datetime.fromisoformat(str(checked)) >= clicked
    )

    # remove asks again on the button itself; only the second click removes
    remove = one.locator("button[data-action=remove]")
    remove.click()
    expect(remove).to_have_text("Really remove?")
    assert url in sources(live_server)
    remove.click()
    expect(card(page, url)).to_have_count(0)
    expect(page.locator("#toast")).to_contain_text("removed")
    assert url not in sources(live_server)
    page.reload()
    expect(page.locator("li.source").first).to_be_visible()
    expect(card(page, url)).to_have_count(0)


def test_a_failing_source_is_marked_and_the_page_fits_a_phone(
    page: Page, live_server: LiveServer
) -> None:
    # a fetch failure as the scheduler records it (on a source not due for a day)
    target = next(u for u in sources(live_server) if u.endswith("/priya/rss.xml"))
    with sqlite3.connect(live_server.database, timeout=10) as db:
        db.execute(
            "UPDATE source SET error_code = ?, error_message = ?, error_count = 3 WHERE url = ?",
            ("http_error", "the server answered 503 Service Unavailable", target),
        )
    open_sources(page)
    failing = card(page, target)
    expect(failing).to_have_class(re.compile(r"\bfailing\b"))
    error = failing.locator("[data-error]")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Last error")
    expect(error).to_contain_text("503 Service Unavailable")
    expect(error).to_contain_text("3 failures in a row")
    # the summary counts the failing ones (sources added by the other tests fail too, once
    # the scheduler has tried them: their hosts do not exist)
    summary = page.locator("[data-summary]").inner_text()
    failing_count = re.search(r"(\d+) failing", summary)
    assert failing_count, summary
    assert int(failing_count.group(1)) == page.locator("li.source.failing").count()
    healthy = card(page, "/sam/feed.atom")
    expect(healthy).not_to_have_class(re.compile(r"\bfailing\b"))
    expect(healthy.locator("[data-error]")).to_have_count(0)
    screenshot(page, "sources")

    page.set_viewport_size({"width": 375, "height": 800})
    expect(failing).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "sources-phone")
