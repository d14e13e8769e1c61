"""The reader's timeline in Chromium: log in, read, like and hide, keys, log out."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from tests.web.conftest import LiveServer, login, screenshot


def test_login_timeline_like_hide_and_logout(page: Page, live_server: LiveServer) -> None:
    login(page)
    items = page.locator("ol.timeline > li.item")
    expect(items.first).to_be_visible()
    count = items.count()
    assert count >= 5
    # every item shows who, where from, when, and why on demand
    first = items.first
    expect(first.locator(".avatar")).to_have_text(re.compile(r"^[A-Z?]{1,2}$"))
    expect(first.locator(".person")).not_to_be_empty()
    expect(first.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    why = first.locator("details.why")
    why.locator("summary").click()
    expect(why.locator("li").first).to_be_visible()
    screenshot(page, "timeline")

    # like: the API records it and the button says so
    liked_id = first.get_attribute("data-item")
    first.locator('button[data-feedback="like"]').click()
    expect(first.locator('button[data-feedback="like"]')).to_have_attribute("aria-pressed", "true")
    # hide: the item leaves the page, and stays gone after a reload
    second = items.nth(1)
    hidden_id = second.get_attribute("data-item")
    second.locator('button[data-feedback="hide"]').click()
    expect(page.locator(f"#item-{hidden_id}")).to_have_count(0)
    page.reload()
    expect(page.locator("ol.timeline > li.item").first).to_be_visible()
    expect(page.locator(f"#item-{hidden_id}")).to_have_count(0)
    api_ids = [str(i["id"]) for i in live_server.api("GET", "/timeline?limit=200")["items"]]  # type: ignore[index]
    assert hidden_id not in api_ids and liked_id in api_ids

    # log out: the timeline asks for a login again
    page.click("header form[action='/logout'] button")
    page.wait_for_url("**/login")
    page.goto("/")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))


def test_keyboard_shortcuts(page: Page, live_server: LiveServer) -> None:
    login(page)
    items = page.locator("ol.timeline > li.item")
    expect(items.first).to_be_visible()
    before = items.count()
    page.keyboard.press("j")
    expect(items.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("j")
    expect(items.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("k")
    expect(items.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("l")
    expect(items.nth(0).locator('button[data-feedback="like"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    page.keyboard.press("j")
    target = items.nth(1).get_attribute("data-item")
    page.keyboard.press("h")
    expect(page.locator(f"#item-{target}")).to_have_count(0)
    expect(items).to_have_count(before - 1)
    page.keyboard.press("+")
    expect(page.locator("#toast")).to_contain_text("more from")
    page.keyboard.press("-")
    expect(page.locator("#toast")).to_contain_text("less from")
    # o opens the current item in a new tab (the demo's links point at its feed server)
    with page.context.expect_page() as opened:
        page.keyboard.press("o")
    opened.value.close()
    page.keyboard.press("?")
    expect(page.locator("dialog#help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog#help")).to_be_hidden()


def test_items_scrolled_past_are_reported_seen_with_their_rank(
    page: Page, live_server: LiveServer
) -> None:
    page.set_viewport_size({"width": 900, "height": 500})
    login(page)
    items = page.locator("ol.timeline > li.item")
    expect(items.first).to_be_visible()
    first, second = (items.nth(i).get_attribute("data-item") for i in (0, 1))
    page.mouse.wheel(0, 100_000)  # to the bottom: the first items scroll past the top

    def seen() -> dict[int, int]:
        rows = live_server.rows("SELECT item_id, rank FROM feedback WHERE action = 'seen'")
        return {int(str(i)): int(str(r)) for i, r in rows}

    deadline = time.monotonic() + 10
    while not {int(str(first)), int(str(second))} <= set(seen()) and time.monotonic() < deadline:
        time.sleep(0.1)
    got = seen()
    assert got.get(int(str(first))) == 1 and got.get(int(str(second))) == 2, got
    last = items.last.get_attribute("data-item")
    assert int(str(last)) not in got  # still on screen: not scrolled past


def test_phone_width_and_dark_mode(page: Page, live_server: LiveServer) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    page.emulate_media(color_scheme="dark")
    login(page)
    expect(page.locator("ol.timeline > li.item").first).to_be_visible()
    for path in ("/", "/people", "/sources", "/reach-out", "/digest"):
        page.goto(path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways at phone width by {overflow}px"
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        red, green, blue = (int(v) for v in re.findall(r"\d+", background)[:3])
        assert red + green + blue < 150, f"{path} is not dark in dark mode: {background}"
    page.goto("/")
    screenshot(page, "timeline-phone-dark")
