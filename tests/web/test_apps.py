"""The Apps page in Chromium: create an app password (shown this once, with the user name
and the server addresses), sign in with it as a native app does (Google Reader
ClientLogin over plain HTTP against the live server) and read the subscriptions, see its
last use, revoke it in the page and the same login and token now answer 401; phone width."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request

from playwright.sync_api import Page, expect

from tests.web.conftest import DEMO_USER, LiveServer, login, screenshot

PASSWORD = re.compile(r"^[a-z0-9]{4}(-[a-z0-9]{4}){4}$")


def http(
    url: str, *, form: dict[str, str] | None = None, auth: str | None = None
) -> tuple[int, str]:
    """One plain request as an app sends it: the status and the body."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    headers = {"Authorization": f"GoogleLogin auth={auth}"} if auth else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def client_login(base: str, password: str) -> tuple[int, str | None]:
    status, body = http(
        f"{base}/accounts/ClientLogin", form={"Email": DEMO_USER, "Passwd": password}
    )
    found = re.search(r"^Auth=(\S+)$", body, re.M)
    return status, found.group(1) if found else None


def fever_mounted(live_server: LiveServer) -> bool:
    return http(f"{live_server.base}/fever/?api")[0] != 404


def open_apps(page: Page) -> None:
    login(page)
    page.click("nav >> text=Apps")
    page.wait_for_url("**/apps")
    expect(page.locator("h1")).to_have_text("Apps")


def test_create_use_and_revoke_an_app_password(page: Page, live_server: LiveServer) -> None:
    open_apps(page)
    expect(page.locator("[data-empty]")).to_be_visible()
    servers = page.locator("[data-servers] [data-server]")
    expected = [f"{live_server.base}/reader", f"{live_server.base}/api/greader.php"]
    if fever_mounted(live_server):
        expected.append(f"{live_server.base}/fever/")
    expect(servers).to_have_text(expected)

    # a name is needed; the page says so without asking the API
    error = page.locator("[data-create-error]")
    page.fill("#app-name", "   ")
    page.click("form[data-create] button[type=submit]")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Name the app")

    page.fill("#app-name", "Reeder on my phone")
    page.click("form[data-create] button[type=submit]")
    shown = page.locator("[data-created]")
    expect(shown).to_be_visible()
    expect(error).to_be_hidden()
    expect(shown.locator("[data-created-name]")).to_have_text("Reeder on my phone")
    expect(shown.locator("[data-created-user]")).to_have_text(DEMO_USER)
    expect(shown.locator("[data-created-servers] [data-server]")).to_have_text(expected)
    password = shown.locator("[data-created-password]").inner_text().strip()
    assert PASSWORD.match(password), password
    card = page.locator("li.app-password")
    expect(card).to_have_count(1)
    expect(card).to_have_class(re.compile(r"\bnew\b"))
    expect(card.locator(".title")).to_have_text("Reeder on my phone")
    expect(card.locator("[data-prefix]")).to_have_text(password[:4] + "…")
    expect(card.locator("[data-last-used]")).to_have_text("never")
    expect(page.locator("[data-summary]")).to_contain_text("1 live app password ")
    # stored hashed: the password itself is nowhere in the database
    rows = live_server.rows("SELECT prefix, password_hash FROM app_password")
    assert rows == [(password[:4], rows[0][1])] and password not in str(rows[0][1])

    # at phone width, with the password shown: nothing wider than the screen
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "apps-created-phone")
    page.set_viewport_size({"width": 1100, "height": 900})

    # shown once: "Done" takes it off the page, and a reload never shows it again
    page.click("[data-dismiss]")
    expect(shown).to_be_hidden()
    assert password not in page.content()
    page.reload()
    expect(page.locator("li.app-password")).to_have_count(1)
    expect(page.locator("[data-created]")).to_be_hidden()
    assert password not in page.content()

    # the app signs in with it (either address) and reads its subscriptions
    base = f"{live_server.base}/reader"
    status, auth = client_login(base, password)
    assert status == 200 and auth, status
    assert client_login(f"{live_server.base}/api/greader.php", password)[0] == 200
    status, body = http(f"{base}/reader/api/0/subscription/list?output=json", auth=auth)
    assert status == 200, body
    people = live_server.api("GET", "/people?limit=200")
    assert isinstance(people, dict)
    titles = {s["title"] for s in json.loads(body)["subscriptions"]}
    assert titles and titles <= {p["name"] for p in people["items"]}, titles
    page.reload()
    expect(page.locator("[data-last-used]")).to_have_text("within the hour")

    # revoked in the page (the button asks twice): the login and the token stop at once
    revoke = page.locator("li.app-password button[data-action=revoke]")
    revoke.click()
    expect(revoke).to_have_text("Really revoke?")
    revoke.click()
    expect(page.locator("#toast")).to_contain_text("signed out")
    expect(page.locator("li.app-password [data-revoked]")).to_have_text("revoked")
    expect(page.locator("li.app-password button[data-action=revoke]")).to_have_count(0)
    expect(page.locator("[data-summary]")).to_contain_text("0 live app passwords")
    assert client_login(base, password) == (401, None)
    status, _ = http(f"{base}/reader/api/0/subscription/list?output=json", auth=auth)
    assert status == 401
    screenshot(page, "apps")


def test_the_apps_page_fits_a_phone_in_dark_mode(page: Page, live_server: LiveServer) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.emulate_media(color_scheme="dark")
    login(page)
    page.goto("/apps")
    expect(page.locator("h1")).to_have_text("Apps")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"/apps scrolls sideways at phone width by {overflow}px"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(22, 22, 20)", background  # style.css's dark --bg
    screenshot(page, "apps-phone-dark")
