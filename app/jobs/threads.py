"""Blog comment threads as conversations: interactions from comments, and following
the threads that matter.

Called by the refresh job after a source's entries are stored, in the same
transaction. The decisions are pure functions at the bottom; the rest reads and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from app.models import Identity, Item, Source
from app.storage import people as people_store
from ingest.kinds import comment_parent
from ingest.types import EntryData, FeedData

QUIET_AFTER = timedelta(days=30)
# set on a source (in ``source.state``) whose stored items are comments not yet counted:
# by migration 0012 for comment feeds once filed as plain feeds
ADOPT_FLAG = "adopt_comments"
_CHUNK = 500


class Reply(Protocol):
    """A comment as an entry of the fetched document or as a stored item."""

    @property
    def dedupe_key(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def in_reply_to(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ThreadOptions:
    """Plain values: how many threads of one source to follow at most."""

    threads_per_source: int = 5


def after_store(
    session: Session,
    *,
    source: Source,
    feed: FeedData,
    now: datetime,
    options: ThreadOptions,
) -> None:
    """Record comment interactions, follow threads worth following, rest quiet ones."""
    assert source.id is not None
    me = people_store.self_keys(session, user_id=source.user_id)
    replies = [e for e in feed.entries if e.in_reply_to]
    if replies:
        joined = _comment_interactions(session, source=source, replies=replies, me=me)
        if joined and options.threads_per_source > 0:
            _follow_joined(session, user_id=source.user_id, post_urls=joined, now=now)
    if source.kind == "feed" and options.threads_per_source > 0:
        _follow_threads(
            session, source=source, entries=feed.entries, me=me, now=now, options=options
        )
    if source.parent_item_id is not None:
        newest = max((e.published for e in feed.entries if e.published), default=None)
        if thread_is_quiet(newest, started=source.created_at, now=now):
            source.paused = True  # the conversation is over; resume by hand if it is not


def _items_by_key(session: Session, *, source_id: int, keys: list[str]) -> dict[str, Item]:
    rows = session.exec(
        select(Item).where(Item.source_id == source_id, col(Item.dedupe_key).in_(keys))
    ).all()
    return {i.dedupe_key: i for i in rows}


def adopt_stored_comments(
    session: Session, *, source: Source, now: datetime, options: ThreadOptions
) -> None:
    """A source just recognised as a comment feed (it was filed as a plain feed): its
    stored items become comments (``in_reply_to`` from their ``post#comment-N`` links)
    and count as contact like the comments of the fetched document. Interactions are
    keyed by the comment's URL, so nothing is counted twice."""
    assert source.id is not None
    orphans = session.exec(
        select(Item.id, Item.url).where(
            Item.source_id == source.id,
            col(Item.in_reply_to).is_(None),
            col(Item.url).contains("#"),
        )
    ).all()
    fixes = [
        {"id": item_id, "in_reply_to": parent}
        for item_id, url in orphans
        if (parent := comment_parent(url)) is not None
    ]
    for start in range(0, len(fixes), _CHUNK):
        session.execute(update(Item), fixes[start : start + _CHUNK])
    me = people_store.self_keys(session, user_id=source.user_id)
    stored = session.exec(
        select(Item).where(Item.source_id == source.id, col(Item.in_reply_to).is_not(None))
    ).all()
    joined: set[str] = set()
    for start in range(0, len(stored), _CHUNK):
        joined |= _comment_interactions(
            session, source=source, replies=stored[start : start + _CHUNK], me=me
        )
    if joined and options.threads_per_source > 0:
        _follow_joined(session, user_id=source.user_id, post_urls=joined, now=now)
    if ADOPT_FLAG in (source.state or {}):
        source.state = {k: v for k, v in source.state.items() if k != ADOPT_FLAG}


def _comment_interactions(
    session: Session, *, source: Source, replies: Sequence[Reply], me: people_store.SelfKeys
) -> set[str]:
    """A comment on the user's own blog is contact from its writer; the user's comment
    on someone's post is contact towards the post's author. Returns the posts the user
    commented on."""
    joined: set[str] = set()
    if me.person_id is None:
        return joined
    assert source.id is not None
    items = _items_by_key(session, source_id=source.id, keys=[e.dedupe_key for e in replies])
    identities = {
        i.id: i
        for i in session.exec(
            select(Identity).where(
                col(Identity.id).in_([i.identity_id for i in items.values() if i.identity_id])
            )
        ).all()
    }
    rows: list[dict[str, object]] = []
    for entry in replies:
        item = items.get(entry.dedupe_key)
        if item is None or item.identity_id is None:
            continue
        identity = identities.get(item.identity_id)
        if identity is None:
            continue
        by_me = me.is_self(identity.id, identity.kind, identity.value)
        on_my_site = urlsplit(entry.in_reply_to or "").netloc in me.sites
        # one comment seen through two feeds (the site-wide one and the thread) is one
        # contact: key it by its own URL when it has one
        external = f"comment:{entry.url or f'{source.id}:{entry.dedupe_key}'}"[:500]
        if on_my_site and not by_me:
            rows.append(_interaction(identity.person_id, "in", item, external))
        elif by_me and not on_my_site:
            joined.add(entry.in_reply_to or "")
            author = _post_author(session, user_id=source.user_id, url=entry.in_reply_to)
            if author is not None and author != me.person_id:
                rows.append(_interaction(author, "out", item, external))
    people_store.record_interactions(session, user_id=source.user_id, rows=rows)
    return joined


def _follow_joined(session: Session, *, user_id: int, post_urls: set[str], now: datetime) -> None:
    """Follow the thread of every stored post the user has just been seen commenting on."""
    posts = session.exec(
        select(Item).where(
            Item.user_id == user_id,
            col(Item.url).in_(sorted(post_urls)),
            col(Item.comments_feed).is_not(None),
            col(Item.duplicate_of_id).is_(None),
        )
    ).all()
    feeds = {p.comments_feed: p for p in posts if p.comments_feed}
    if not feeds:
        return
    existing = set(
        session.scalars(
            select(Source.url).where(Source.user_id == user_id, col(Source.url).in_(list(feeds)))
        ).all()
    )
    for url, post in feeds.items():
        if url not in existing:
            session.add(_thread_source(user_id=user_id, url=url, post=post, folder=None, now=now))


def _interaction(person_id: int, direction: str, item: Item, external: str) -> dict[str, object]:
    return {
        "person_id": person_id,
        "direction": direction,
        "kind": "comment",
        "at": item.published,
        "item_id": item.id,
        "external_id": external,
    }


def _post_author(session: Session, *, user_id: int, url: str | None) -> int | None:
    if not url:
        return None
    row = session.exec(
        select(Identity.person_id)
        .join(Item, col(Item.identity_id) == Identity.id)
        .where(Item.user_id == user_id, Item.url == url)
        .limit(1)
    ).first()
    return row


def _follow_threads(
    session: Session,
    *,
    source: Source,
    entries: Sequence[EntryData],
    me: people_store.SelfKeys,
    now: datetime,
    options: ThreadOptions,
) -> None:
    assert source.id is not None
    candidates = [e for e in entries if e.comments_feed and e.url]
    if not candidates:
        return
    items = _items_by_key(session, source_id=source.id, keys=[e.dedupe_key for e in candidates])
    post_ids = [i.id for i in items.values() if i.id is not None]
    following = session.exec(
        select(func.count())
        .select_from(Source)
        .where(col(Source.parent_item_id).in_(post_ids), col(Source.paused).is_(False))
    ).one()
    person_of = {
        i.id: pid
        for i, pid in session.exec(
            select(Item, Identity.person_id)
            .join(Identity, col(Identity.id) == Item.identity_id)
            .where(col(Item.id).in_(post_ids))
        ).all()
    }
    valued = people_store.valued_people(
        session, user_id=source.user_id, person_ids=[p for p in person_of.values() if p]
    )
    took_part = _threads_with_my_comments(
        session, user_id=source.user_id, urls=[e.url for e in candidates if e.url], me=me
    )
    chosen = choose_threads(
        [
            Candidate(
                url=e.comments_feed or "",
                post_url=e.url or "",
                published=e.published,
                own_site=urlsplit(e.url or "").netloc in me.sites,
                took_part=e.url in took_part,
                valued_author=person_of.get(items[e.dedupe_key].id) in valued
                if e.dedupe_key in items
                else False,
            )
            for e in candidates
        ],
        room=options.threads_per_source - int(following),
    )
    existing = set(
        session.scalars(
            select(Source.url).where(
                Source.user_id == source.user_id, col(Source.url).in_([c.url for c in chosen])
            )
        ).all()
    )
    by_url = {e.comments_feed: e for e in candidates}
    for c in chosen:
        if c.url in existing:
            continue
        item = items.get(by_url[c.url].dedupe_key)
        if item is not None:
            session.add(
                _thread_source(
                    user_id=source.user_id, url=c.url, post=item, folder=source.folder, now=now
                )
            )


def _thread_source(
    *, user_id: int, url: str, post: Item, folder: str | None, now: datetime
) -> Source:
    return Source(
        user_id=user_id,
        url=url,
        kind="comments",
        title=f"Comments on: {post.title}"[:300],
        folder=folder,
        next_check_at=now,
        parent_item_id=post.id,
    )


def _threads_with_my_comments(
    session: Session, *, user_id: int, urls: list[str], me: people_store.SelfKeys
) -> set[str]:
    if me.person_id is None or not urls:
        return set()
    rows = session.exec(
        select(Item.in_reply_to, Identity.id, Identity.kind, Identity.value)
        .join(Identity, col(Identity.id) == Item.identity_id)
        .where(Item.user_id == user_id, col(Item.in_reply_to).in_(urls))
    ).all()
    return {url for url, ident_id, kind, value in rows if url and me.is_self(ident_id, kind, value)}


# --- pure decisions -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    url: str
    post_url: str
    published: datetime | None
    own_site: bool
    took_part: bool
    valued_author: bool


def choose_threads(candidates: Sequence[Candidate], *, room: int) -> list[Candidate]:
    """Threads worth following, newest first, at most ``room``: posts on the user's own
    blog, threads the user took part in, and posts by people the user values (pinned,
    weighted up, a relationship type, or in touch)."""
    if room <= 0:
        return []
    worth = [c for c in candidates if c.own_site or c.took_part or c.valued_author]
    worth.sort(
        key=lambda c: (c.own_site or c.took_part, c.published.timestamp() if c.published else 0.0),
        reverse=True,
    )
    return worth[:room]


def thread_is_quiet(newest: datetime | None, *, started: datetime, now: datetime) -> bool:
    """No comment for ``QUIET_AFTER`` (or none at all since following began)."""
    return now - (newest or started) > QUIET_AFTER
