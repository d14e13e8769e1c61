"""Search in Chromium against the demo: the top bar's box, a phrase with its matches
marked, an exclusion, "More" appending the next page from the API, the syntax help, and
a query with nothing to look for explained on the page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.conftest import login, screenshot


def test_phrase_exclusion_and_more(page: Page) -> None:
    login(page)
    box = page.locator("header .top-search input[name=q]")
    box.fill('"wonderful news"')
    box.press("Enter")
    page.wait_for_url("**/search?q=*")
    results = page.locator("[data-results] > .item")
    expect(results).to_have_count(1)
    expect(results.first.locator(".person")).to_have_text("Priya Raman")
    marks = results.first.locator(".snippet mark")
    expect(marks).to_have_text(["wonderful", "news"])
    # the snippet is text: the comment's link is not a link here
    expect(results.first.locator(".snippet a")).to_have_count(0)
    screenshot(page, "search-phrase")

    page.goto("/search?q=okafor")
    expect(results).to_have_count(3)  # Sam's two posts and his comment
    page.goto("/search?q=okafor+-congratulations")
    expect(results).to_have_count(2)
    expect(page.locator("[data-results]")).not_to_contain_text("Congratulations")
    expect(page.locator("#search-page-q")).to_have_value("okafor -congratulations")

    # one result a page: "More" fetches the next pages from the API and appends them
    page.goto("/search?q=okafor&limit=1")
    expect(results).to_have_count(1)
    more = page.locator("[data-more]")
    more.click()
    expect(results).to_have_count(2)
    more.click()
    expect(results).to_have_count(3)
    expect(more).to_have_count(0)
    titles = results.locator(".title").all_inner_texts()
    assert len(set(titles)) == 3
    # they matched on the person's name: the appended cards link to Sam's page
    expect(results.locator("a.person")).to_have_text(["Sam Okafor"] * 3)
    screenshot(page, "search-more")


def test_syntax_help_and_nothing_to_look_for(page: Page) -> None:
    login(page)
    page.goto("/search")
    help_box = page.locator("details.syntax")
    expect(help_box).to_have_attribute("open", "")
    expect(help_box).to_contain_text("person:")
    page.goto("/search?q=-wedding")
    expect(page.locator("[data-search-error]")).to_contain_text("type a word")
    page.goto("/search?q=zzzqqq")
    expect(page.locator("[data-search-empty]")).to_contain_text("Nothing matches")
    screenshot(page, "search-help")
