"""The Digest page's "By e-mail" form in Chromium: off by default; saving daily or weekly
to an address at an hour goes through PUT /api/v1/me/digest-mail (checked through the
API), survives a reload, and turns off again; a refused address is shown, not a crash."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.conftest import LiveServer, Problems, login, screenshot


def test_digest_mail_form(page: Page, live_server: LiveServer, problems: Problems) -> None:
    login(page)
    page.goto(f"{live_server.base}/digest")
    form = page.locator("#digest-mail-form")
    expect(form.locator("select[name=frequency]")).to_have_value("off")
    status = page.locator("#digest-mail-status")
    expect(status).to_have_text("The digest mail is off.")

    form.locator("select[name=frequency]").select_option("weekly")
    form.locator("input[name=email]").fill("demo@example.org")
    form.locator("select[name=hour_utc]").select_option("9")
    form.locator("button[type=submit]").click()
    expect(status).to_contain_text("Goes to demo@example.org every Monday at 09:00 UTC")
    expect(status).to_contain_text("no KITH_SMTP_URL")  # the demo sends no mail
    mail = live_server.api("GET", "/me/digest-mail")
    assert isinstance(mail, dict)
    assert (mail["frequency"], mail["email"], mail["hour_utc"]) == ("weekly", "demo@example.org", 9)

    page.reload()
    expect(form.locator("select[name=frequency]")).to_have_value("weekly")
    expect(form.locator("input[name=email]")).to_have_value("demo@example.org")
    screenshot(page, "digest-mail")

    # daily without an address: the API refuses it and the page says why
    problems.expected_api_errors.append("/me/digest-mail")
    form.locator("input[name=email]").fill("")
    form.locator("select[name=frequency]").select_option("daily")
    form.locator("button[type=submit]").click()
    expect(status).to_have_text("a daily or weekly digest needs an e-mail address")
    mail = live_server.api("GET", "/me/digest-mail")
    assert isinstance(mail, dict) and mail["frequency"] == "weekly"

    form.locator("select[name=frequency]").select_option("off")
    form.locator("button[type=submit]").click()
    expect(status).to_have_text("The digest mail is off.")
    mail = live_server.api("GET", "/me/digest-mail")
    assert isinstance(mail, dict) and mail["frequency"] == "off"
