"""Read state and saved items, per item (``item.read_at``, ``item.saved_at``). Ingest
never writes these columns, so the state survives re-fetches and identity merges; a
copy of the same URL from another source (``duplicate_of_id``) shares it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.errors import NotFound
from app.models import Identity, Item

MARK_ALL_BATCH = 5000  # rows a transaction when marking everything read (SQLite's lock)


def _family(ids: Sequence[int]) -> sa.ColumnElement[bool]:
    """The items themselves and their copies from other sources."""
    return sa.or_(col(Item.id).in_(ids), col(Item.duplicate_of_id).in_(ids))


def owned(session: Session, *, user_id: int, item_ids: Sequence[int]) -> list[int]:
    """Of these ids, the user's (another user's item is as missing as no item)."""
    if not item_ids:
        return []
    return list(
        session.exec(
            select(Item.id).where(Item.user_id == user_id, col(Item.id).in_(set(item_ids)))
        ).all()  # type: ignore[arg-type]
    )


def one(session: Session, *, user_id: int, item_id: int) -> int:
    found = owned(session, user_id=user_id, item_ids=[item_id])
    if not found:
        raise NotFound(f"no item {item_id}")
    return found[0]


def set_read(
    session: Session, *, user_id: int, item_ids: Sequence[int], read: bool, now: datetime
) -> int:
    """Mark items (and their copies) read or unread; returns how many rows changed.
    Marking read keeps the first read time."""
    ids = owned(session, user_id=user_id, item_ids=item_ids)
    if not ids:
        return 0
    query = sa.update(Item).where(col(Item.user_id) == user_id, _family(ids))
    if read:
        query = query.where(col(Item.read_at).is_(None)).values(read_at=now)
    else:
        query = query.where(col(Item.read_at).is_not(None)).values(read_at=None)
    return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]


def set_saved(session: Session, *, user_id: int, item_id: int, saved: bool, now: datetime) -> None:
    """Save an item for later (retention never removes it), or unsave it."""
    one(session, user_id=user_id, item_id=item_id)
    query = sa.update(Item).where(col(Item.user_id) == user_id, _family([item_id]))
    if saved:
        query = query.where(col(Item.saved_at).is_(None)).values(saved_at=now)
    else:
        query = query.values(saved_at=None)
    session.execute(query)


def unread_before(
    session: Session,
    *,
    user_id: int,
    before: int,
    person_id: int | None = None,
    source_id: int | None = None,
    after: int = 0,
    limit: int = MARK_ALL_BATCH,
) -> list[int]:
    """Up to ``limit`` unread item ids in ``(after, before]``, oldest id first: the next
    batch of "mark all read"."""
    query = select(Item.id).where(
        Item.user_id == user_id,
        col(Item.read_at).is_(None),
        col(Item.id) > after,
        col(Item.id) <= before,
    )
    if source_id is not None:
        query = query.where(Item.source_id == source_id)
    if person_id is not None:
        query = query.join(Identity, col(Identity.id) == Item.identity_id).where(
            Identity.person_id == person_id
        )
    return list(session.exec(query.order_by(col(Item.id)).limit(limit)).all())  # type: ignore[arg-type]


def mark_ids_read(session: Session, *, user_id: int, ids: Sequence[int], now: datetime) -> int:
    if not ids:
        return 0
    result = session.execute(
        sa.update(Item)
        .where(col(Item.user_id) == user_id, col(Item.id).in_(ids), col(Item.read_at).is_(None))
        .values(read_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def unread_count(session: Session, *, user_id: int, fetched_after: datetime | None = None) -> int:
    """Unread items in the timeline's sense (no copies of items shown elsewhere);
    ``fetched_after``: only those that arrived since then."""
    query = (
        select(sa.func.count())
        .select_from(Item)
        .where(
            Item.user_id == user_id,
            col(Item.read_at).is_(None),
            col(Item.duplicate_of_id).is_(None),
        )
    )
    if fetched_after is not None:
        query = query.where(col(Item.fetched_at) > fetched_after)
    return int(session.exec(query).one())


def newest_id(session: Session, *, user_id: int) -> int:
    """The newest item id of the user (0 for none): what "mark all read" marks up to,
    so an item arriving after the page was shown stays unread."""
    found = session.exec(
        select(Item.id).where(Item.user_id == user_id).order_by(col(Item.id).desc()).limit(1)
    ).first()
    return int(found or 0)
