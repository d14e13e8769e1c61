"""Subscribing: the one place that turns a user's URL or OPML file into sources.

Used by the API, the CLI and the web reader alike, so a URL is checked by the
network guard the same way whichever door it came in by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from app.errors import Conflict, NotImplementedYet
from app.models import Source
from app.storage import sources as source_store
from ingest.errors import IngestError
from ingest.guard import GuardPolicy, check_url
from ingest.opml import OPMLOutline, parse_opml, render_opml


def add_source(
    session: Session,
    *,
    user_id: int,
    url: str,
    kind: str = "feed",
    title: str | None = None,
    folder: str | None = None,
    guard: GuardPolicy,
    now: datetime,
) -> Source:
    """Validate ``url`` with the guard, then subscribe; raises a coded error otherwise."""
    if kind == "mastodon":
        raise NotImplementedYet("Mastodon sources arrive with the Mastodon issue; not yet")
    url = url.strip()
    check_url(url, guard)
    return source_store.create_source(
        session, user_id=user_id, url=url, kind=kind, title=title, folder=folder, now=now
    )


@dataclass(slots=True)
class ImportResult:
    added: list[Source] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # url, code, message


def import_opml(
    session: Session, *, user_id: int, content: bytes, guard: GuardPolicy, now: datetime
) -> ImportResult:
    """Subscribe to every feed in an OPML file; a bad entry is skipped with its reason."""
    result = ImportResult()
    for outline in parse_opml(content):
        try:
            with session.begin_nested():
                source = add_source(
                    session,
                    user_id=user_id,
                    url=outline.url,
                    title=outline.title,
                    folder=outline.folder,
                    guard=guard,
                    now=now,
                )
            result.added.append(source)
        except Conflict as exc:
            result.skipped.append((outline.url, exc.code, exc.message))
        except IngestError as exc:
            result.skipped.append((outline.url, exc.code, exc.message))
    return result


def export_opml(session: Session, *, user_id: int) -> bytes:
    outlines = [
        OPMLOutline(url=s.url, title=s.title, html_url=s.site_url, folder=s.folder)
        for s in source_store.all_sources(session, user_id=user_id)
    ]
    return render_opml(outlines)
