"""The People page's address-book import in Chromium against ``kith serve --demo``:
upload a vCard file, see who was added (with their dates) and skipped, find them in
the list; importing again updates; a file that is not vCard says why.

The tests share one demo server and run in file order."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import LiveServer, Problems, login, screenshot

DATA = Path(__file__).resolve().parent.parent / "data" / "vcard"
BAD_CARD = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jane Doe\r\nBDAY:1990-13-45\r\nEND:VCARD\r\n"


def book(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.vcf"
    path.write_bytes((DATA / "nextcloud.vcf").read_bytes() + BAD_CARD)
    return path


def upload(page: Page, path: Path) -> None:
    page.goto("/people")
    page.locator("[data-vcard-file]").set_input_files(str(path))
    page.get_by_role("button", name="Import", exact=True).click()


def test_upload_a_vcard_and_see_the_people_and_dates(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    login(page)
    upload(page, book(tmp_path))
    result = page.locator("[data-vcard-result]")
    expect(result.locator("[data-vcard-summary]")).to_have_text(
        "3 people added, 0 updated, 1 skipped."
    )
    kenji = result.locator('[data-vcard-list="created"] li', has_text="Kenji Watanabe")
    expect(kenji).to_contain_text("birthday May 21")
    expect(kenji).to_contain_text("anniversary September 15 2012")
    expect(kenji).to_contain_text("neighbour")
    expect(result.locator('[data-vcard-list="skipped"]')).to_contain_text(
        "card 4 (Jane Doe): BDAY '1990-13-45' is not a date"
    )
    screenshot(page, "vcard-import")
    # they are in the list now, with the identities the cards gave them
    result.get_by_role("link", name="Show the updated list").click()
    card = page.locator("li.person-card", has_text="Kenji Watanabe")
    expect(card).to_be_visible()
    expect(card).to_contain_text("@kenji@hachyderm.example")
    expect(page.locator("li.person-card", has_text="Ana Souza")).to_be_visible()
    dates = live_server.rows(
        "SELECT d.kind, d.month, d.day, d.year FROM person_date d "
        "JOIN person p ON p.id = d.person_id WHERE p.name = ? ORDER BY d.kind",
        "Kenji Watanabe",
    )
    assert dates == [("anniversary", 9, 15, 2012), ("birthday", 5, 21, None)]
    # the person's own page opens from the result list
    card.locator("a.person").first.click()
    expect(page.locator("h1")).to_contain_text("Kenji Watanabe")


def test_importing_again_updates(page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    before = live_server.rows("SELECT count(*) FROM person")
    login(page)
    upload(page, book(tmp_path))
    expect(page.locator("[data-vcard-summary]")).to_have_text(
        "0 people added, 3 updated, 1 skipped."
    )
    expect(page.locator("#toast")).to_contain_text("Imported contacts.vcf")
    assert live_server.rows("SELECT count(*) FROM person") == before


def test_a_file_that_is_not_vcard_says_why(
    page: Page, live_server: LiveServer, tmp_path: Path, problems: Problems
) -> None:
    problems.expected_api_errors.append("/people/vcard")
    junk = tmp_path / "contacts.csv"
    junk.write_text("name,email\nJane,jane@example.org\n")
    login(page)
    upload(page, junk)
    expect(page.locator("#toast")).to_contain_text("not a vCard file")
    expect(page.locator("[data-vcard-result]")).to_be_hidden()
