"""The reads Fever needs beyond :mod:`app.apps.mapping`: the user's items by id (since,
before, listed), their unread and saved ids, and when the user's sources were last
refreshed. Every query is the user's own: another user's id matches nothing.

The items are those of the people-as-feeds mapping: not duplicates, not hidden, not of
a muted person (their feed is left out of ``feeds``, so are their items)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from app.apps.mapping import SOURCE_FEED_BASE
from app.models import Feedback, Identity, Item, Person, Source

PAGE = 50  # what Fever clients expect per items call


@dataclass(frozen=True, slots=True)
class FeverItem:
    id: int
    feed_id: int
    title: str
    author: str
    html: str
    url: str
    is_saved: bool
    is_read: bool
    created: datetime


def _visible(user_id: int) -> list[sa.ColumnElement[bool]]:
    return [
        col(Item.user_id) == user_id,
        col(Item.duplicate_of_id).is_(None),
        ~sa.exists().where(
            col(Feedback.item_id) == Item.id,
            col(Feedback.user_id) == user_id,
            col(Feedback.action) == "hide",
        ),
        sa.or_(col(Person.id).is_(None), col(Person.muted).is_(False)),
    ]


def _joined(query: Any) -> Any:  # a Select of any shape, with the person joined
    return query.outerjoin(Identity, col(Identity.id) == col(Item.identity_id)).outerjoin(
        Person, col(Person.id) == col(Identity.person_id)
    )


def read_items(
    session: Session,
    *,
    user_id: int,
    since_id: int | None = None,
    max_id: int | None = None,
    with_ids: Sequence[int] | None = None,
    limit: int = PAGE,
) -> list[FeverItem]:
    """``since_id``: the next ``limit`` after it, oldest first; ``max_id``: the ``limit``
    before it (0: the newest), newest first; ``with_ids``: those (at most ``limit``);
    none of them: the oldest ``limit``."""
    columns = (
        col(Item.id),
        col(Item.source_id),
        col(Item.title),
        col(Item.author_name),
        col(Item.content),
        col(Item.url),
        col(Item.saved_at),
        col(Item.read_at),
        col(Item.published),
        col(Person.id),
        col(Person.name),
    )  # plain columns, not ORM objects: a page is 50 rows with their whole content
    query = _joined(sa.select(*columns).select_from(Item)).where(*_visible(user_id))
    if with_ids is not None:
        query = query.where(col(Item.id).in_(list(with_ids)[:limit])).order_by(col(Item.id))
    elif since_id is not None:
        query = query.where(col(Item.id) > since_id).order_by(col(Item.id))
    elif max_id is not None:
        if max_id > 0:
            query = query.where(col(Item.id) < max_id)
        query = query.order_by(col(Item.id).desc())
    else:
        query = query.order_by(col(Item.id))
    out = []
    for row in session.execute(query.limit(limit)).all():
        item_id, source_id, title, author, html, url, saved, read, published, pid, name = row
        out.append(
            FeverItem(
                id=item_id,
                feed_id=pid if pid is not None else SOURCE_FEED_BASE + source_id,
                title=title or "",
                author=name or author or "",
                html=html or "",
                url=url or "",
                is_saved=saved is not None,
                is_read=read is not None,
                created=published,
            )
        )
    return out


def count_items(session: Session, *, user_id: int) -> int:
    query = _joined(sa.select(sa.func.count()).select_from(Item)).where(*_visible(user_id))
    return int(session.execute(query).scalar_one())


def item_ids(session: Session, *, user_id: int, state: str) -> list[int]:
    """The user's unread (``state="unread"``) or saved (``"saved"``) item ids, ascending."""
    column = Item.read_at if state == "unread" else Item.saved_at
    test = col(column).is_(None) if state == "unread" else col(column).is_not(None)
    query = (
        _joined(sa.select(col(Item.id)).select_from(Item))
        .where(*_visible(user_id), test)
        .order_by(col(Item.id))
    )
    return [int(i) for i in session.execute(query).scalars().all()]


def feed_numbers(session: Session, *, user_id: int, ids: Sequence[int]) -> list[int]:
    """The feed numbers (people, else unclaimed sources) of the user's items ``ids``."""
    if not ids:
        return []
    query = (
        _joined(sa.select(col(Person.id), col(Item.source_id)).select_from(Item))
        .where(*_visible(user_id), col(Item.id).in_(list(ids)))
        .distinct()
    )
    return sorted(
        {pid if pid is not None else SOURCE_FEED_BASE + sid for pid, sid in session.execute(query)}
    )


def last_refreshed(session: Session, *, user_id: int) -> datetime | None:
    value = session.execute(
        sa.select(sa.func.max(col(Source.last_checked_at))).where(col(Source.user_id) == user_id)
    ).scalar_one_or_none()
    return value if isinstance(value, datetime) else None
