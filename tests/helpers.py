"""Test helpers: a real loopback HTTP server whose routes tests script."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # seconds to sleep between body bytes (a slow drip), or before answering at all
    drip_delay: float = 0.0
    hang: float = 0.0


Route = Reply | Callable[[BaseHTTPRequestHandler], Reply]


class FeedServer:
    """A threaded HTTP server on 127.0.0.1; ``routes`` maps a path to a Reply."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.connections = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                server.connections += 1
                super().setup()

            def do_GET(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                server.requests.append((path, dict(self.headers.items())))
                route = server.routes.get(path)
                if route is None:
                    reply = Reply(404, b"not here")
                elif callable(route):
                    reply = route(self)
                else:
                    reply = route
                if reply.hang:
                    time.sleep(reply.hang)
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Length": str(len(reply.body)), **reply.headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if reply.drip_delay:
                        for i in range(len(reply.body)):
                            self.wfile.write(reply.body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(reply.drip_delay)
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.hostport = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def rss(
    *items: tuple[str, str, str], title: str = "A blog", link: str = "https://blog.example/"
) -> bytes:
    """A small RSS 2.0 document; items are (guid, title, html)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>',
        f"<title>{title}</title><link>{link}</link><description>d</description>",
    ]
    for n, (guid, item_title, html) in enumerate(items):
        parts.append(
            f'<item><guid isPermaLink="false">{guid}</guid><title>{item_title}</title>'
            f"<link>{link}{guid}</link><dc:creator>Ann Author</dc:creator>"
            f"<pubDate>Wed, 0{1 + n % 9} Jul 2026 10:00:00 GMT</pubDate>"
            f"<description><![CDATA[{html}]]></description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


class StubResolver(AbstractResolver):
    """A stub DNS: host -> addresses, or a list of answers given in turn (rebinding)."""

    def __init__(self, table: dict[str, list[str] | list[list[str]]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: int = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        answer = self.table.get(host)
        if answer is None:
            raise OSError(f"stub DNS: no such host {host}")
        if answer and isinstance(answer[0], list):  # successive answers, the last one repeats
            addresses = answer.pop(0) if len(answer) > 1 else answer[0]
        else:
            addresses = answer
        return [
            ResolveResult(
                hostname=host,
                host=a,
                port=port,
                family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                proto=0,
                flags=0,
            )
            for a in addresses  # type: ignore[union-attr]
        ]

    async def close(self) -> None:
        pass
