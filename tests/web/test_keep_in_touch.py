"""Keeping in touch in Chromium against ``kith serve --demo``: the contact log (log,
correct, delete), the cadence goal and dates to remember on a person's page, and what
is coming up on the Reach out page. Each change is checked in the database too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Page, expect

from tests.web.conftest import LiveServer, Problems, login, screenshot


def someone(live_server: LiveServer) -> dict[str, Any]:
    answer = live_server.api("GET", "/people?limit=200")
    assert isinstance(answer, dict)
    people = sorted(answer["items"], key=lambda p: p["name"])
    assert people
    return people[0]


def test_log_correct_and_delete_a_contact(page: Page, live_server: LiveServer) -> None:
    person = someone(live_server)
    login(page)
    page.goto(f"/people/{person['id']}")
    log = page.locator("section[data-log]")
    expect(log).to_be_visible()
    form = log.locator("form[data-log-form]")
    form.locator("select[name=kind]").select_option("call")
    form.locator("select[name=direction]").select_option("in")
    form.locator("input[name=note]").fill("She called about the garden")
    form.locator("button[type=submit]").click()
    row = log.locator("ol.contacts li.logged").first
    expect(row).to_contain_text("Call, they reached out")
    expect(row).to_contain_text("She called about the garden")
    expect(page.locator("#toast")).to_contain_text("Contact logged")
    stored = live_server.rows(
        "SELECT kind, direction, note, logged FROM interaction WHERE person_id = ?", person["id"]
    )
    assert ("call", "in", "She called about the garden", 1) in stored
    screenshot(page, "person-contact-log")

    # correct it: a letter, last week
    row.locator("[data-contact-edit]").click()
    last_week = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    form.locator("select[name=kind]").select_option("letter")
    form.locator("input[name=date]").fill(last_week)
    form.locator("input[name=note]").fill("A postcard from Porto")
    expect(form.locator("[data-log-submit]")).to_have_text("Save changes")
    form.locator("[data-log-submit]").click()
    expect(log.locator("ol.contacts li.logged").first).to_contain_text("A postcard from Porto")
    stored = live_server.rows(
        "SELECT kind, note, at FROM interaction WHERE person_id = ? AND logged = 1", person["id"]
    )
    assert len(stored) == 1 and stored[0][0] == "letter"
    assert str(stored[0][2]).startswith(last_week)

    # delete it
    log.locator("ol.contacts li.logged [data-contact-delete]").first.click()
    expect(page.locator("#toast")).to_contain_text("Contact deleted")
    expect(log.locator("ol.contacts li.logged")).to_have_count(0)
    assert not live_server.rows(
        "SELECT id FROM interaction WHERE person_id = ? AND logged = 1", person["id"]
    )


def test_cadence_goal_and_dates(page: Page, live_server: LiveServer, problems: Problems) -> None:
    person = someone(live_server)
    problems.expected_api_errors.append(f"/people/{person['id']}/dates")  # 31 February
    login(page)
    page.goto(f"/people/{person['id']}")
    cadence = page.locator("section[data-cadence]")
    cadence.locator("input[name=every]").fill("2")
    cadence.locator("select[name=unit]").select_option(label="weeks")
    cadence.locator("button[type=submit]").click()
    expect(cadence.locator("[data-cadence-text]")).to_have_text("Your goal: every 2 weeks.")
    assert live_server.rows("SELECT cadence_days FROM person WHERE id = ?", person["id"]) == [
        (14.0,)
    ]
    cadence.locator("[data-cadence-clear]").click()
    expect(cadence.locator("[data-cadence-text]")).to_contain_text("Kith learns")
    assert live_server.rows("SELECT cadence_days FROM person WHERE id = ?", person["id"]) == [
        (None,)
    ]

    soon = datetime.now(UTC).date() + timedelta(days=2)
    dates = page.locator("section[data-dates]")
    form = dates.locator("form[data-date-form]")
    # a day the month does not have: refused with the API's words, nothing stored
    form.locator("input[name=day]").fill("31")
    form.locator("select[name=month]").select_option("2")
    form.locator("button[type=submit]").click()
    expect(page.locator("#toast")).to_contain_text("is not a date")
    assert not live_server.rows("SELECT id FROM person_date WHERE person_id = ?", person["id"])

    form.locator("input[name=day]").fill(str(soon.day))
    form.locator("select[name=month]").select_option(str(soon.month))
    form.locator("input[name=year]").fill(str(soon.year - 33))
    form.locator("button[type=submit]").click()
    expect(dates.locator("ul.date-list li")).to_have_count(1)
    expect(dates.locator("ul.date-list li").first).to_contain_text("Birthday")
    expect(dates.locator("ul.date-list li").first).to_contain_text("in 2 days")

    # a custom date needs its label
    form = dates.locator("form[data-date-form]")
    form.locator("select[data-date-kind]").select_option("custom")
    form.locator("input[name=label]").fill("Moved to Lisbon")
    form.locator("input[name=day]").fill("1")
    form.locator("select[name=month]").select_option("9")
    form.locator("button[type=submit]").click()
    expect(dates.locator("ul.date-list li")).to_have_count(2)
    stored = live_server.rows(
        "SELECT kind, label, month, day, year FROM person_date WHERE person_id = ? ORDER BY kind",
        person["id"],
    )
    assert stored == [
        ("birthday", "", soon.month, soon.day, soon.year - 33),
        ("custom", "Moved to Lisbon", 9, 1, None),
    ]

    # the birthday is coming up: the Reach out page reminds of it
    page.goto("/reach-out")
    upcoming = page.locator("section.upcoming")
    expect(upcoming).to_contain_text(person["name"])
    expect(upcoming).to_contain_text("Birthday (turns 33) in 2 days")
    screenshot(page, "reach-out-upcoming")

    page.goto(f"/people/{person['id']}")
    page.locator("section[data-dates] ul.date-list li").filter(has_text="Moved to Lisbon").locator(
        "[data-date-delete]"
    ).click()
    expect(page.locator("section[data-dates] ul.date-list li")).to_have_count(1)
