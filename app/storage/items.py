"""Items: upserted per source on ``(source_id, dedupe_key)``; the timeline read path."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, update
from sqlmodel import Session, and_, col, or_, select

from app.errors import InvalidInput
from app.models import Identity, Item, Person, Source
from app.storage.pagination import decode_cursor, encode_cursor
from ingest.types import EntryData


def content_hash(entry: EntryData) -> str:
    h = hashlib.sha256()
    for part in (entry.title, entry.url or "", entry.content):
        h.update(part.encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    new: int
    updated: int


def upsert_entries(
    session: Session,
    *,
    source: Source,
    entries: Sequence[EntryData],
    identity_ids: dict[tuple[str, str], int],
    now: datetime,
) -> UpsertCounts:
    """Insert new entries and update changed ones, in bulk; unchanged ones cost one
    indexed read for the whole batch.

    Read and feedback state live in other tables keyed by item id, so an update
    never touches them.
    """
    assert source.id is not None
    keys = [e.dedupe_key for e in entries]
    existing: dict[str, tuple[int, str]] = {}
    for start in range(0, len(keys), 500):
        rows = session.execute(
            select(Item.id, Item.dedupe_key, Item.content_hash).where(
                Item.source_id == source.id, col(Item.dedupe_key).in_(keys[start : start + 500])
            )
        ).all()
        for item_id, key, digest in rows:
            existing[key] = (item_id, digest)
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for entry in entries:
        digest = content_hash(entry)
        found = existing.get(entry.dedupe_key)
        if found is None:
            published = entry.published or entry.updated or now
            inserts.append(
                {
                    "user_id": source.user_id,
                    "source_id": source.id,
                    "dedupe_key": entry.dedupe_key,
                    "url": entry.url,
                    "title": entry.title,
                    "content": entry.content,
                    "content_hash": digest,
                    "published": min(published, now),  # a clock in the future does not pin
                    "updated": entry.updated,
                    "fetched_at": now,
                    "author_name": entry.author.name,
                    "identity_id": identity_ids.get((entry.identity.kind, entry.identity.value)),
                    "in_reply_to": entry.in_reply_to,
                }
            )
        elif found[1] != digest:
            updates.append(
                {
                    "id": found[0],
                    "title": entry.title,
                    "url": entry.url,
                    "content": entry.content,
                    "content_hash": digest,
                    "updated": entry.updated or now,
                }
            )
    if inserts:
        session.execute(insert(Item), inserts)
    if updates:
        session.execute(update(Item), updates)
    return UpsertCounts(new=len(inserts), updated=len(updates))


@dataclass(frozen=True, slots=True)
class TimelineRow:
    item: Item
    source: Source
    person: Person | None


def read_timeline(
    session: Session,
    *,
    user_id: int,
    limit: int = 50,
    cursor: str | None = None,
    since: datetime | None = None,
) -> tuple[list[TimelineRow], str | None]:
    """Newest first, keyset-paged on ``(published, id)`` (the ``ix_item_user_published_id``
    index). Ranking replaces this order when the ranking issue lands."""
    query = (
        select(Item, Source, Person)
        .join(Source, col(Source.id) == Item.source_id)
        .outerjoin(Identity, col(Identity.id) == Item.identity_id)
        .outerjoin(Person, col(Person.id) == Identity.person_id)
        .where(Item.user_id == user_id)
    )
    if since is not None:
        query = query.where(col(Item.published) > since)
    if cursor:
        published_iso, last_id = decode_cursor(cursor, size=2)
        try:
            published = datetime.fromisoformat(str(published_iso))
            last_id = int(last_id)
        except (TypeError, ValueError):
            raise InvalidInput("the cursor is not one this API returned") from None
        query = query.where(
            or_(
                col(Item.published) < published,
                and_(col(Item.published) == published, col(Item.id) < last_id),
            )
        )
    query = query.order_by(col(Item.published).desc(), col(Item.id).desc()).limit(limit + 1)
    rows = [TimelineRow(item=i, source=s, person=p) for i, s, p in session.exec(query).all()]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1].item
        next_cursor = encode_cursor(last.published.isoformat(), last.id)
    return rows[:limit], next_cursor


def count_items(session: Session, *, user_id: int) -> int:
    return int(
        session.exec(select(func.count()).select_from(Item).where(Item.user_id == user_id)).one()
    )
