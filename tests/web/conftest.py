"""Browser tests of the web reader: Playwright driving Debian's Chromium against a live
``kith serve --demo`` on loopback (a fresh demo database per test module).

Every test fails on a console error, an uncaught page error or a Content-Security-
Policy violation (the ``page`` fixture checks when the test ends). Screenshots go to
``build/screenshots`` (``KITH_SCREENSHOT_DIR``). Without Chromium the tests are skipped,
unless ``KITH_BROWSER_TESTS=required`` (``.ci/run`` sets it after installing it)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.cluster import stop_process, wait_for_health

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("KITH_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(os.environ.get("KITH_SCREENSHOT_DIR", ROOT / "build" / "screenshots"))
DEMO_USER, DEMO_PASSWORD = "demo", "demo"
# reports CSP violations as console errors too (Chromium logs most of them itself)
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
});
"""


def _browser_available() -> str | None:
    """None when Chromium and Playwright are here, else why not."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[dev]')"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one test module. Module scope, not session: the sync Playwright API
    keeps an event loop on the main thread while it runs, which would break later tests
    that call ``asyncio.run``."""
    missing = _browser_available()
    if missing:
        if os.environ.get("KITH_BROWSER_TESTS") == "required":
            pytest.fail(f"browser tests are required here: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    base: str
    token: str
    log: Path
    database: Path  # the SQLite file, for checking what the pages stored
    pid: int = 0  # the kith serve process

    def rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        """Read the live server's database directly (read-only)."""
        import sqlite3

        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as conn:
            return list(conn.execute(sql, params))

    def api(self, method: str, path: str, body: bytes | None = None) -> object:
        """Call the API with the demo user's token (for setting up and checking)."""
        import json

        request = urllib.request.Request(
            f"{self.base}/api/v1{path}",
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None


@contextmanager
def start_live_server(work: Path, extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """``kith serve --demo`` on a free loopback port, with its own SQLite file in
    ``work`` (and any extra ``KITH_*`` settings)."""
    port = _free_port()
    env = os.environ | {
        "KITH_DATABASE_URL": f"sqlite:///{work / 'kith.db'}",
        "KITH_SECRET_KEY": "browser-tests-" + "x" * 32,
        **(extra_env or {}),
    }
    kith = Path(sys.executable).parent / "kith"
    log = work / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(kith), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, proc, log)
        found = re.search(r"demo API token: (\S+)", log.read_text())
        assert found, log.read_text()
        yield LiveServer(
            base=base, token=found.group(1), log=log, database=work / "kith.db", pid=proc.pid
        )
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A fresh demo for each test module."""
    with start_live_server(tmp_path_factory.mktemp("kith-live")) as server:
        yield server


FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")


@dataclass
class Problems:
    """What went wrong in the page: console errors, page errors, CSP violations."""

    seen: list[str] = field(default_factory=list)
    # API answers a test provokes on purpose (a 4xx for a bad URL, say): Chromium logs
    # every failed fetch() as a console error. Only such "failed to load" lines for a
    # URL containing one of these are forgiven; CSP violations and script errors never.
    expected_api_errors: list[str] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        def forgiven(problem: str) -> bool:
            return bool(FAILED_LOAD.search(problem)) and any(
                f"/api/v1{path}" in problem for path in self.expected_api_errors
            )

        return [p for p in self.seen if not forgiven(p)]


@pytest.fixture
def problems() -> Problems:
    """The page's problems; a test that provokes an API error on purpose says so with
    ``problems.expected_api_errors.append("/sources")``."""
    return Problems()


@pytest.fixture
def page(browser: object, live_server: LiveServer, problems: Problems) -> Iterator[object]:
    """A fresh browser context (no cookies) and page; fails the test on any console
    error, uncaught error or CSP violation."""
    from playwright.sync_api import Browser, ConsoleMessage, Error

    assert isinstance(browser, Browser)
    context = browser.new_context(
        base_url=live_server.base, viewport={"width": 1100, "height": 900}
    )
    context.add_init_script(CSP_WATCH)

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            problems.seen.append(f"console error: {msg.text} ({msg.location.get('url')})")

    def on_page_error(err: Error) -> None:
        problems.seen.append(f"page error: {err}")

    context.on("console", on_console)
    context.on("weberror", lambda e: problems.seen.append(f"web error: {e.error}"))
    page = context.new_page()
    page.on("pageerror", on_page_error)
    page.set_default_timeout(10_000)
    yield page
    context.close()
    unexpected = problems.unexpected()
    assert unexpected == [], "the page reported problems:\n" + "\n".join(unexpected)


def login(page: object, *, user: str = DEMO_USER, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form and land on the timeline."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto("/")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def screenshot(page: object, name: str) -> Path:
    """A full-page screenshot in SCREENSHOTS/<name>.png."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
