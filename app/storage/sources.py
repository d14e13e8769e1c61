"""Sources: subscriptions of one user, with their fetch state and errors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.errors import Conflict, NotFound
from app.models import Source
from app.storage.pagination import decode_cursor, encode_cursor

SOURCE_KINDS = ("feed", "comments", "mastodon")


def create_source(
    session: Session,
    *,
    user_id: int,
    url: str,
    kind: str = "feed",
    title: str | None = None,
    folder: str | None = None,
    now: datetime,
) -> Source:
    """Subscribe; the URL must already have passed :func:`ingest.guard.check_url`."""
    existing = session.exec(
        select(Source).where(Source.user_id == user_id, Source.url == url)
    ).first()
    if existing is not None:
        raise Conflict(f"you already follow {url} (source {existing.id})")
    source = Source(
        user_id=user_id, url=url, kind=kind, title=title, folder=folder, next_check_at=now
    )
    session.add(source)
    session.flush()
    return source


def get_source(session: Session, *, user_id: int, source_id: int) -> Source:
    """The user's source, or :class:`NotFound` (also for another user's source)."""
    source = session.get(Source, source_id)
    if source is None or source.user_id != user_id:
        raise NotFound(f"no source {source_id}")
    return source


def list_sources(
    session: Session, *, user_id: int, limit: int = 100, cursor: str | None = None
) -> tuple[Sequence[Source], str | None]:
    query = select(Source).where(Source.user_id == user_id)
    if cursor:
        (after_id,) = decode_cursor(cursor, size=1)
        query = query.where(col(Source.id) > int(after_id))
    rows = session.exec(query.order_by(col(Source.id)).limit(limit + 1)).all()
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def all_sources(session: Session, *, user_id: int) -> Sequence[Source]:
    return session.exec(
        select(Source).where(Source.user_id == user_id).order_by(col(Source.id))
    ).all()


def delete_source(session: Session, *, user_id: int, source_id: int) -> None:
    session.delete(get_source(session, user_id=user_id, source_id=source_id))


def due_source_ids(
    session: Session, *, now: datetime, include_all: bool = False, limit: int | None = None
) -> list[int]:
    """Sources whose next check has come (or every unpaused source with ``include_all``)."""
    query = select(Source.id).where(col(Source.paused).is_(False))
    if not include_all:
        query = query.where(col(Source.next_check_at) <= now)
    query = query.order_by(col(Source.next_check_at), col(Source.id))
    if limit is not None:
        query = query.limit(limit)
    return [i for i in session.exec(query).all() if i is not None]


def record_success(
    session: Session,
    *,
    source: Source,
    now: datetime,
    next_check_at: datetime,
    etag: str | None,
    last_modified: str | None,
    title: str | None = None,
    site_url: str | None = None,
    new_url: str | None = None,
) -> None:
    """A fetch worked: clear the error state, keep validators, maybe move the URL."""
    source.error_code = None
    source.error_message = None
    source.error_count = 0
    source.last_checked_at = now
    source.last_success_at = now
    source.next_check_at = next_check_at
    source.etag = etag
    source.last_modified = last_modified
    if title and not source.title:
        source.title = title[:300]
    if site_url:
        source.site_url = site_url[:2048]
    if new_url and new_url != source.url:
        clash = session.exec(
            select(Source.id).where(Source.user_id == source.user_id, Source.url == new_url)
        ).first()
        if clash is None:
            source.url = new_url
    session.add(source)


def success_values(
    *,
    source_id: int,
    now: datetime,
    next_check_at: datetime,
    etag: str | None,
    last_modified: str | None,
) -> dict[str, object]:
    """The columns a successful check sets, for :func:`record_successes`."""
    return {
        "id": source_id,
        "error_code": None,
        "error_message": None,
        "error_count": 0,
        "last_checked_at": now,
        "last_success_at": now,
        "next_check_at": next_check_at,
        "etag": etag,
        "last_modified": last_modified,
    }


def record_successes(session: Session, *, rows: list[dict[str, object]]) -> None:
    """Many successful checks that changed nothing else (304s), in one bulk UPDATE."""
    if rows:
        session.execute(update(Source), rows)


def record_failure(
    session: Session,
    *,
    source: Source,
    now: datetime,
    code: str,
    message: str,
    next_check_at: datetime,
    pause: bool = False,
) -> None:
    """A fetch or parse failed: the error is readable on the source, the count grows."""
    source.error_code = code[:50]
    source.error_message = message[:1000]
    source.error_count = (source.error_count or 0) + 1
    source.last_checked_at = now
    source.next_check_at = next_check_at
    if pause:
        source.paused = True
    session.add(source)
