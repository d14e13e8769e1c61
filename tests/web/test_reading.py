"""Daily reading in Chromium against ``kith serve --demo``: opening an item marks it
read, scrolling past marks read only while that setting is on, "mark all read" leaves
an item that arrived meanwhile unread, save and unsave (button and key). Each step is
checked in the database too. The tests share one server and run in file order."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.web.conftest import LiveServer, login, screenshot

ITEMS = "ol.timeline > li.item"


def read_ids(live_server: LiveServer) -> set[int]:
    return {int(r[0]) for r in live_server.rows("SELECT id FROM item WHERE read_at IS NOT NULL")}


def api_page(live_server: LiveServer, state: str) -> list[dict[str, Any]]:
    answer = live_server.api("GET", f"/timeline?limit=200&state={state}")
    assert isinstance(answer, dict)
    return list(answer["items"])


def test_opening_an_item_marks_it_read(page: Page, live_server: LiveServer) -> None:
    login(page)
    items = page.locator(ITEMS)
    expect(items.first).to_be_visible()
    # the setting off for this test: only opening counts
    page.locator("[data-read-on-scroll]").uncheck()
    first = items.first
    item_id = int(first.get_attribute("data-item") or 0)
    with page.context.expect_page() as opened:
        first.locator("a[data-open]").click()
    opened.value.close()
    expect(first).to_have_attribute("data-read", "true")
    assert item_id in read_ids(live_server)
    page.reload()
    expect(page.locator(f"#item-{item_id}")).to_have_count(0)  # gone from the unread view
    page.goto("/?state=read")
    expect(page.locator(f"#item-{item_id}")).to_have_count(1)
    # and back to unread with the key
    page.locator(f"#item-{item_id}").click(position={"x": 5, "y": 5})
    page.keyboard.press("m")
    expect(page.locator(f"#item-{item_id}")).to_have_attribute("data-read", "false")
    assert item_id not in read_ids(live_server)


def test_scrolling_past_marks_read_only_when_the_setting_is_on(
    page: Page, live_server: LiveServer
) -> None:
    login(page)
    page.set_viewport_size({"width": 900, "height": 500})
    expect(page.locator(ITEMS).first).to_be_visible()
    box = page.locator("[data-read-on-scroll]")
    box.uncheck()
    page.mouse.wheel(0, 20000)
    page.wait_for_timeout(800)
    assert read_ids(live_server) == set()  # off: scrolling reads nothing
    page.reload()
    expect(box).not_to_be_checked()  # the setting is remembered
    box.check()
    first = int(page.locator(ITEMS).first.get_attribute("data-item") or 0)
    page.mouse.wheel(0, 20000)
    expect(page.locator(f"#item-{first}")).to_have_attribute("data-read", "true")
    assert first in read_ids(live_server)


def test_mark_all_read_keeps_an_item_that_arrived_meanwhile_unread(
    page: Page, live_server: LiveServer
) -> None:
    login(page)
    page.locator("[data-read-on-scroll]").uncheck()
    expect(page.locator(ITEMS).first).to_be_visible()
    unread = api_page(live_server, "unread")
    assert len(unread) >= 2
    newest = max(i["id"] for i in unread)
    # as if the newest item had arrived after this page was shown
    page.evaluate(
        "(n) => { document.querySelector('[data-reading]').dataset.newest = String(n); }",
        newest - 1,
    )
    page.locator("[data-mark-all-read]").click()
    expect(page.locator("#toast")).to_contain_text("marked read")
    page.wait_for_url("**/")
    expect(page.locator(ITEMS)).to_have_count(1)
    assert [i["id"] for i in api_page(live_server, "unread")] == [newest]
    expect(page.locator(f"#item-{newest}")).to_have_count(1)
    expect(page.locator("[data-end]")).to_contain_text("everything unread")
    screenshot(page, "timeline-unread-end")


def test_save_and_unsave(page: Page, live_server: LiveServer) -> None:
    login(page)
    page.goto("/?state=all")
    first = page.locator(ITEMS).first
    expect(first).to_be_visible()
    item_id = int(first.get_attribute("data-item") or 0)
    first.locator("[data-save]").click()
    expect(first.locator("[data-save]")).to_have_attribute("aria-pressed", "true")
    saved = live_server.rows("SELECT id FROM item WHERE saved_at IS NOT NULL")
    assert [int(r[0]) for r in saved] == [item_id]
    page.goto("/?state=saved")
    expect(page.locator(ITEMS)).to_have_count(1)
    # unsave with the key
    page.locator(ITEMS).first.click(position={"x": 5, "y": 5})
    page.keyboard.press("s")
    expect(page.locator(f"#item-{item_id} [data-save]")).to_have_attribute("aria-pressed", "false")
    assert not live_server.rows("SELECT id FROM item WHERE saved_at IS NOT NULL")
    page.goto("/?state=saved")
    expect(page.locator(ITEMS)).to_have_count(0)
