"""Reach out and the digest in Chromium: who is drifting (the demo's Sam Okafor), with
openers; snooze and dismiss take them off the list; the digest over a day and a week."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Page, expect

from tests.web.conftest import LiveServer, login, screenshot


def drifting(live_server: LiveServer) -> list[dict[str, Any]]:
    found = live_server.api("GET", "/people/drifting")
    assert isinstance(found, dict)
    items: list[dict[str, Any]] = found["items"]
    return items


def test_digest_page(page: Page, live_server: LiveServer) -> None:
    login(page)
    page.click("nav >> text=Digest")
    page.wait_for_url("**/digest")
    expect(page.locator("h1")).to_have_text("Digest")
    expect(page.locator(".ranges a[aria-current=page]")).to_have_text("Last day")

    page.click(".ranges >> text=Last week")
    page.wait_for_url("**/digest?days=7")
    expect(page.locator(".ranges a[aria-current=page]")).to_have_text("Last week")
    since = page.locator("main > p.muted time").get_attribute("datetime")
    assert since
    digest = live_server.api("GET", f"/digest?since={since.replace('+00:00', 'Z')}")
    assert isinstance(digest, dict)
    # the same digest as the API's over the same time: items, life events, reach out
    titles = [i["title"] for i in digest["items"]]
    assert len(titles) >= 5
    expect(page.locator("ol.digest-items > li .title")).to_have_text(titles)
    events = [s["event"] for s in digest["stories"]]
    assert "wedding" in events
    expect(page.locator(".stories .badge.event")).to_have_text(events)
    expect(page.locator(".stories .title a").first).to_have_attribute("rel", "noopener noreferrer")
    reach = page.locator("ul.drifts > li")
    expect(reach).to_have_count(len(digest["reach_out"]))
    for n, d in enumerate(digest["reach_out"]):
        expect(reach.nth(n).locator("a.person")).to_have_attribute(
            "href", f"/people/{d['person_id']}"
        )
        expect(reach.nth(n).locator(".reason")).to_have_text(d["why"])
    screenshot(page, "digest")

    # a since that is no time: said so, and the last day shown instead
    page.goto("/digest?since=yesterday-ish")
    expect(page.locator("main .error")).to_contain_text("is not a date and time")
    expect(page.locator("h1")).to_have_text("Digest")


def test_reach_out_openers_snooze_and_dismiss(page: Page, live_server: LiveServer) -> None:
    expected = drifting(live_server)
    # the demo's contact history: Sam Okafor, written to every nine days, silent since
    assert [d["person"]["name"] for d in expected] == ["Sam Okafor"]
    sam = expected[0]
    login(page)
    page.click("nav >> text=Reach out")
    page.wait_for_url("**/reach-out")
    cards = page.locator("ul.drifts > li.drift")
    expect(cards).to_have_count(1)
    card = cards.first
    expect(card.locator(".avatar")).to_have_text("SO")
    expect(card.locator("a.person")).to_have_text("Sam Okafor")
    expect(card.locator("a.person")).to_have_attribute("href", f"/people/{sam['person']['id']}")
    gap, since = round(sam["usual_gap_days"]), round(sam["days_since_contact"])
    expect(card.locator(".headline")).to_have_text(f"Usually every {gap} days, now {since} days.")
    expect(card.locator(".reason")).to_have_text(sam["why"])
    # openers: their recent posts, linking out safely, with when
    openers = card.locator(".opener")
    expect(openers.locator("a")).to_have_text([o["title"] for o in sam["openers"]])
    assert len(sam["openers"]) >= 1
    for n, opener in enumerate(sam["openers"]):
        link = openers.nth(n).locator("a")
        expect(link).to_have_attribute("href", opener["url"])
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        expect(openers.nth(n).locator("time")).to_have_attribute(
            "datetime", re.compile(r"^\d{4}-\d\d-\d\dT")
        )
    expect(page.locator("[data-empty]")).to_be_hidden()
    screenshot(page, "reach-out")

    # snooze: off the list now, and for two weeks as far as the API is concerned
    card.locator("button[data-reach=snooze]").click()
    expect(cards).to_have_count(0)
    expect(page.locator("[data-empty]")).to_be_visible()
    expect(page.locator("#toast")).to_contain_text("Snoozed")
    assert drifting(live_server) == []
    page.reload()
    expect(page.locator("[data-empty]")).to_be_visible()
    expect(cards).to_have_count(0)
    screenshot(page, "reach-out-empty")

    # the snooze over (set through the API): back; dismiss takes them off for this silence
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    live_server.api(
        "POST", f"/people/{sam['person']['id']}/snooze", json.dumps({"until": past}).encode()
    )
    assert [d["person"]["name"] for d in drifting(live_server)] == ["Sam Okafor"]
    page.reload()
    expect(cards).to_have_count(1)
    expect(page.locator("[data-empty]")).to_be_hidden()
    cards.first.locator("button[data-reach=dismiss]").click()
    expect(cards).to_have_count(0)
    expect(page.locator("#toast")).to_contain_text("Dismissed")
    expect(page.locator("[data-empty]")).to_be_visible()
    assert drifting(live_server) == []
    page.reload()
    expect(page.locator("[data-empty]")).to_be_visible()


def test_reach_out_fits_a_phone(page: Page, live_server: LiveServer) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    login(page)
    for path in ("/reach-out", "/digest?days=7"):
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
