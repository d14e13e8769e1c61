"""The offline demo: bundled sample feeds served from a loopback server the demo starts.

The feeds go through the same fetch -> parse -> store path as any other source. Dates in
the files are written as hours before the server started (``@@RFC822:30@@``), so the
demo timeline always looks recent.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from app.db import session_scope
from app.jobs.subscriptions import add_source
from app.models import Person, Source
from app.storage import contacts as contact_store
from app.storage import people as people_store
from app.storage import users as user_store
from ingest.guard import GuardPolicy

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_USER = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 - the demo's documented, local-only password

# path served -> (file, content type, source kind)
DEMO_FEEDS: dict[str, tuple[str, str, str]] = {
    "/maya/feed/": ("maya-blog.xml", "application/rss+xml; charset=utf-8", "feed"),
    "/maya/2026/we-are-getting-married/feed/": (
        "maya-comments-wedding.xml",
        "application/rss+xml; charset=utf-8",
        "comments",
    ),
    "/sam/feed.atom": ("sam.atom", "application/atom+xml; charset=utf-8", "feed"),
    "/priya/rss.xml": ("priya.xml", "application/rss+xml; charset=utf-8", "feed"),
}


def render(template: str, *, base: str, now: datetime) -> str:
    """Fill ``@@BASE@@``, ``@@RFC822:H@@`` and ``@@ISO:H@@`` (H hours before ``now``)."""

    def when(match: re.Match[str]) -> str:
        at = now - timedelta(hours=int(match.group(2)))
        return format_datetime(at) if match.group(1) == "RFC822" else at.isoformat()

    return re.sub(r"@@(RFC822|ISO):(\d+)@@", when, template.replace("@@BASE@@", base))


_POST_BODY = (
    b'<!doctype html><meta charset=utf-8><title>Kith demo post</title><link rel=icon href="data:,">'
    b"<p>This is where the original post would be: the demo's blogs are sample feeds.</p>"
)
POST_PAGE = (_POST_BODY, "text/html; charset=utf-8", '"demo-post"')


class DemoServer:
    """A threaded loopback HTTP server for the demo feeds, with ETag/304 support."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        pages: dict[str, tuple[bytes, str, str]] = {}
        self._pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = urlsplit(self.path).path
                page = pages.get(path)
                if page is None and path.endswith("/") and path != "/":
                    page = POST_PAGE  # a post's permalink: the reader's "open" lands here
                if page is None:
                    self.send_error(404)
                    return
                body, ctype, etag = page
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host, self.port = self._server.server_address[:2]  # type: ignore[misc]
        self.base_url = f"http://{self.host}:{self.port}"
        now = datetime.now(UTC).replace(microsecond=0)
        for path, (name, ctype, _kind) in DEMO_FEEDS.items():
            text = render((DATA_DIR / name).read_text("utf-8"), base=self.base_url, now=now)
            body = text.encode("utf-8")
            pages[path] = (body, ctype, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> DemoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True, slots=True)
class DemoSeed:
    user: str
    password: str
    token: str


def seed_demo(engine: Engine, *, base_url: str, guard: GuardPolicy) -> DemoSeed:
    """Create (or refresh) the demo user and its sources pointing at ``base_url``.

    Idempotent: on a later start the existing demo sources are moved to the new port,
    and their items, deduplicated by guid, are kept.
    """
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        user = user_store.get_user_by_name(session, name=DEMO_USER)
        if user is None:
            user = user_store.create_user(session, name=DEMO_USER, password=DEMO_PASSWORD)
        assert user.id is not None
        user_store.revoke_tokens(session, user_id=user.id, name="demo", now=now)
        _, token = user_store.create_token(session, user_id=user.id, name="demo")
        existing = session.exec(select(Source).where(Source.user_id == user.id)).all()
        by_path = {urlsplit(s.url).path: s for s in existing}
        for path, (_name, _ctype, kind) in DEMO_FEEDS.items():
            url = base_url + path
            source = by_path.get(path)
            if source is None:
                add_source(session, user_id=user.id, url=url, kind=kind, guard=guard, now=now)
            else:
                source.url = url
                source.next_check_at = now
                source.etag = source.last_modified = None
                session.add(source)
    return DemoSeed(user=DEMO_USER, password=DEMO_PASSWORD, token=token)


def seed_demo_contacts(engine: Engine, *, now: datetime | None = None) -> int:
    """The demo user's bundled history of contact (data/contacts.json): interactions and
    relationship types for the people the demo feeds brought in. Idempotent."""
    now = now or datetime.now(UTC)
    data = json.loads((DATA_DIR / "contacts.json").read_text("utf-8"))
    added = 0
    with session_scope(engine) as session:
        user = user_store.get_user_by_name(session, name=DEMO_USER)
        if user is None or user.id is None:
            return 0
        for name, info in data["people"].items():
            person = session.exec(
                select(Person)
                .where(Person.user_id == user.id, Person.name == name)
                .order_by(col(Person.id))
            ).first()
            if person is None or person.id is None:
                continue
            person.relationships = sorted(
                set(person.relationships or []) | set(info["relationships"])
            )
            session.add(person)
            rows = [
                {
                    "person_id": person.id,
                    "direction": direction,
                    "kind": kind,
                    "at": now - timedelta(days=days),
                    "external_id": f"demo:{name}:{days}:{direction}:{kind}",
                }
                for days, direction, kind in info["contacts"]
            ]
            added += people_store.record_interactions(session, user_id=user.id, rows=rows)
            logged = [  # the contact log: contact Kith could not have seen
                {
                    "person_id": person.id,
                    "direction": direction,
                    "kind": kind,
                    "at": now - timedelta(days=days),
                    "external_id": f"demo:{name}:{days}:{direction}:{kind}",
                    "logged": True,
                    "note": note,
                }
                for days, direction, kind, note in info.get("logged", [])
            ]
            added += people_store.record_interactions(session, user_id=user.id, rows=logged)
            # dates to remember: [kind, in how many days, how many years ago]
            for kind, in_days, years in info.get("dates", []):
                on = (now + timedelta(days=in_days)).date()
                contact_store.set_date(
                    session,
                    user_id=user.id,
                    person_id=person.id,
                    kind=kind,
                    month=on.month,
                    day=on.day,
                    year=on.year - years,
                )
    return added
