"""A loopback farm of feeds for benchmarks: RSS 2.0 with content:encoded, Atom, and
WordPress-style comment feeds, entries of 1-3 KB of HTML, served with ETag/304 and gzip
from a separate process so the server does not share the measured process."""

from __future__ import annotations

import gzip
import hashlib
import multiprocessing as mp
import random
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = (
    "friend",
    "garden",
    "ferry",
    "bread",
    "lighthouse",
    "river",
    "mountain",
    "letter",
    "coffee",
    "morning",
    "evening",
    "summer",
    "winter",
    "bicycle",
    "kitchen",
    "music",
    "library",
    "harbour",
    "train",
    "station",
    "island",
    "story",
    "wedding",
    "journey",
    "window",
    "garden",
    "walk",
    "mountain",
    "rain",
    "snow",
    "sunlight",
    "neighbour",
    "family",
)
BASE_TIME = datetime(2026, 11, 1, tzinfo=UTC)


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


def rss_feed(n: int, entries: int, rng: random.Random, base: str, threads: bool = False) -> bytes:
    items = []
    for i in range(entries):
        thread = f"<wfw:commentRss>{base}/thread/{n}/{i}.xml</wfw:commentRss>" if threads else ""
        when = format_datetime(BASE_TIME - timedelta(hours=i * 7 + n))
        body = _paragraphs(rng, rng.randint(1000, 3000))
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


def atom_feed(n: int, entries: int, rng: random.Random, base: str) -> bytes:
    items = []
    for i in range(entries):
        when = (BASE_TIME - timedelta(hours=i * 5 + n)).isoformat()
        body = escape(_paragraphs(rng, rng.randint(1000, 3000)))
        items.append(
            f"<entry><title>Entry {i} by person {n}</title>"
            f'<link rel="alternate" href="{base}/atom{n}/{i}"/>'
            f"<id>tag:atom{n}.example,2026:{i}</id><published>{when}</published>"
            f'<updated>{when}</updated><category term="{rng.choice(WORDS)}"/>'
            f'<content type="html">{body}</content></entry>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Person {n}</title><id>tag:atom{n}.example,2026:feed</id>"
        f'<link href="{base}/atom{n}/"/><updated>{BASE_TIME.isoformat()}</updated>'
        f"<author><name>Person {n}</name><uri>https://person{n}.example/</uri></author>"
        + "".join(items)
        + "</feed>"
    ).encode()


def comments_feed(n: int, entries: int, rng: random.Random, base: str) -> bytes:
    items = []
    for i in range(entries):
        who = f"Commenter {rng.randint(1, 400)}"
        when = format_datetime(BASE_TIME - timedelta(minutes=i * 37 + n))
        body = _paragraphs(rng, rng.randint(1000, 3000))
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


def build_farm(
    feeds: int, entries: int, base: str, seed: int = 7, thread_comments: int = 0
) -> dict[str, bytes]:
    """path -> body; kinds rotate RSS / Atom / comments. With ``thread_comments``, every
    RSS post names its own comment feed (``wfw:commentRss``), served with that many
    comments: the load of following threads."""
    rng = random.Random(seed)
    pages: dict[str, bytes] = {}
    for n in range(feeds):
        kind = n % 3
        if kind == 0:
            pages[f"/rss/{n}.xml"] = rss_feed(n, entries, rng, base, threads=thread_comments > 0)
            for i in range(entries if thread_comments else 0):
                pages[f"/thread/{n}/{i}.xml"] = comments_feed(
                    n * 1000 + i, thread_comments, rng, f"{base}/blog{n}/post{i}"
                )
        elif kind == 1:
            pages[f"/atom/{n}.xml"] = atom_feed(n, entries, rng, base)
        else:
            pages[f"/comments/{n}.xml"] = comments_feed(n, entries, rng, base)
    return pages


def _serve(port: int, feeds: int, entries: int, thread_comments: int, ready: mp.Event) -> None:  # type: ignore[valid-type]
    base = f"http://127.0.0.1:{port}"
    pages = build_farm(feeds, entries, base, thread_comments=thread_comments)
    prepared = {
        path: (body, gzip.compress(body, 5), '"' + hashlib.md5(body).hexdigest() + '"')  # noqa: S324
        for path, body in pages.items()
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 256 * 1024  # headers and body leave in one write, as real servers send them
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802
            page = prepared.get(self.path.split("?")[0])
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
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024  # the listen backlog: must be set before bind/listen

    server = Server(("127.0.0.1", port), Handler)
    ready.set()
    server.serve_forever()


class Farm:
    """Start with ``Farm(feeds, entries).start()``; ``urls`` lists every feed URL."""

    def __init__(self, feeds: int = 300, entries: int = 50, thread_comments: int = 0) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.feeds, self.entries = feeds, entries
        self.urls = [
            self.base + p for p in build_farm(feeds, 1, self.base) if not p.startswith("/thread/")
        ]
        ctx = mp.get_context("spawn")
        self._ready = ctx.Event()
        self._proc = ctx.Process(
            target=_serve,
            args=(self.port, feeds, entries, thread_comments, self._ready),
            daemon=True,
        )

    def start(self) -> Farm:
        self._proc.start()
        if not self._ready.wait(120):
            raise RuntimeError("the farm did not start")
        return self

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.join(10)
