"""XSS through everything a feed controls, rendered by the web reader in Chromium: entry
content (script, event handlers, javascript: and data: links, <base>, SVG script, CSS
url(javascript:), iframes, forms, meta refresh), titles and author names. Nothing runs:
no dialog opens, no script error or CSP violation is reported (the ``page`` fixture
fails the test on any), the hostile names show as text, and no element in the page
carries an event handler or a javascript: URL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.fake_mastodon import FakeMastodon
from tests.helpers import FeedServer, Reply
from tests.web.conftest import LiveServer, login, start_live_server

NAME = '<script>alert("name")</script>"><img src=x onerror=alert(1)>'
TITLE = '<img src=x onerror=alert("title")>Hello'
CONTENT = """
<p onclick="alert('p')">Body text<script>alert('script')</script></p>
<a href="javascript:alert('href')">js link</a>
<a href="data:text/html,<script>alert('data')</script>">data link</a>
<a href="JaVaScRiPt&colon;alert('entity')">entity link</a>
<base href="javascript:alert('base')//">
<svg><script>alert('svg')</script><a xlink:href="javascript:alert('svgl')"><text>s</text></a></svg>
<div style="background:url(javascript:alert('css'))">styled</div>
<iframe src="javascript:alert('iframe')"></iframe>
<form action="javascript:alert('form')"><button>go</button></form>
<meta http-equiv="refresh" content="0;url=javascript:alert('meta')">
<img src="x" onerror="alert('img')">
<math><mtext><table><mglyph><style><img src=x onerror=alert('mxss')></style></mglyph></table></mtext></math>
<details open ontoggle="alert('toggle')">d</details>
"""


GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


@pytest.fixture(scope="module")
def hostile() -> Iterator[FeedServer]:
    server = FeedServer()
    feed = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{_x(TITLE)}</title>
<id>urn:hostile</id><updated>2026-11-26T10:00:00Z</updated>
<link href="javascript:alert('feedlink')"/>
<entry><id>urn:e1</id><title type="html">{_x(TITLE)}</title>
<link href="javascript:alert('entrylink')"/>
<author><name>{_x(NAME)}</name><uri>javascript:alert('uri')</uri></author>
<updated>2026-11-26T10:00:00Z</updated>
<content type="html">{_x(CONTENT)}</content></entry>
</feed>""".encode()
    server.routes["/hostile.xml"] = Reply(200, feed, {"Content-Type": "application/atom+xml"})
    # the payloads' "x" images, resolved against the feed: they load (so a failed image
    # load is not mistaken for a finding); their onerror handlers never get the chance
    server.routes["/x"] = Reply(200, GIF, {"Content-Type": "image/gif"})
    yield server
    server.close()


def _x(text: str) -> str:
    """Escape for the XML document (the feed carries the markup as text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.fixture(scope="module")
def mastodon(hostile: FeedServer) -> Iterator[FakeMastodon]:
    """A Mastodon account with a hostile display name, custom emoji whose image URL is
    javascript:, and a status full of markup, shortcodes and a hostile spoiler."""
    fake = FakeMastodon()
    eve = fake.account("eve", display_name=NAME + " :evil:")
    eve["emojis"] = [
        {
            "shortcode": "evil",
            "url": "javascript:alert('emoji')",
            "static_url": "javascript:alert('emoji')",
            "visible_in_picker": True,
        }
    ]
    # images point at the hostile server's real gif (a failed load is not a finding)
    content = CONTENT.replace('src="x"', f'src="{hostile.url("/x")}"').replace(
        "src=x", f"src={hostile.url('/x')}"
    )
    toot = fake.status(eve, content + "<p>Toot :evil: here</p>", spoiler=TITLE)
    toot["emojis"] = eve["emojis"]
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def live_server(  # the demo, also allowed to fetch the hostile sources, ticking every second
    tmp_path_factory: pytest.TempPathFactory, hostile: FeedServer, mastodon: FakeMastodon
) -> Iterator[LiveServer]:
    env = {
        "KITH_ALLOWED_HOSTS": json.dumps([hostile.hostport, mastodon.host]),
        "KITH_SCHEDULER_TICK_SECONDS": "1",
    }
    with start_live_server(Path(tmp_path_factory.mktemp("kith-xss")), env) as server:
        for url in (hostile.url("/hostile.xml"), f"{mastodon.base}/@eve"):
            server.api("POST", "/sources", json.dumps({"url": url}).encode())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            items = server.api("GET", "/timeline?limit=200")["items"]  # type: ignore[index]
            kinds = {i["source"]["kind"] for i in items if "Body text" in i["content"]}
            if {"feed", "mastodon"} <= kinds or ("feed" in kinds and "mastodon" in kinds):
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"the hostile sources were never ingested: {kinds}")
        yield server


def test_nothing_a_feed_sends_runs_in_the_reader(page: Page, live_server: LiveServer) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page)
    toot = page.locator("li.item", has_text="Toot")
    expect(toot).to_have_count(1)
    toot.locator("details.content summary").click()
    expect(toot.locator(".body")).to_contain_text(":evil:")  # a shortcode stays text
    hostile_item = page.locator("li.item", has_text="Hello").filter(has_not_text="Toot")
    expect(hostile_item).to_have_count(1)
    # the name is plain text since ingest (markup stripped), and shown as text
    api_item = next(
        i
        for i in live_server.api("GET", "/timeline?limit=200")["items"]  # type: ignore[index]
        if "Hello" in i["title"] and i["source"]["kind"] == "feed"
    )
    expect(hostile_item.locator(".person")).to_contain_text('">')
    assert "<" not in hostile_item.locator(".person").inner_html()
    expect(hostile_item.locator(".title")).to_contain_text("Hello")
    hostile_item.locator("details.content summary").click()
    hostile_item.locator("details.why summary").click()
    expect(hostile_item.locator(".body")).to_contain_text("Body text")
    person_page = f"/people/{api_item['person']['id']}"
    for path in ("/", "/people", person_page, "/sources", "/reach-out", "/digest"):
        page.goto(path)
        page.wait_for_load_state("load")
        bad = page.evaluate(
            """() => [...document.querySelectorAll('*')].flatMap((el) =>
                [...el.attributes].filter((a) => /^on/i.test(a.name)
                    || /^\\s*(javascript|data|vbscript):/i.test(a.value)
                       && ['href', 'src', 'action', 'formaction', 'xlink:href'].includes(a.name))
                  .map((a) => `${el.tagName} ${a.name}=${a.value}`))"""
        )
        assert bad == [], f"{path}: {bad}"
        scripts = page.evaluate(
            "() => [...document.scripts].map((s) => s.src || ('inline:' + s.textContent))"
        )
        assert all(s.startswith(live_server.base + "/static/") for s in scripts), (path, scripts)
        assert page.locator("base").count() == 0 and page.locator("iframe").count() == 0
    # links in item content were kept only when they are plain web links
    page.goto("/")
    for link in page.locator("li.item .body a").all():
        href = link.get_attribute("href") or ""
        assert href.startswith(("http://", "https://", "#")) or href == "", href
    assert dialogs == []
