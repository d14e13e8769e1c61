"""Items: upserted per source on ``(source_id, dedupe_key)``; the timeline read path."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Select, Text, bindparam, func, insert, literal_column, union_all, update
from sqlalchemy import cast as sa_cast
from sqlalchemy import delete as sa_delete
from sqlalchemy import exists as sa_exists
from sqlalchemy import null as sa_null
from sqlmodel import Session, and_, col, or_, select

from app.errors import InvalidInput, NotFound
from app.models import Feedback, Identity, Item, ItemTombstone, Person, Source
from app.storage import reading
from app.storage.pagination import decode_cursor, encode_cursor
from ingest.types import EntryData
from ranking.model import provisional_key


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
    known: int = 0  # entries of the document already stored before


MAX_UPDATES = 10  # a feed that rewrites an entry on every fetch stops being followed


def _entry_values(entry: EntryData, digest: str) -> dict[str, object]:
    return {
        "title": entry.title,
        "url": entry.url,
        "content": entry.content,
        "content_hash": digest,
        "tags": list(entry.tags),
        "enclosures": [
            {"url": e.url, "type": e.type, "length": e.length}
            | ({"description": e.description} if e.description else {})
            for e in entry.enclosures
        ],
        "comments_feed": entry.comments_feed,
        "comment_count": entry.comment_count,
        "language": entry.language,
        "boosted_by": entry.boosted_by,
    }


def upsert_entries(
    session: Session,
    *,
    source: Source,
    entries: Sequence[EntryData],
    identity_ids: dict[tuple[str, str], int],
    now: datetime,
) -> UpsertCounts:
    """Insert new entries and update changed ones, in bulk.

    - an entry whose key was tombstoned (deleted by the user, aged out) is skipped;
    - an entry with a new key but the link of a stored item whose old key is gone from
      the feed re-keys that item (the feed changed its guids) instead of doubling it;
    - a changed entry updates its item at most ``MAX_UPDATES`` times (churn cap);
    - a new entry whose URL another source of the user already brought is stored but
      marked ``duplicate_of_id``, so the timeline shows it once.

    Read and feedback state live in other tables keyed by item id, so an update never
    touches them.
    """
    assert source.id is not None
    entries = list({e.dedupe_key: e for e in reversed(entries)}.values())[::-1]  # first wins
    keys = [e.dedupe_key for e in entries]
    found_here = _lookup(
        session, source=source, keys=keys, urls=sorted({e.url for e in entries if e.url})
    )
    existing = found_here.existing
    tombstoned = found_here.tombstoned
    fresh_urls = {
        e.url
        for e in entries
        if e.url and e.dedupe_key not in existing and e.dedupe_key not in tombstoned
    }
    # url -> item id of stored items whose link a new entry carries and whose own key is
    # no longer in the document: the feed changed that entry's guid
    rekeyable = {u: i for u, i in found_here.same_url_here.items() if u in fresh_urls}
    elsewhere = found_here.same_url_elsewhere
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for entry in entries:
        if entry.dedupe_key in tombstoned:
            continue
        digest = content_hash(entry)
        found = existing.get(entry.dedupe_key)
        if found is None and entry.url and entry.url in rekeyable:
            item_id = rekeyable.pop(entry.url)
            updates.append(
                {"id": item_id, "dedupe_key": entry.dedupe_key, **_entry_values(entry, digest)}
            )
            continue
        if found is None:
            published = min(entry.published or entry.updated or now, now)
            inserts.append(
                {
                    **_entry_values(entry, digest),
                    "user_id": source.user_id,
                    "source_id": source.id,
                    "dedupe_key": entry.dedupe_key,
                    "published": published,  # a clock in the future does not pin
                    # ranked with a score of zero at its age until the ranker scores it
                    "rank_key": provisional_key(published),
                    "updated": entry.updated,
                    "fetched_at": now,
                    "author_name": entry.author.name,
                    "identity_id": identity_ids.get((entry.identity.kind, entry.identity.value)),
                    "in_reply_to": entry.in_reply_to,
                    "duplicate_of_id": elsewhere.get(entry.url) if entry.url else None,
                }
            )
        elif found[1] != digest and found[2] < MAX_UPDATES:
            updates.append(
                {
                    "id": found[0],
                    **_entry_values(entry, digest),
                    "updated": entry.updated or now,
                    "update_count": found[2] + 1,
                }
            )
    if inserts:  # a Core executemany: the ORM's bulk insert costs several times more per row
        session.execute(insert(Item.__table__), inserts)
    if updates:
        session.execute(update(Item), updates)
    return UpsertCounts(new=len(inserts), updated=len(updates), known=len(existing))


def has_items(session: Session, *, source_id: int) -> bool:
    """Whether the source has any stored item (a first fetch has none)."""
    found = session.execute(select(Item.id).where(Item.source_id == source_id).limit(1))
    return found.first() is not None


def _chunks(values: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


@dataclass(frozen=True, slots=True)
class _Found:
    existing: dict[str, tuple[int, str, int]]  # key -> (id, content hash, update count)
    tombstoned: set[str]
    same_url_here: dict[str, int]  # url -> lowest id of this source's items whose key left
    same_url_elsewhere: dict[str, int]  # url -> lowest id of the user's other sources' items


def _lookup(
    session: Session, *, source: Source, keys: Sequence[str], urls: Sequence[str]
) -> _Found:
    """Everything upserting a document needs to know, in one round trip per 500 keys:
    the stored items of these keys, the tombstoned keys, this source's items with these
    links (a feed that changed its guids) and the user's items from other sources with
    these links (duplicates across sources)."""
    assert source.id is not None
    wanted = set(keys)
    found = _Found({}, set(), {}, {})
    none = sa_null()
    for start in range(0, max(len(keys), len(urls)), 500):
        key_chunk, url_chunk = keys[start : start + 500], urls[start : start + 500]
        parts: list[Select[Any]] = []
        if key_chunk:
            parts.append(
                select(
                    literal_column("'k'"), Item.id, Item.dedupe_key, Item.url,
                    Item.content_hash, Item.update_count,
                ).where(Item.source_id == source.id, col(Item.dedupe_key).in_(key_chunk))
            )  # fmt: skip
            parts.append(
                select(
                    literal_column("'t'"), none, ItemTombstone.dedupe_key, none, none, none
                ).where(
                    ItemTombstone.source_id == source.id,
                    col(ItemTombstone.dedupe_key).in_(key_chunk),
                )
            )
        if url_chunk:
            parts.append(
                select(literal_column("'u'"), Item.id, Item.dedupe_key, Item.url, none, none).where(
                    Item.source_id == source.id, col(Item.url).in_(url_chunk)
                )
            )
            # no ORDER BY: it would lead SQLite to walk the primary key instead of
            # ix_item_user_url; the first (lowest) id is picked here instead
            parts.append(
                select(literal_column("'e'"), Item.id, none, Item.url, none, none).where(
                    Item.user_id == source.user_id,
                    col(Item.url).in_(url_chunk),
                    Item.source_id != source.id,
                    col(Item.duplicate_of_id).is_(None),
                )
            )
        for part, item_id, key, url, digest, updates in session.execute(union_all(*parts)).all():
            if part == "k":
                found.existing[key] = (item_id, digest, updates)
            elif part == "t":
                found.tombstoned.add(key)
            elif part == "u":
                if key not in wanted:
                    found.same_url_here[url] = min(item_id, found.same_url_here.get(url, item_id))
            else:
                out = found.same_url_elsewhere
                out[url] = min(item_id, out.get(url, item_id))
    return found


def delete_item(session: Session, *, user_id: int, item_id: int, now: datetime) -> None:
    """Delete one of the user's items and tombstone it, so a re-fetch does not bring it
    back; another user's item answers :class:`NotFound`."""
    item = session.get(Item, item_id)
    if item is None or item.user_id != user_id:
        raise NotFound(f"no item {item_id}")
    _tombstone(session, [item], reason="deleted", now=now)


def prune_items(session: Session, *, older_than: datetime, now: datetime) -> int:
    """Age out items published before ``older_than`` (tombstoned: they stay gone)."""
    doomed = session.exec(select(Item).where(col(Item.published) < older_than)).all()
    _tombstone(session, list(doomed), reason="aged_out", now=now)
    return len(doomed)


def _tombstone(session: Session, items: list[Item], *, reason: str, now: datetime) -> None:
    if not items:
        return
    stones = [
        {
            "user_id": i.user_id,
            "source_id": i.source_id,
            "dedupe_key": i.dedupe_key,
            "url": i.url,
            "reason": reason,
            "at": now,
        }
        for i in items
    ]
    ids = [i.id for i in items]
    session.execute(insert(ItemTombstone), stones)
    session.execute(
        update(Item).where(col(Item.duplicate_of_id).in_(ids)).values(duplicate_of_id=None)
    )
    session.execute(sa_delete(Item).where(col(Item.id).in_(ids)))


@dataclass(frozen=True, slots=True)
class TimelineRow:
    item: Item
    source: Source
    person: Person | None


class TimelineEntry(NamedTuple):
    """One timeline item as the API sends it: only the columns it shows, the JSON ones
    (``tags``, ``enclosures``, ``why``) as their stored text, no ORM objects."""

    id: int
    title: str
    url: str | None
    content: str
    published: datetime
    in_reply_to: str | None
    tags: str | None
    enclosures: str | None
    comments_feed: str | None
    comment_count: int | None
    rank_key: float
    why: str | None
    source_id: int
    source_kind: str
    source_title: str | None
    person_id: int | None
    person_name: str | None
    person_pinned: bool | None
    read_at: datetime | None
    saved_at: datetime | None


_ENTRY_COLUMNS = (
    Item.id,
    Item.title,
    Item.url,
    Item.content,
    Item.published,
    Item.in_reply_to,
    sa_cast(Item.tags, Text),
    sa_cast(Item.enclosures, Text),
    Item.comments_feed,
    Item.comment_count,
    Item.rank_key,
    sa_cast(Item.why, Text),
    Source.id,
    Source.kind,
    Source.title,
    Person.id,
    Person.name,
    Person.pinned,
    Item.read_at,
    Item.saved_at,
)


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    """What a timeline read asks for; ``order`` is ``rank`` (best first) or ``newest``."""

    user_id: int
    limit: int = 50
    cursor: str | None = None
    since: datetime | None = None
    person_id: int | None = None
    source_id: int | None = None
    tag: str | None = None
    order: str = "rank"
    state: str = "all"  # all | unread | read | saved


TIMELINE_STATES = ("all", "unread", "read", "saved")

_ROW_COLUMNS = (Item, Source, Person)


@lru_cache(maxsize=128)
def _timeline_statement(columns: tuple[Any, ...], shape: tuple[object, ...]) -> Select[Any]:
    """The statement for one shape of query: which columns, the order, and which
    filters are on. Values travel as bound parameters, so each shape is built (and
    compiled by SQLAlchemy's cache) once per process instead of once per request."""
    order, paged, since, person, source, tag, state = shape
    user_id = bindparam("user_id")
    query = (
        select(*columns)
        .select_from(Item)
        .join(Source, col(Source.id) == Item.source_id)
        .outerjoin(Identity, col(Identity.id) == Item.identity_id)
        .outerjoin(Person, col(Person.id) == Identity.person_id)
        .where(
            Item.user_id == user_id,
            col(Item.duplicate_of_id).is_(None),
            # muted people and hidden items are left out
            or_(col(Person.muted).is_(None), col(Person.muted).is_(False)),
            ~sa_exists().where(
                Feedback.item_id == Item.id,
                Feedback.user_id == user_id,
                Feedback.action == "hide",
            ),
        )
    )
    if since:
        query = query.where(col(Item.published) > bindparam("since"))
    if state == "unread":  # the literal predicate of ix_item_user_unread_rank
        query = query.where(col(Item.read_at).is_(None))
    elif state == "read":
        query = query.where(col(Item.read_at).is_not(None))
    elif state == "saved":
        query = query.where(col(Item.saved_at).is_not(None))
    if person:
        query = query.where(col(Identity.person_id) == bindparam("person_id"))
    if source:
        query = query.where(Item.source_id == bindparam("source_id"))
    if tag:
        query = query.where(
            func.lower(sa_cast(Item.tags, Text)).like(bindparam("tag_pattern"), escape="\\")
        )
    key = col(Item.rank_key) if order == "rank" else col(Item.published)
    if paged:
        boundary = bindparam("after_key")
        after_id = bindparam("after_id")
        query = query.where(or_(key < boundary, and_(key == boundary, col(Item.id) < after_id)))
    return query.order_by(key.desc(), col(Item.id).desc()).limit(bindparam("limit"))


def _timeline_select(
    q: TimelineQuery, columns: tuple[Any, ...]
) -> tuple[Select[Any], dict[str, object]]:
    """The filtered, keyset-paged statement and its parameters: ``limit + 1`` rows, so
    the caller sees whether a next page exists."""
    params: dict[str, object] = {"user_id": q.user_id, "limit": q.limit + 1}
    if q.since is not None:
        params["since"] = q.since
    if q.person_id is not None:
        params["person_id"] = q.person_id
    if q.source_id is not None:
        params["source_id"] = q.source_id
    if q.tag is not None:
        # tags are a JSON list, stored as text on both backends: match the quoted,
        # JSON-escaped tag (LIKE wildcards in it escaped), case-insensitively
        needle = json.dumps(q.tag.strip()).lower()
        pattern = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["tag_pattern"] = f"%{pattern}%"
    if q.cursor:
        raw_key, last_id = decode_cursor(q.cursor, size=2)
        try:
            params["after_key"] = (
                float(raw_key) if q.order == "rank" else datetime.fromisoformat(str(raw_key))
            )
            params["after_id"] = int(last_id)
        except (TypeError, ValueError):
            raise InvalidInput("the cursor is not one this API returned") from None
    shape = (
        q.order,
        "after_id" in params,
        "since" in params,
        "person_id" in params,
        "source_id" in params,
        "tag_pattern" in params,
        q.state,
    )
    return _timeline_statement(columns, shape), params


def _next_cursor(q: TimelineQuery, last: Item | TimelineEntry) -> str:
    """The cursor of the page after the one ending at ``last``."""
    return encode_cursor(
        last.rank_key if q.order == "rank" else last.published.isoformat(), last.id
    )


def read_timeline(
    session: Session,
    *,
    user_id: int,
    limit: int = 50,
    cursor: str | None = None,
    since: datetime | None = None,
    person_id: int | None = None,
    source_id: int | None = None,
    tag: str | None = None,
    order: str = "rank",
    state: str = "all",
) -> tuple[list[TimelineRow], str | None]:
    """Best first: a range read of the ``ix_item_user_rank`` index on the stored rank key
    (:mod:`app.jobs.scoring` keeps it), keyset-paged on ``(rank_key, id)``; ``order="newest"``
    pages on ``(published, id)`` instead. Muted people and hidden items are left out.
    Whole ORM rows, for the reader, the digest and the Atom feed; the API's page reads
    the same statement's 18 columns (:func:`app.storage.timeline_page.read_page`)."""
    q = TimelineQuery(user_id, limit, cursor, since, person_id, source_id, tag, order, state)
    query, params = _timeline_select(q, _ROW_COLUMNS)
    rows = [
        TimelineRow(item=i, source=s, person=p) for i, s, p in session.execute(query, params).all()
    ]
    cursor_out = _next_cursor(q, rows[q.limit - 1].item) if len(rows) > q.limit else None
    return rows[: q.limit], cursor_out


def count_items(session: Session, *, user_id: int) -> int:
    return int(
        session.exec(select(func.count()).select_from(Item).where(Item.user_id == user_id)).one()
    )


FEEDBACK_ACTIONS = ("seen", "open", "like", "reply", "hide", "more", "less")


def add_feedback(
    session: Session, *, user_id: int, item_id: int, action: str, rank: int | None, now: datetime
) -> Feedback:
    """Record what the user did with an item (:mod:`app.jobs.scoring` learns from these)."""
    # the owner only (not the whole row and its content): this runs under the write lock
    owner = session.exec(select(Item.user_id).where(col(Item.id) == item_id)).first()
    if owner is None or owner != user_id:
        raise NotFound(f"no item {item_id}")
    feedback = Feedback(user_id=user_id, item_id=item_id, action=action, rank=rank, at=now)
    session.add(feedback)
    session.flush()
    if action == "open":  # opening an item is reading it (and its copies)
        reading.set_read(session, user_id=user_id, item_ids=[item_id], read=True, now=now)
    return feedback
