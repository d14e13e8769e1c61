"""Google Reader streams over Kith's items: which items a stream id names, with the
protocol's filters (``xt``/``it`` read or starred, ``ot``/``nt`` published after/before),
in one of three orders, keyset-paged by an opaque continuation.

Orders: ``newest`` (the default, as the reference servers), ``oldest`` (``r=o``) and
``rank`` (``r=a``, Google Reader's "magic" order: Kith's rank key, best first). As in the
timeline, copies of an item from another source, hidden items and muted people are
left out; another user's feed or label is an empty stream, like a missing one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from app.apps import mapping
from app.errors import InvalidInput
from app.models import Feedback, Identity, Item, Person, Source
from app.storage.pagination import decode_cursor, encode_cursor

STATE = "user/-/state/com.google/"
READING_LIST = STATE + "reading-list"
READ = STATE + "read"
STARRED = STATE + "starred"
KEPT_UNREAD = STATE + "kept-unread"
LABEL = "user/-/label/"
FEED = "feed/"
ORDERS = ("newest", "oldest", "rank")


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """What a stream (plus the request's filters) selects. ``None`` = no limit."""

    person_ids: tuple[int, ...] | None = None
    source_ids: tuple[int, ...] | None = None
    item_ids: tuple[int, ...] | None = None
    read: bool | None = None
    starred: bool | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None
    empty: bool = False  # a stream that names nothing of the user's


def user_state(stream_id: str) -> str:
    """``user/<anything>/state/...`` -> ``user/-/state/...`` (clients send their user id)."""
    if stream_id.startswith("user/") and not stream_id.startswith("user/-/"):
        head, _, rest = stream_id[5:].partition("/")
        if head and rest:
            return "user/-/" + rest
    return stream_id


def resolve(session: Session, *, user_id: int, stream_id: str) -> StreamFilter:
    """The filter a stream id names; :class:`InvalidInput` for one Kith cannot serve."""
    sid = user_state(stream_id.strip())
    if sid in (READING_LIST, ""):
        return StreamFilter()
    if sid == READ:
        return StreamFilter(read=True)
    if sid == STARRED:
        return StreamFilter(starred=True)
    if sid == KEPT_UNREAD:
        return StreamFilter(read=False)
    if sid.startswith(FEED):
        number = sid[len(FEED) :]
        if number.startswith("person:"):
            number = number[len("person:") :]
        if not number.isdigit() or len(number) > 20:
            return StreamFilter(empty=True)  # a feed URL Kith does not know: nothing
        person_id, source_id = mapping.split_feed_number(int(number))
        if person_id is not None:
            return StreamFilter(person_ids=(person_id,))
        if source_id is not None:  # an unclaimed source only: its items without a person
            return StreamFilter(source_ids=(source_id,), person_ids=())
        return StreamFilter(empty=True)
    if sid.startswith(LABEL):
        label = sid[len(LABEL) :]
        if label == mapping.TOP_LABEL:
            return StreamFilter(item_ids=tuple(mapping.top_ids(session, user_id=user_id)))
        if label == mapping.IMPORTANT_LABEL:
            return StreamFilter(item_ids=tuple(mapping.important_ids(session, user_id=user_id)))
        people = mapping.label_people(session, user_id=user_id, label=label)
        return StreamFilter(person_ids=tuple(people)) if people else StreamFilter(empty=True)
    if sid.startswith(STATE):
        return StreamFilter(empty=True)  # broadcast, like, tracking-*: nothing in Kith
    raise InvalidInput(f"unknown stream id {stream_id[:100]!r}")


def with_states(f: StreamFilter, *, exclude: Sequence[str], include: Sequence[str]) -> StreamFilter:
    """Apply ``xt`` (exclude) and ``it`` (include) state stream ids."""
    for sid in map(user_state, exclude):
        if sid == READ:
            f = replace(f, empty=f.empty or f.read is True, read=False)
        elif sid == STARRED:
            f = replace(f, empty=f.empty or f.starred is True, starred=False)
    for sid in map(user_state, include):
        if sid == READ:
            f = replace(f, empty=f.empty or f.read is False, read=True)
        elif sid == STARRED:
            f = replace(f, empty=f.empty or f.starred is False, starred=True)
        elif sid == KEPT_UNREAD:
            f = replace(f, empty=f.empty or f.read is True, read=False)
    return f


def _where(query: Any, user_id: int, f: StreamFilter) -> Any:
    query = (
        query.select_from(Item)
        .outerjoin(Identity, col(Identity.id) == Item.identity_id)
        .outerjoin(Person, col(Person.id) == Identity.person_id)
        .where(
            col(Item.user_id) == user_id,
            col(Item.duplicate_of_id).is_(None),
            sa.or_(col(Person.muted).is_(None), col(Person.muted).is_(False)),
            ~sa.exists().where(
                col(Feedback.item_id) == Item.id,
                col(Feedback.user_id) == user_id,
                col(Feedback.action) == "hide",
            ),
        )
    )
    if f.person_ids is not None:
        if f.person_ids:
            query = query.where(col(Identity.person_id).in_(f.person_ids))
        else:
            query = query.where(col(Identity.person_id).is_(None))
    if f.source_ids is not None:
        query = query.where(col(Item.source_id).in_(f.source_ids))
    if f.item_ids is not None:
        query = query.where(col(Item.id).in_(f.item_ids))
    if f.read is True:
        query = query.where(col(Item.read_at).is_not(None))
    elif f.read is False:
        query = query.where(col(Item.read_at).is_(None))
    if f.starred is True:
        query = query.where(col(Item.saved_at).is_not(None))
    elif f.starred is False:
        query = query.where(col(Item.saved_at).is_(None))
    if f.published_after is not None:
        query = query.where(col(Item.published) >= f.published_after)
    if f.published_before is not None:
        query = query.where(col(Item.published) <= f.published_before)
    return query


@dataclass(frozen=True, slots=True)
class Ref:
    id: int
    published: datetime


def page_ids(
    session: Session,
    *,
    user_id: int,
    f: StreamFilter,
    order: str,
    limit: int,
    continuation: str | None,
) -> tuple[list[Ref], str | None]:
    """One page of item refs and the continuation of the next page (None at the end)."""
    if f.empty or (f.item_ids is not None and not f.item_ids):
        return [], None
    key = col(Item.rank_key) if order == "rank" else col(Item.published)
    query = _where(sa.select(col(Item.id), col(Item.published), col(Item.rank_key)), user_id, f)
    if continuation:
        raw_key, last_id = decode_cursor(continuation, size=2)
        try:
            after = float(raw_key) if order == "rank" else datetime.fromisoformat(str(raw_key))
            after_id = int(last_id)
        except (TypeError, ValueError):
            raise InvalidInput("the continuation is not one this server returned") from None
        if order == "oldest":
            query = query.where(sa.or_(key > after, sa.and_(key == after, col(Item.id) > after_id)))
        else:
            query = query.where(sa.or_(key < after, sa.and_(key == after, col(Item.id) < after_id)))
    if order == "oldest":
        query = query.order_by(key.asc(), col(Item.id).asc())
    else:
        query = query.order_by(key.desc(), col(Item.id).desc())
    rows = session.execute(query.limit(limit + 1)).all()
    refs = [Ref(r[0], r[1]) for r in rows[:limit]]
    if len(rows) <= limit:
        return refs, None
    last = rows[limit - 1]
    return refs, encode_cursor(last[2] if order == "rank" else last[1].isoformat(), last[0])


@dataclass(frozen=True, slots=True)
class ItemData:
    """The item columns its Google Reader form needs."""

    id: int
    url: str | None
    title: str | None
    content: str | None
    published: datetime
    updated: datetime | None
    fetched_at: datetime
    author_name: str | None
    enclosures: list[dict[str, object]] | None
    read_at: datetime | None
    saved_at: datetime | None


@dataclass(frozen=True, slots=True)
class SourceData:
    id: int
    url: str
    title: str | None
    site_url: str | None


@dataclass(frozen=True, slots=True)
class PersonData:
    id: int
    name: str
    relationships: list[str] | None


@dataclass(frozen=True, slots=True)
class ItemRow:
    item: ItemData
    source: SourceData
    person: PersonData | None


_ITEM_COLUMNS = [getattr(Item, f.name) for f in fields(ItemData)]
_SOURCE_COLUMNS = [getattr(Source, f.name) for f in fields(SourceData)]
_PERSON_COLUMNS = [getattr(Person, f.name) for f in fields(PersonData)]
_I, _S = len(_ITEM_COLUMNS), len(_ITEM_COLUMNS) + len(_SOURCE_COLUMNS)


def load_items(session: Session, *, user_id: int, ids: Sequence[int]) -> list[ItemRow]:
    """The user's items among ``ids`` (in that order; others' and missing ones left out).
    Plain columns, not ORM rows: a contents call loads hundreds of items, and building
    three ORM objects each cost twice the query (bench.greader)."""
    wanted = [i for i in dict.fromkeys(ids) if 0 < i <= mapping.ITEM_ID_MAX]
    if not wanted:
        return []
    query = (
        sa.select(*_ITEM_COLUMNS, *_SOURCE_COLUMNS, *_PERSON_COLUMNS)
        .select_from(Item)
        .join(Source, col(Source.id) == Item.source_id)
        .outerjoin(Identity, col(Identity.id) == Item.identity_id)
        .outerjoin(Person, col(Person.id) == Identity.person_id)
        .where(col(Item.user_id) == user_id, col(Item.id).in_(wanted))
    )
    found: dict[int, ItemRow] = {}
    for r in session.execute(query).all():
        person = PersonData(*r[_S:]) if r[_S] is not None else None
        found[r[0]] = ItemRow(ItemData(*r[:_I]), SourceData(*r[_I:_S]), person)
    return [found[i] for i in wanted if i in found]
