"""Resource abuse against a live ``kith serve``: feeds that are too big, bombs, endless
redirects, drips, servers that never answer, entity expansion, XXE and a 64 KB author.
Each ends in a bounded time with a stable error code (or is parsed harmlessly), the
server's memory stays bounded, and ``/api/v1/health`` keeps answering while the
scheduler chews on them."""

from __future__ import annotations

import gzip
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import FeedServer, Reply
from tests.web.conftest import LiveServer, start_live_server

MB = 1024 * 1024

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><guid>1</guid><title>&lol9;</title><description>&lol9;</description></item>
</channel></rss>"""
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "'
    + b"x" * 100_000
    + b'">]><rss version="2.0"><channel><title>q</title><item><guid>1</guid><title>'
    + b"&a;" * 20_000
    + b"</title></item></channel></rss>"
)
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>x</title>
<item><guid>1</guid><title>leak &xxe;</title><description>&xxe;</description></item>
</channel></rss>"""
LONG_AUTHOR = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>a</title>'
    b"<item><guid>1</guid><title>author</title><author>"
    + b"a" * 65_536
    + b"@"
    + b"b" * 10
    + b" (x</author></item></channel></rss>"
)


class _Huge(BaseHTTPRequestHandler):
    """200 MB of XML-ish bytes, with or without a Content-Length, streamed."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        size = 200 * MB
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        if self.path == "/huge-declared":
            self.send_header("Content-Length", str(size))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"<x>" + b"a" * (MB - 7) + b"</x>"
        try:
            self.wfile.write(b'<?xml version="1.0"?><rss><channel>')
            for _ in range(200):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[FeedServer, str]]:
    server = FeedServer()
    bomb = gzip.compress(b"<rss>" + b"\0" * (100 * MB) + b"</rss>", 9)
    server.routes["/gzip-bomb"] = Reply(
        200, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}
    )
    for n in range(30):
        server.routes[f"/hop/{n}"] = Reply(302, b"", {"Location": f"/hop/{n + 1}"})
    server.routes["/loop/a"] = Reply(302, b"", {"Location": "/loop/b"})
    server.routes["/loop/b"] = Reply(302, b"", {"Location": "/loop/a"})
    server.routes["/drip"] = Reply(200, b"<rss>" + b" " * 200 + b"</rss>", drip_delay=1.0)
    server.routes["/never"] = Reply(200, b"<rss/>", hang=120)
    server.routes["/laughs"] = Reply(200, LAUGHS)
    server.routes["/quadratic"] = Reply(200, QUADRATIC)
    server.routes["/xxe"] = Reply(200, XXE)
    server.routes["/long-author"] = Reply(200, LONG_AUTHOR)
    huge = ThreadingHTTPServer(("127.0.0.1", 0), _Huge)
    huge.daemon_threads = True
    threading.Thread(target=huge.serve_forever, daemon=True).start()
    yield server, f"127.0.0.1:{huge.server_address[1]}"
    huge.shutdown()
    huge.server_close()
    server.close()


@pytest.fixture(scope="module")
def abused(
    tmp_path_factory: pytest.TempPathFactory, hostile: tuple[FeedServer, str]
) -> Iterator[LiveServer]:
    server, huge = hostile
    env = {
        "KITH_ALLOWED_HOSTS": json.dumps([server.hostport, huge]),
        "KITH_SCHEDULER_TICK_SECONDS": "1",
        "KITH_FETCH_DEADLINE_SECONDS": "6",
        "KITH_PARSE_BUDGET_SECONDS": "6",
    }
    with start_live_server(Path(tmp_path_factory.mktemp("kith-abuse")), env) as live:
        yield live


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_abusive_feeds_end_bounded_and_health_keeps_answering(
    abused: LiveServer, hostile: tuple[FeedServer, str]
) -> None:
    server, huge = hostile
    urls = {
        "gzip-bomb": server.url("/gzip-bomb"),
        "chain": server.url("/hop/0"),
        "loop": server.url("/loop/a"),
        "drip": server.url("/drip"),
        "never": server.url("/never"),
        "laughs": server.url("/laughs"),
        "quadratic": server.url("/quadratic"),
        "xxe": server.url("/xxe"),
        "long-author": server.url("/long-author"),
        "huge-declared": f"http://{huge}/huge-declared",
        "huge-streamed": f"http://{huge}/huge-streamed",
    }
    ids = {}
    for name, url in urls.items():
        made = abused.api("POST", "/sources", json.dumps({"url": url}).encode())
        assert isinstance(made, dict)
        ids[name] = made["id"]
    baseline = rss_kb(abused.pid)
    slowest_health, peak = 0.0, baseline
    deadline = time.monotonic() + 90
    states: dict[str, dict[str, object]] = {}
    while time.monotonic() < deadline:
        began = time.monotonic()
        with urllib.request.urlopen(f"{abused.base}/api/v1/health", timeout=10) as resp:
            assert resp.status == 200
        slowest_health = max(slowest_health, time.monotonic() - began)
        peak = max(peak, rss_kb(abused.pid))
        listed = abused.api("GET", "/sources?limit=200")
        assert isinstance(listed, dict)
        states = {n: s for s in listed["items"] for n, i in ids.items() if s["id"] == i}
        if all(s["last_checked_at"] for s in states.values()):
            break
        time.sleep(0.5)
    codes = {n: s["error_code"] for n, s in states.items()}
    assert all(s["last_checked_at"] for s in states.values()), codes
    assert codes["gzip-bomb"] == "response_too_large"
    assert codes["huge-declared"] == "response_too_large"
    assert codes["huge-streamed"] == "response_too_large"
    assert codes["chain"] == "too_many_redirects" and codes["loop"] == "too_many_redirects"
    assert codes["drip"] == "timeout" and codes["never"] == "timeout"
    # entity tricks: refused or parsed without expanding anything
    assert codes["laughs"] in (None, "parse_error") and codes["quadratic"] in (None, "parse_error")
    assert codes["xxe"] in (None, "parse_error") and codes["long-author"] in (None, "parse_error")
    timeline = abused.api("GET", "/timeline?limit=200")
    assert isinstance(timeline, dict)
    text = json.dumps(timeline)
    assert "root:" not in text and "lollollol" not in text and "x" * 1000 not in text
    assert slowest_health < 3.0, f"health took {slowest_health:.1f} s meanwhile"
    assert peak - baseline < 400 * 1024, f"RSS grew {(peak - baseline) // 1024} MB"
