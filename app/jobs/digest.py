"""The digest: what happened since a time, whom to reach out to, and the life events
among it; and the Atom feed of the curated stream. Shared by the API and the reader."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - used to build output only
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from app.errors import NotFound
from app.people.dates import upcoming_dates
from app.schemas import UpcomingOut
from app.storage import people as people_store
from app.storage.items import TimelineRow, read_timeline
from ingest.sanitize import plain_text
from ranking.relationships import Drift, drifting
from ranking.stories import Story, life_event

ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True, slots=True)
class Digest:
    since: datetime
    rows: list[TimelineRow]
    stories: list[tuple[TimelineRow, Story]]
    drifts: list[Drift]
    names: dict[int, str]  # person id -> name, for the people in drifts
    upcoming: list[UpcomingOut] = field(default_factory=list)  # dates coming round


def build_digest(session: Session, *, user_id: int, since: datetime, now: datetime) -> Digest:
    rows, _ = read_timeline(session, user_id=user_id, limit=100, since=since)
    stories = []
    for row in rows:
        story = life_event(row.item.title, plain_text(row.item.content, limit=2000))
        if story is not None and row.source.kind != "comments":
            stories.append((row, story))
    drifts = drifting(people_store.contact_histories(session, user_id=user_id, now=now), now=now)
    names = {}
    for d in drifts[:10]:
        try:
            names[d.person_id] = people_store.get_person(
                session, user_id=user_id, person_id=d.person_id
            ).name
        except NotFound:  # merged away meanwhile
            continue
    return Digest(
        since=since,
        rows=rows,
        stories=stories,
        drifts=drifts[:10],
        names=names,
        upcoming=upcoming_dates(session, user_id=user_id, today=now.date()),
    )


def atom_feed(rows: list[TimelineRow], *, title: str, self_url: str, updated: datetime) -> bytes:
    """An Atom 1.0 document of timeline rows (content is the sanitized HTML)."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "title", title)
    sub(feed, "id", self_url.split("/api/v1/feeds/")[0] + "/kith-curated-stream")
    sub(feed, "updated", updated.isoformat())
    sub(feed, "generator", "Kith")
    for row in rows:
        item = row.item
        entry = sub(feed, "entry")
        sub(entry, "title", item.title or "(untitled)")
        sub(entry, "id", f"kith:item:{item.id}:{item.dedupe_key}")
        if item.url:
            sub(entry, "link", href=item.url, rel="alternate")
        sub(entry, "published", item.published.isoformat())
        sub(entry, "updated", (item.updated or item.published).isoformat())
        author = sub(entry, "author")
        sub(author, "name", row.person.name if row.person else (item.author_name or "unknown"))
        sub(entry, "content", item.content, type="html")
    out: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return out
