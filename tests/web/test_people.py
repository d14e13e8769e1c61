"""The People pages in Chromium against ``kith serve --demo``: the list, weights (slider,
pin, mute, autopilot) felt on the timeline, merge suggestions, one person's page.

The tests share one demo server and run in file order: the list is looked at first,
weights are set and undone, then the two Sams are merged (which changes ids)."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import Page, Response, expect

from tests.web.conftest import LiveServer, login, screenshot


def people(live_server: LiveServer) -> list[dict[str, Any]]:
    answer = live_server.api("GET", "/people?limit=200")
    assert isinstance(answer, dict)
    return list(answer["items"])


def person_named(live_server: LiveServer, name: str) -> dict[str, Any]:
    found = [p for p in people(live_server) if p["name"] == name]
    assert len(found) == 1, found
    return found[0]


def timeline_people(page: Page) -> list[str]:
    """Who wrote each item of the timeline page, top to bottom."""
    page.goto("/")
    items = page.locator("ol.timeline > li.item")
    expect(items.first).to_be_visible()
    return [t.strip() for t in items.locator(".meta .person").all_inner_texts()]


def api_timeline_people(live_server: LiveServer) -> list[str]:
    answer = live_server.api("GET", "/timeline?limit=200")
    assert isinstance(answer, dict)
    return [(i["person"] or {}).get("name", "") for i in answer["items"]]


def card(page: Page, person_id: int) -> Any:
    return page.locator(f'li.person-card[data-person-card="{person_id}"]')


def is_weight_put(person_id: int, method: str = "PUT") -> Any:
    def match(resp: Response) -> bool:
        return resp.url.endswith(f"/api/v1/people/{person_id}/weight") and (
            resp.request.method == method
        )

    return match


def test_people_list_shows_everyone_with_controls(page: Page, live_server: LiveServer) -> None:
    login(page)
    page.goto("/people")
    expect(page).to_have_title(re.compile("People"))
    cards = page.locator("ul.people > li.person-card")
    expect(cards).to_have_count(5)
    names = [n.strip() for n in cards.locator("h2 .person").all_inner_texts()]
    assert sorted(names) == sorted(
        ["Sam Okafor", "Sam Okafor", "Priya Raman", "Jonas Berg", "Maya Lindqvist"]
    )
    # highest effective weight first, as the API computes it
    by_id = {p["id"]: p for p in people(live_server)}
    shown = [int(c.get_attribute("data-person-card") or 0) for c in cards.all()]
    effective = [by_id[i]["weight"]["effective"] for i in shown]
    assert effective == sorted(effective, reverse=True), effective
    assert names[0] == "Maya Lindqvist"

    maya = card(page, shown[0])
    expect(maya.locator(".avatar")).to_have_text("ML")
    expect(maya.locator("h2 a.person")).to_have_attribute("href", f"/people/{shown[0]}")
    expect(maya.locator("ul.tags li")).to_have_text(["family", "friend"])
    expect(maya.locator("ul.identities li")).not_to_have_count(0)
    slider = maya.locator('input[type="range"]')
    for attribute, value in (("min", "-2"), ("max", "2"), ("step", "0.5")):
        expect(slider).to_have_attribute(attribute, value)
    expect(maya.get_by_label("Your weight for Maya Lindqvist")).to_have_count(1)
    expect(maya.locator("output")).to_have_text("auto")
    expect(maya.get_by_role("button", name="Pin")).to_have_attribute("aria-pressed", "false")
    expect(maya.get_by_role("button", name="Mute")).to_have_attribute("aria-pressed", "false")
    expect(maya.locator("[data-learned]")).to_have_text(
        f"{by_id[shown[0]]['weight']['learned']:+.2f}"
    )
    # a web identity is a link that gives nothing away
    web = page.locator('ul.identities a[href="https://samokafor.example"]').first
    expect(web).to_have_attribute("rel", "noopener noreferrer")

    # the merge suggestion: the two Sams, with a confidence and the reason
    suggestion = page.locator("li.suggestion")
    expect(suggestion).to_have_count(1)
    expect(suggestion.locator(".side .person")).to_have_text(["Sam Okafor", "Sam Okafor"])
    expect(suggestion.locator(".confidence")).to_contain_text("70%")
    expect(suggestion.locator(".confidence")).to_contain_text("the same name")
    screenshot(page, "people")

    # dark mode and a phone's width: readable, nothing wider than the screen
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    expect(cards.first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(22, 22, 20)", background  # style.css's dark --bg
    screenshot(page, "people-phone-dark")


def test_the_slider_moves_a_person_up_the_timeline(page: Page, live_server: LiveServer) -> None:
    login(page)
    before = timeline_people(page)
    assert "Jonas Berg" in before
    jonas = person_named(live_server, "Jonas Berg")
    assert jonas["weight"]["manual"] is None

    page.goto("/people")
    box = card(page, jonas["id"])
    slider = box.get_by_label("Your weight for Jonas Berg")
    with page.expect_response(is_weight_put(jonas["id"])) as answer:
        slider.fill("2")  # sets the value and fires input and change, as a release does
    assert answer.value.ok
    assert json.loads(answer.value.request.post_data or "{}") == {
        "manual": 2,
        "pinned": False,
        "muted": False,
    }
    expect(box.locator("output")).to_have_text("+2")
    expect(box.locator("[data-effective]")).to_have_text(
        f"{answer.value.json()['weight']['effective']:+.2f}"
    )
    assert person_named(live_server, "Jonas Berg")["weight"]["manual"] == 2.0

    # the setting stays after a reload, and the timeline ranks him higher at once
    page.reload()
    expect(card(page, jonas["id"]).locator('input[type="range"]')).to_have_value("2")
    after = timeline_people(page)
    assert after.index("Jonas Berg") < before.index("Jonas Berg"), (before, after)
    assert api_timeline_people(live_server).index("Jonas Berg") == after.index("Jonas Berg")

    # the keyboard works too: one step down is +1.5
    page.goto("/people")
    slider = card(page, jonas["id"]).locator('input[type="range"]')
    slider.focus()
    with page.expect_response(is_weight_put(jonas["id"])):
        page.keyboard.press("ArrowLeft")
    expect(card(page, jonas["id"]).locator("output")).to_have_text("+1.5")
    assert person_named(live_server, "Jonas Berg")["weight"]["manual"] == 1.5


def test_pin_mute_and_back_to_autopilot(page: Page, live_server: LiveServer) -> None:
    login(page)
    priya = person_named(live_server, "Priya Raman")
    assert timeline_people(page)[0] != "Priya Raman"
    page.goto("/people")
    box = card(page, priya["id"])
    with page.expect_response(is_weight_put(priya["id"])):
        box.locator('input[type="range"]').fill("-1")

    # pin: her items lead the timeline, and the manual weight is kept (PUT sends it all)
    pin = box.get_by_role("button", name="Pin")
    with page.expect_response(is_weight_put(priya["id"])):
        pin.click()
    expect(pin).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#toast")).to_contain_text("Priya Raman is pinned")
    weight = person_named(live_server, "Priya Raman")["weight"]
    assert weight["pinned"] is True and weight["manual"] == -1.0
    assert timeline_people(page)[0] == "Priya Raman"

    # mute: her items leave the timeline (and the API's); her card goes last
    page.goto("/people")
    box = card(page, priya["id"])
    expect(box.get_by_role("button", name="Pin")).to_have_attribute("aria-pressed", "true")
    mute = box.get_by_role("button", name="Mute")
    with page.expect_response(is_weight_put(priya["id"])):
        mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    expect(box).to_have_class(re.compile(r"\bis-muted\b"))
    expect(box.locator("[data-effective]")).to_have_text("muted")
    weight = person_named(live_server, "Priya Raman")["weight"]
    assert weight["muted"] is True and weight["pinned"] is True and weight["manual"] == -1.0
    assert "Priya Raman" not in timeline_people(page)
    assert "Priya Raman" not in api_timeline_people(live_server)
    page.goto("/people")
    expect(page.locator("ul.people > li.person-card").last).to_have_attribute(
        "data-person-card", str(priya["id"])
    )

    # back to autopilot: no manual weight, not pinned, not muted; she is back
    box = card(page, priya["id"])
    with page.expect_response(is_weight_put(priya["id"], "DELETE")):
        box.get_by_role("button", name="Back to autopilot").click()
    expect(box.locator("output")).to_have_text("auto")
    expect(box.get_by_role("button", name="Mute")).to_have_attribute("aria-pressed", "false")
    expect(box.get_by_role("button", name="Pin")).to_have_attribute("aria-pressed", "false")
    expect(box).not_to_have_class(re.compile(r"\bis-muted\b"))
    weight = person_named(live_server, "Priya Raman")["weight"]
    assert (weight["manual"], weight["pinned"], weight["muted"]) == (None, False, False)
    assert "Priya Raman" in timeline_people(page)


def test_accept_and_reject_merge_suggestions(page: Page, live_server: LiveServer) -> None:
    login(page)
    sams = [p for p in people(live_server) if p["name"] == "Sam Okafor"]
    assert len(sams) == 2
    items = sum(p["item_count"] for p in sams)
    page.goto("/people")
    suggestion = page.locator("li.suggestion")
    expect(suggestion).to_have_count(1)
    with page.expect_navigation():  # accepted, the page reads the list afresh
        suggestion.get_by_role("button", name=re.compile("^Accept")).click()
    expect(page.locator("#toast")).to_contain_text("Merged into Sam Okafor")
    expect(page.locator("li.suggestion")).to_have_count(0)
    expect(page.locator("ul.people > li.person-card")).to_have_count(4)
    expect(page.locator("ul.people h2 .person", has_text="Sam Okafor")).to_have_count(1)
    merged = person_named(live_server, "Sam Okafor")
    assert merged["id"] == min(p["id"] for p in sams)
    assert merged["item_count"] == items and len(merged["identities"]) == 2
    expect(card(page, merged["id"]).locator("ul.identities li")).to_have_count(2)

    # split one identity off again: a new suggestion; rejecting it keeps them apart
    web = next(i for i in merged["identities"] if i["kind"] == "url")
    split = live_server.api(
        "POST", f"/people/{merged['id']}/split", json.dumps({"identity_id": web["id"]}).encode()
    )
    assert isinstance(split, dict)
    page.reload()
    suggestion = page.locator("li.suggestion")
    expect(suggestion).to_have_count(1)
    with page.expect_navigation():
        suggestion.get_by_role("button", name=re.compile("^Reject")).click()
    expect(page.locator("#toast")).to_contain_text("will not be suggested again")
    expect(page.locator("li.suggestion")).to_have_count(0)
    expect(page.locator("ul.people > li.person-card")).to_have_count(5)
    assert live_server.api("GET", "/people/suggestions") == {"items": []}


def test_person_page_items_sparkline_and_404(page: Page, live_server: LiveServer) -> None:
    login(page)
    maya = person_named(live_server, "Maya Lindqvist")
    page.goto("/people")
    page.locator(f'li.person-card[data-person-card="{maya["id"]}"] h2 a').click()
    page.wait_for_url(f"**/people/{maya['id']}")
    expect(page.locator("h1")).to_have_text("Maya Lindqvist")
    expect(page).to_have_title(re.compile("Maya Lindqvist"))
    expect(page.locator("ul.tags li")).to_have_text(["family", "friend"])

    # her recent items, newest first, each linking out with its time and source
    answer = live_server.api("GET", "/timeline?limit=200")
    assert isinstance(answer, dict)
    hers = sorted(
        (i for i in answer["items"] if (i["person"] or {}).get("name") == "Maya Lindqvist"),
        key=lambda i: i["published"],
        reverse=True,
    )
    assert hers
    recent = page.locator("ol.recent > li")
    expect(recent.locator(".title")).to_have_text([i["title"] for i in hers])
    first = recent.first
    expect(first.locator("a.title")).to_have_attribute("href", hers[0]["url"])
    expect(first.locator("a.title")).to_have_attribute("rel", "noopener noreferrer")
    expect(first.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    expect(first.locator(".source")).not_to_be_empty()

    # the contact between you: six contacts in the demo, the last five days ago
    spark = page.locator("svg.sparkline")
    expect(spark).to_be_visible()
    expect(spark).to_have_attribute("role", "img")
    label = "7 contacts in the last year, the last one 5 days ago"  # 6 seen, 1 logged
    expect(spark.locator("title")).to_have_text(label)
    expect(page.get_by_role("img", name=label)).to_have_count(1)
    points = (spark.locator("polyline").get_attribute("points") or "").split()
    assert len(points) == 52
    heights = {float(p.split(",")[1]) for p in points}
    assert len(heights) > 1  # not a flat line: there was contact
    assert spark.evaluate("el => el.getBBox().width") > 100
    screenshot(page, "person")

    # the weight controls work here too
    pin = page.get_by_role("button", name="Pin")
    with page.expect_response(is_weight_put(maya["id"])):
        pin.click()
    expect(pin).to_have_attribute("aria-pressed", "true")
    with page.expect_response(is_weight_put(maya["id"], "DELETE")):
        page.get_by_role("button", name="Back to autopilot").click()
    expect(pin).to_have_attribute("aria-pressed", "false")
    assert person_named(live_server, "Maya Lindqvist")["weight"]["pinned"] is False

    # a missing id answers a 404 page (another user's person answers the same one:
    # tests/app/test_web_people.py)
    for path in ("/people/999999", "/people/abc"):
        missing = page.request.get(path)
        assert missing.status == 404, path
        assert "<h1>Not found</h1>" in missing.text()
        assert "Maya" not in missing.text()
