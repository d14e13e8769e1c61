"""A loopback farm of feeds for benchmarks: RSS 2.0 with content:encoded, Atom, and
WordPress-style comment feeds, entries of 1-3 KB of HTML, served with ETag/304 and gzip
from a separate process so the server does not share the measured process.

``Farm(..., blogs=True)`` is closer to real blogs (the ingest benchmark uses it):
entries of 1-8 KB of HTML with figures, srcset images, relative and absolute links,
code, embeds and a script the sanitizer drops; 10% of the feeds are Atom with
``xhtml`` content and 10% carry 200+ entries; the feeds are spread over several hosts
(ports), and a few sit on slow hosts (first-byte latency, a trickled body)."""

from __future__ import annotations

import gzip
import hashlib
import json
import multiprocessing as mp
import random
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORDS = (
    "friend", "garden", "ferry", "bread", "lighthouse", "river", "mountain", "letter",
    "coffee", "morning", "evening", "summer", "winter", "bicycle", "kitchen", "music",
    "library", "harbour", "train", "station", "island", "story", "wedding", "journey",
    "window", "garden", "walk", "mountain", "rain", "snow", "sunlight", "neighbour", "family",
)  # fmt: skip
BASE_TIME = datetime(2026, 11, 1, tzinfo=UTC)
# blogs=True: hosts (ports) the feeds are spread over, the slow ones among them, and how
# slow they are (seconds before the first byte; bytes per second of a body)
HOSTS, SLOW_HOSTS = 12, 2
SLOW_LATENCY, SLOW_RATE = 0.04, 512 * 1024


def _paragraphs(rng: random.Random, size: int) -> str:
    out: list[str] = []
    total = 0
    while total < size:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 40)))
        kind = rng.random()
        if kind < 0.1:
            para = f'<p>{words} <a href="https://example.org/{rng.randint(1, 9999)}">link</a>.</p>'
        elif kind < 0.15:
            para = f"<blockquote><p>{words}</p></blockquote>"
        elif kind < 0.2:
            para = f"<ul><li>{words[:40]}</li><li>{words[40:80]}</li></ul>"
        elif kind < 0.23:
            para = (
                f'<p><img src="https://img.example/{rng.randint(1, 999)}.jpg" alt="x"> {words}</p>'
            )
        else:
            para = f"<p>{words}.</p>"
        out.append(para)
        total += len(para)
    return "\n".join(out)


def _blog_html(rng: random.Random, size: int) -> str:
    """What blog engines publish: figures with srcset, relative and absolute links,
    headings, code, lists, class/style attributes, the odd embed and script (both
    dropped by the sanitizer). Well-formed XML as well, so it also serves as xhtml."""
    out: list[str] = []
    total = 0
    while total < size:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60)))
        kind = rng.random()
        n = rng.randint(1, 9999)
        if kind < 0.15:
            para = (
                f'<p class="wp-block-paragraph">{words[:90]} <a href="https://example.org/{n}">a'
                f' link</a>, <a href="/2026/11/{n}/" title="older post">an older post</a> and'
                f" <em>{words[90:160]}</em> <strong>{words[160:200]}</strong>.</p>"
            )
        elif kind < 0.25:
            para = (
                '<figure class="wp-block-image size-large"><img loading="lazy" decoding="async"'
                f' width="1024" height="683" src="https://img.example/{n}-1024x683.jpg"'
                f' srcset="https://img.example/{n}-300x200.jpg 300w,'
                f' https://img.example/{n}-1024x683.jpg 1024w" sizes="(max-width: 1024px) 100vw"'
                f' alt="{words[:30]}" /><figcaption>{words[:60]}</figcaption></figure>'
            )
        elif kind < 0.3:
            para = f'<h2 id="h-{n}">{words[:40]}</h2>'
        elif kind < 0.35:
            para = f'<pre class="code"><code>for x in range({n}):\n    print(x &lt; 3)</code></pre>'
        elif kind < 0.42:
            para = f"<ul><li>{words[:40]}</li><li>{words[40:80]}</li><li>{words[80:120]}</li></ul>"
        elif kind < 0.46:
            para = f"<blockquote><p>{words}</p><cite>{words[:20]}</cite></blockquote>"
        elif kind < 0.48:
            para = (
                f'<iframe src="https://video.example/embed/{n}" width="560" height="315"></iframe>'
            )
        elif kind < 0.49:
            para = f'<script>window.stats &amp;&amp; stats.track("{n}");</script>'
        elif kind < 0.52:
            para = f'<p style="text-align:center"><img src="/wp-content/{n}.png" alt="" /></p>'
        else:
            para = f"<p>{words}.</p>"
        out.append(para)
        total += len(para)
    return "\n".join(out)


def _body(rng: random.Random, blogs: bool) -> str:
    if blogs:
        return _blog_html(rng, rng.randint(1000, 8000))
    return _paragraphs(rng, rng.randint(1000, 3000))


def rss_feed(
    n: int, entries: int, rng: random.Random, base: str, threads: bool = False, blogs: bool = False
) -> bytes:
    items = []
    for i in range(entries):
        thread = f"<wfw:commentRss>{base}/thread/{n}/{i}.xml</wfw:commentRss>" if threads else ""
        when = format_datetime(BASE_TIME - timedelta(hours=i * 7 + n))
        body = _body(rng, blogs)
        items.append(
            f"<item><title>Post {i} of blog {n}: {rng.choice(WORDS)}</title>"
            f'<link>{base}/blog{n}/post{i}/</link><guid isPermaLink="false">blog{n}-post{i}</guid>'
            f"<dc:creator><![CDATA[Author {n}]]></dc:creator><pubDate>{when}</pubDate>"
            f"<category>{rng.choice(WORDS)}</category>"
            f"<description><![CDATA[{body[:200]}]]></description>"
            f"<content:encoded><![CDATA[{body}]]></content:encoded>{thread}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Blog {n}</title><link>{base}/blog{n}/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def atom_feed(
    n: int, entries: int, rng: random.Random, base: str, blogs: bool = False, xhtml: bool = False
) -> bytes:
    """Atom with ``type="html"`` content, or (``xhtml``) with the markup inline as XHTML."""
    items = []
    for i in range(entries):
        when = (BASE_TIME - timedelta(hours=i * 5 + n)).isoformat()
        if xhtml:
            content = (
                '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                f"{_blog_html(rng, rng.randint(1000, 8000))}</div></content>"
            )
        else:
            content = f'<content type="html">{escape(_body(rng, blogs))}</content>'
        items.append(
            f"<entry><title>Entry {i} by person {n}</title>"
            f'<link rel="alternate" href="{base}/atom{n}/{i}"/>'
            f"<id>tag:atom{n}.example,2026:{i}</id><published>{when}</published>"
            f'<updated>{when}</updated><category term="{rng.choice(WORDS)}"/>'
            f"{content}</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Person {n}</title><id>tag:atom{n}.example,2026:feed</id>"
        f'<link href="{base}/atom{n}/"/><updated>{BASE_TIME.isoformat()}</updated>'
        f"<author><name>Person {n}</name><uri>https://person{n}.example/</uri></author>"
        + "".join(items)
        + "</feed>"
    ).encode()


def comments_feed(
    n: int, entries: int, rng: random.Random, base: str, blogs: bool = False
) -> bytes:
    items = []
    for i in range(entries):
        who = f"Commenter {rng.randint(1, 400)}"
        when = format_datetime(BASE_TIME - timedelta(minutes=i * 37 + n))
        body = _body(rng, blogs)
        items.append(
            f"<item><title>By: {who}</title>"
            f"<link>{base}/wp{n}/hello/#comment-{i}</link>"
            f"<dc:creator><![CDATA[{who}]]></dc:creator><pubDate>{when}</pubDate>"
            f'<guid isPermaLink="false">{base}/wp{n}/?p=1#comment-{i}</guid>'
            f"<description><![CDATA[{body[:150]}]]></description>"
            f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Comments on: Hello {n}</title><link>{base}/wp{n}/hello/</link>"
        "<description>d</description>" + "".join(items) + "</channel></rss>"
    ).encode()


def feed_plan(feeds: int, entries: int, blogs: bool, hosts: int = 1) -> list[tuple[str, int, int]]:
    """(kind, entries, host) per feed. Plain: kinds rotate RSS / Atom / comments, the
    feeds dealt round ``hosts`` hosts (ports; one by default). ``blogs``: every tenth
    feed is xhtml Atom, every tenth (another one) has 200-260 entries, and the feeds
    spread over ``HOSTS`` hosts, the last
    ``SLOW_HOSTS`` of them slow, which serve only every 25th feed."""
    plan = []
    for n in range(feeds):
        kind = ("rss", "atom", "comments")[n % 3]
        if not blogs:
            plan.append((kind, entries, n % max(hosts, 1)))
            continue
        count = 200 + (n * 7) % 61 if n % 10 == 5 else entries
        if n % 10 == 0:
            kind = "xhtml"
        fast = HOSTS - SLOW_HOSTS
        host = fast + (n // 25) % SLOW_HOSTS if n % 25 == 3 else n % fast
        plan.append((kind, count, host))
    return plan


def build_farm(
    feeds: int,
    entries: int,
    base: str | list[str],
    seed: int = 7,
    thread_comments: int = 0,
    blogs: bool = False,
    hosts: int = 1,
) -> dict[str, bytes]:
    """URL (or path, given one ``base``) -> body. With ``thread_comments``, every RSS
    post names its own comment feed (``wfw:commentRss``), served with that many
    comments: the load of following threads. ``base`` may list one base per host."""
    bases = [base] if isinstance(base, str) else base
    rng = random.Random(seed)
    pages: dict[str, bytes] = {}
    for n, (kind, count, host) in enumerate(feed_plan(feeds, entries, blogs, hosts)):
        b = bases[host % len(bases)]
        prefix = "" if isinstance(base, str) else b
        if kind == "rss":
            pages[f"{prefix}/rss/{n}.xml"] = rss_feed(
                n, count, rng, b, threads=thread_comments > 0, blogs=blogs
            )
            for i in range(count if thread_comments else 0):
                pages[f"{prefix}/thread/{n}/{i}.xml"] = comments_feed(
                    n * 1000 + i, thread_comments, rng, f"{b}/blog{n}/post{i}", blogs=blogs
                )
        elif kind in ("atom", "xhtml"):
            pages[f"{prefix}/atom/{n}.xml"] = atom_feed(
                n, count, rng, b, blogs=blogs, xhtml=kind == "xhtml"
            )
        else:
            pages[f"{prefix}/comments/{n}.xml"] = comments_feed(n, count, rng, b, blogs=blogs)
    return pages


def _serve(
    ports: list[int],
    feeds: int,
    entries: int,
    thread_comments: int,
    blogs: bool,
    ready: Any,  # a multiprocessing Event
) -> None:
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    many = blogs or len(ports) > 1
    pages = build_farm(
        feeds,
        entries,
        bases if many else bases[0],
        thread_comments=thread_comments,
        blogs=blogs,
        hosts=len(ports),
    )
    prepared = {
        path: (body, gzip.compress(body, 5), '"' + hashlib.md5(body).hexdigest() + '"')  # noqa: S324
        for path, body in pages.items()
    }
    slow = set(ports[HOSTS - SLOW_HOSTS :]) if blogs else set()
    # what reached each host: request start times, requests open at once (GET /__stats)
    lock = threading.Lock()
    starts: dict[int, list[float]] = {port: [] for port in ports}
    first: dict[str, float] = {}
    open_now: dict[int, int] = dict.fromkeys(ports, 0)
    most: dict[int, int] = dict.fromkeys(ports, 0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 256 * 1024  # headers and body leave in one write, as real servers send them
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802
            port = int(self.server.server_address[1])  # type: ignore[index]
            key = self.path.split("?")[0]
            if key == "/__stats":
                with lock:
                    body = json.dumps(
                        {"starts": starts, "first": first, "most": most}, default=list
                    ).encode()
                    if "reset" in self.path:  # the next run counts from zero
                        for port in ports:
                            starts[port] = []
                        first.clear()
                        most.update(dict.fromkeys(ports, 0))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            with lock:
                starts[port].append(time.time())
                first.setdefault(f"http://127.0.0.1:{port}{key}", time.time())
                open_now[port] += 1
                most[port] = max(most[port], open_now[port])
            try:
                self._answer(port, key)
            finally:
                with lock:
                    open_now[port] -= 1

        def _answer(self, port: int, key: str) -> None:
            page = prepared.get(key if not many else f"http://127.0.0.1:{port}{key}")
            if port in slow:
                time.sleep(SLOW_LATENCY)
            if page is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body, zipped, etag = page
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            use_gzip = "gzip" in (self.headers.get("Accept-Encoding") or "")
            payload = zipped if use_gzip else body
            self.send_response(200)
            ctype = "application/atom+xml" if "/atom/" in self.path else "application/rss+xml"
            self.send_header("Content-Type", ctype + "; charset=utf-8")
            self.send_header("ETag", etag)
            if use_gzip:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if port not in slow:
                self.wfile.write(payload)
                return
            step = SLOW_RATE // 10  # a trickle: a tenth of a second's worth at a time
            for start in range(0, len(payload), step):
                self.wfile.write(payload[start : start + step])
                self.wfile.flush()
                time.sleep(0.1)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024  # the listen backlog: must be set before bind/listen

    servers = [Server(("127.0.0.1", port), Handler) for port in ports]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.set()
    servers[0].serve_forever()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (held open together, so none is handed out twice)."""
    held = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
        return [int(s.getsockname()[1]) for s in held]
    finally:
        for s in held:
            s.close()


class Farm:
    """Start with ``Farm(feeds, entries).start()``; ``urls`` lists every feed URL,
    ``hosts`` every ``host:port`` serving them, ``total`` the entries served."""

    def __init__(
        self,
        feeds: int = 300,
        entries: int = 50,
        thread_comments: int = 0,
        blogs: bool = False,
        hosts: int = 1,
    ) -> None:
        self.feeds, self.entries = feeds, entries
        self._args = (thread_comments, blogs)
        self._count = HOSTS if blogs else max(hosts, 1)
        plan = feed_plan(feeds, entries, blogs, self._count)
        self.total = sum(count for _, count, _ in plan)
        self.slow_feeds = (
            sum(1 for _, _, host in plan if host >= HOSTS - SLOW_HOSTS) if blogs else 0
        )
        self._layout()

    def _layout(self) -> None:
        self.ports = _free_ports(self._count)
        self.port = self.ports[0]
        self.base = f"http://127.0.0.1:{self.port}"
        self.hosts = [f"127.0.0.1:{port}" for port in self.ports]
        thread_comments, blogs = self._args
        plan = feed_plan(self.feeds, self.entries, blogs, self._count)
        bases = [f"http://127.0.0.1:{port}" for port in self.ports]
        folder = {"rss": "rss", "atom": "atom", "xhtml": "atom", "comments": "comments"}
        self.urls = [
            f"{bases[host]}/{folder[kind]}/{n}.xml" for n, (kind, _, host) in enumerate(plan)
        ]
        ctx = mp.get_context("spawn")
        self._ready = ctx.Event()
        self._proc = ctx.Process(
            target=_serve,
            args=(self.ports, self.feeds, self.entries, thread_comments, blogs, self._ready),
            daemon=True,
        )

    def start(self) -> Farm:
        """Start serving; if a chosen port was taken meanwhile (another process on the
        machine bound it first), choose new ports and try again."""
        for _attempt in range(5):
            self._proc.start()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if self._ready.wait(0.2):
                    return self
                if not self._proc.is_alive():
                    break
            else:
                break
            self._layout()
        raise RuntimeError("the farm did not start")

    def stats(self, *, reset: bool = False) -> dict[str, Any]:
        """What reached the farm so far: ``starts`` (port -> request start times, epoch
        seconds), ``first`` (feed URL -> its first request), ``most`` (port -> requests
        open at once, at most)."""
        import urllib.request

        query = "?reset=1" if reset else ""
        with urllib.request.urlopen(f"{self.base}/__stats{query}", timeout=30) as resp:
            return dict(json.loads(resp.read()))

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.join(10)
