"""Reach out and the digest in Chromium: who is drifting (the demo's Sam Okafor), with
openers; snooze and dismiss take them off the list; the digest over a day and a week.
With the demo user's own Mastodon account on a fake instance (loopback, allow-listed):
a reply composed on the page reaches the instance; "I reached out" takes someone off."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.fake_mastodon import TOKEN, FakeMastodon
from tests.web.conftest import LiveServer, login, screenshot, start_live_server


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeMastodon]:
    server = FakeMastodon()
    yield server
    server.close()


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeMastodon
) -> Iterator[LiveServer]:
    """The demo, with the fake Mastodon instance allow-listed and a quick scheduler."""
    env = {"KITH_ALLOWED_HOSTS": json.dumps([fake.host]), "KITH_SCHEDULER_TICK_SECONDS": "1"}
    with start_live_server(tmp_path_factory.mktemp("kith-reach"), env) as server:
        yield server


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
    expect(openers.locator(".opener-head a")).to_have_text([o["title"] for o in sam["openers"]])
    assert len(sam["openers"]) >= 1
    for n, opener in enumerate(sam["openers"]):
        link = openers.nth(n).locator(".opener-head a")
        # and the ways back from it, as the API gives them (a comment: its thread)
        ways = openers.nth(n).locator("a.way")
        expect(ways).to_have_text([w["label"] for w in opener["ways"]])
        for m, way in enumerate(opener["ways"]):
            expect(ways.nth(m)).to_have_attribute("href", way["url"])
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


def person_named(live_server: LiveServer, name: str) -> dict[str, Any]:
    """Wait for the scheduler's first sync of the account to bring ``name`` in."""
    for _ in range(120):
        found = live_server.api("GET", "/people?limit=200")
        assert isinstance(found, dict)
        for p in found["items"]:
            if p["name"] == name:
                return dict(p)
        time.sleep(0.25)
    raise AssertionError(f"{name} never arrived: {live_server.log.read_text()[-2000:]}")


def drifting_from_mastodon(live_server: LiveServer, fake: FakeMastodon) -> list[dict[str, Any]]:
    """Kim and Max post on the demo user's own instance (the fake); five weekly contacts
    with each, the last two months ago, make them drifting."""
    fake.me = fake.account("demo")
    statuses = []
    for username, name in (("kim", "Kim Lee"), ("max", "Max Moro")):
        status = fake.status(fake.account(username, name), f"<p>{name} moved house</p>")
        fake.home.insert(0, status)
        statuses.append(status)
    live_server.api("POST", "/sources", json.dumps({"url": fake.base, "token": TOKEN}).encode())
    now = datetime.now(UTC)
    for name in ("Kim Lee", "Max Moro"):
        person = person_named(live_server, name)
        for n in range(5):
            at = (now - timedelta(days=60 + 7 * n)).isoformat()
            body = {"kind": "call", "direction": "in", "at": at}
            live_server.api("POST", f"/people/{person['id']}/contacts", json.dumps(body).encode())
    return statuses


def test_reply_on_mastodon_and_i_reached_out(
    page: Page, live_server: LiveServer, fake: FakeMastodon
) -> None:
    kim_status, _ = drifting_from_mastodon(live_server, fake)
    names = [d["person"]["name"] for d in drifting(live_server)]
    assert {"Kim Lee", "Max Moro"} <= set(names)
    login(page)
    page.goto("/reach-out")
    kim = page.locator("li.drift", has=page.locator("a.person", has_text="Kim Lee"))
    max_ = page.locator("li.drift", has=page.locator("a.person", has_text="Max Moro"))
    compose = kim.locator("form[data-compose]")
    expect(compose).to_be_hidden()
    kim.locator("button[data-reply-open]").first.click()
    expect(compose).to_be_visible()
    text = compose.locator("textarea")
    expect(text).to_have_value(re.compile(r"^@kim@127\.0\.0\.1:\d+ $"))
    expect(text).to_be_focused()
    screenshot(page, "reach-out-compose")
    text.fill(text.input_value() + "Congratulations on the new place!")
    compose.locator("button[type=submit]").click()
    expect(kim).to_have_count(0)
    expect(page.locator("#toast")).to_contain_text("Replied to Kim Lee on Mastodon")
    (posted,) = fake.posts
    assert posted["in_reply_to_id"] == kim_status["id"]
    assert posted["status"].endswith("Congratulations on the new place!")
    assert "Kim Lee" not in [d["person"]["name"] for d in drifting(live_server)]

    # "I reached out": recorded in the contact log, off the list, and still off on reload
    expect(max_).to_have_count(1)
    max_.locator("button[data-reach=reached]").click()
    expect(max_).to_have_count(0)
    expect(page.locator("#toast")).to_contain_text("you reached out to Max Moro")
    assert "Max Moro" not in [d["person"]["name"] for d in drifting(live_server)]
    page.reload()
    expect(page.locator("a.person", has_text="Max Moro")).to_have_count(0)
    expect(page.locator("a.person", has_text="Kim Lee")).to_have_count(0)
    rows = live_server.rows(
        "SELECT p.name, i.kind, i.logged FROM interaction i JOIN person p ON p.id = i.person_id"
        " WHERE i.direction = 'out' AND p.name IN ('Kim Lee', 'Max Moro')"
    )
    assert sorted(rows) == [("Kim Lee", "reply", 0), ("Max Moro", "message", 1)]
