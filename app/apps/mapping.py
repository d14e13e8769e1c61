"""People as feeds: how Kith's model maps onto the feed-reader model that native apps
(Google Reader API, Fever) speak.

- A **feed** is a person: their name, all their sources merged. Its number is the
  person id. Items that no person claims keep a feed per source, numbered
  ``SOURCE_FEED_BASE + source id`` (Fever wants integers; both stay apart).
  Muted people are left out, as in the timeline.
- A **folder** is a relationship type (``Person.relationships``: family -> "Family",
  friend -> "Friends", colleague -> "Colleagues" ...). Two virtual streams come on top:
  "Kith: top" (the ranked stream's first :data:`TOP_SIZE` items) and "Kith: important"
  (life events, :func:`ranking.stories.life_event`, among the newest ranked items).
- **Item ids**: Kith's item id; Google Reader's long form is
  ``tag:google.com,2005:reader/item/<16 hex>``, the short form its decimal.
- **Read** and **star** are Kith's read state and saved items, and count as ``open``
  and ``like`` feedback when they change something (an item already read is not opened
  again), so the ranking learns from the phone too. Unread/unstar undo the state only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.db import retry_transient, session_scope
from app.errors import InvalidInput
from app.jobs import learner
from app.models import Feedback, Identity, Item, Person, Source
from app.storage import reading
from app.storage.items import add_feedback, read_timeline
from ingest.sanitize import plain_text
from ranking.stories import life_event

SOURCE_FEED_BASE = 10**10  # feed numbers from here on are sources no person claims
ITEM_ID_MAX = 2**31 - 1  # ids are 32-bit on PostgreSQL
LONG_ID_PREFIX = "tag:google.com,2005:reader/item/"
TOP_LABEL = "Kith: top"
IMPORTANT_LABEL = "Kith: important"
VIRTUAL_LABELS = (TOP_LABEL, IMPORTANT_LABEL)
TOP_SIZE = 50
IMPORTANT_SCAN = 500  # the newest ranked items searched for life events
MAX_IDS = 10_000  # item ids in one state change
_PLURAL = {"family": "Family", "partner": "Partner", "met": "Met in person"}


@dataclass(frozen=True, slots=True)
class AppFeed:
    """One subscription as the apps see it."""

    number: int  # person id, or SOURCE_FEED_BASE + source id
    title: str
    url: str  # a source's URL (the first one)
    site_url: str | None
    folders: tuple[str, ...]
    person_id: int | None
    source_ids: tuple[int, ...]
    unread: int = 0
    newest: datetime | None = None


@dataclass(slots=True)
class _Acc:
    sources: list[int] = field(default_factory=list)
    unread: int = 0
    newest: datetime | None = None


def folder_label(relationship: str) -> str:
    """The folder a relationship type becomes: friend -> Friends, family -> Family."""
    word = relationship.strip().lower()
    if not word:
        return ""
    if word in _PLURAL:
        return _PLURAL[word]
    label = word[:1].upper() + word[1:]
    return label if label.endswith("s") else label + "s"


def folders_of(person: Person | None, relationships: Iterable[object] = ()) -> tuple[str, ...]:
    """A person's folders (or those of ``relationships`` when there is no row at hand)."""
    found = person.relationships if person is not None else relationships
    labels = {folder_label(r) for r in found or [] if isinstance(r, str)}
    return tuple(sorted(label for label in labels if label))


def long_item_id(item_id: int) -> str:
    return f"{LONG_ID_PREFIX}{item_id:016x}"


def parse_item_id(text: str) -> int:
    """An item id in either Google Reader form (long hex or decimal); :class:`InvalidInput`
    otherwise. Ids beyond Kith's range are refused, not looked up."""
    raw = text.strip()
    try:
        if raw.startswith(LONG_ID_PREFIX):
            value = int(raw[len(LONG_ID_PREFIX) :], 16)
        else:
            value = int(raw, 10)
    except ValueError:
        raise InvalidInput(f"not an item id: {raw[:80]!r}") from None
    if value < 0:  # Google Reader's decimal ids are signed 64-bit
        value += 2**64
    if not 0 < value <= ITEM_ID_MAX:
        raise InvalidInput(f"no such item id: {raw[:80]!r}")
    return value


def split_feed_number(number: int) -> tuple[int | None, int | None]:
    """(person id, None) or (None, source id) for a feed number; ids out of range are
    (None, None), which no item matches."""
    if 0 < number <= ITEM_ID_MAX:
        return number, None
    if 0 < number - SOURCE_FEED_BASE <= ITEM_ID_MAX:
        return None, number - SOURCE_FEED_BASE
    return None, None


def feeds(session: Session, *, user_id: int) -> list[AppFeed]:
    """The user's people (with items) and unclaimed sources as feeds, by title."""
    rows = session.execute(
        sa.select(
            col(Identity.person_id),
            col(Item.source_id),
            sa.func.count(),
            sa.func.count().filter(col(Item.read_at).is_(None)),
            sa.func.max(col(Item.published)),
        )
        .select_from(Item)
        .outerjoin(Identity, col(Identity.id) == Item.identity_id)
        .where(
            col(Item.user_id) == user_id,
            col(Item.duplicate_of_id).is_(None),
            ~sa.exists().where(
                col(Feedback.item_id) == Item.id,
                col(Feedback.user_id) == user_id,
                col(Feedback.action) == "hide",
            ),
        )
        .group_by(col(Identity.person_id), col(Item.source_id))
    ).all()
    by_person: dict[int, _Acc] = defaultdict(_Acc)
    by_source: dict[int, _Acc] = defaultdict(_Acc)
    for person_id, source_id, _count, unread, newest in rows:
        acc = by_person[person_id] if person_id is not None else by_source[source_id]
        acc.sources.append(source_id)
        acc.unread += int(unread or 0)
        acc.newest = (
            newest if acc.newest is None or (newest and newest > acc.newest) else acc.newest
        )
    people = {
        p.id: p
        for p in session.exec(
            select(Person).where(Person.user_id == user_id, col(Person.id).in_(list(by_person)))
        ).all()
    }
    source_ids = {s for acc in (*by_person.values(), *by_source.values()) for s in acc.sources}
    sources = {
        s.id: s
        for s in session.exec(
            select(Source).where(Source.user_id == user_id, col(Source.id).in_(source_ids))
        ).all()
    }
    out: list[AppFeed] = []
    for person_id, acc in by_person.items():
        person = people.get(person_id)
        if person is None or person.muted:
            continue
        first = sources.get(min(acc.sources))
        out.append(
            AppFeed(
                number=person_id,
                title=person.name,
                url=first.url if first else "",
                site_url=(first.site_url or first.url) if first else None,
                folders=folders_of(person),
                person_id=person_id,
                source_ids=tuple(sorted(acc.sources)),
                unread=acc.unread,
                newest=acc.newest,
            )
        )
    for source_id, acc in by_source.items():
        source = sources.get(source_id)
        if source is None:
            continue
        out.append(
            AppFeed(
                number=SOURCE_FEED_BASE + source_id,
                title=source.title or source.url,
                url=source.url,
                site_url=source.site_url or source.url,
                folders=(),
                person_id=None,
                source_ids=(source_id,),
                unread=acc.unread,
                newest=acc.newest,
            )
        )
    return sorted(out, key=lambda f: (f.title.lower(), f.number))


def label_people(session: Session, *, user_id: int, label: str) -> list[int]:
    """The people in a relationship folder (by its label, case-insensitive)."""
    wanted = label.strip().lower()
    people = session.exec(
        select(Person).where(Person.user_id == user_id, col(Person.muted).is_(False))
    ).all()
    return [
        p.id for p in people if p.id is not None and wanted in (f.lower() for f in folders_of(p))
    ]


def labels(session: Session, *, user_id: int) -> list[str]:
    """Every relationship folder of the user's people, then the virtual streams."""
    found: set[str] = set()
    for rels in session.exec(select(Person.relationships).where(Person.user_id == user_id)).all():
        found.update(folder_label(r) for r in rels or [] if isinstance(r, str))
    return sorted(f for f in found if f)


def top_ids(session: Session, *, user_id: int, size: int = TOP_SIZE) -> list[int]:
    """The ranked stream's first ``size`` item ids, best first."""
    rows, _ = read_timeline(session, user_id=user_id, limit=size)
    return [r.item.id for r in rows if r.item.id is not None]


def important_ids(session: Session, *, user_id: int, scan: int = IMPORTANT_SCAN) -> list[int]:
    """Life events among the newest ``scan`` items (comment threads left out), newest first."""
    rows, _ = read_timeline(session, user_id=user_id, limit=scan, order="newest")
    return [
        r.item.id
        for r in rows
        if r.item.id is not None
        and r.source.kind != "comments"
        and life_event(r.item.title, plain_text(r.item.content, limit=2000)) is not None
    ]


def _owned(session: Session, user_id: int, ids: Sequence[int], column: object) -> list[int]:
    """Of ``ids``, the user's whose ``column`` is NULL (not read / not saved yet)."""
    return list(
        session.exec(
            select(Item.id).where(
                Item.user_id == user_id,
                col(Item.id).in_(set(ids)),
                col(column).is_(None),  # type: ignore[arg-type]
            )
        ).all()
    )


def apply_state(
    engine: Engine,
    *,
    user_id: int,
    item_ids: Iterable[int],
    read: bool | None = None,
    starred: bool | None = None,
    now: datetime,
) -> int:
    """Set read and/or starred on the user's items among ``item_ids`` (another user's are
    skipped silently, as the protocols expect). Reading an unread item records ``open``,
    starring ``like``; learning is submitted after the commit. Returns items changed."""
    ids = sorted({i for i in item_ids if 0 < i <= ITEM_ID_MAX})
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"at most {MAX_IDS} items at once")
    if not ids or (read is None and starred is None):
        return 0

    def run() -> tuple[int, bool]:
        changed, learned = 0, False
        with session_scope(engine, write=True, interactive=True) as session:
            if read is True:
                for item_id in _owned(session, user_id, ids, Item.read_at):
                    add_feedback(
                        session, user_id=user_id, item_id=item_id, action="open", rank=None, now=now
                    )
                    changed, learned = changed + 1, True
            elif read is False:
                changed += reading.set_read(
                    session, user_id=user_id, item_ids=ids, read=False, now=now
                )
            if starred is True:
                for item_id in _owned(session, user_id, ids, Item.saved_at):
                    reading.set_saved(
                        session, user_id=user_id, item_id=item_id, saved=True, now=now
                    )
                    add_feedback(
                        session, user_id=user_id, item_id=item_id, action="like", rank=None, now=now
                    )
                    changed, learned = changed + 1, True
            elif starred is False:
                saved = set(reading.owned(session, user_id=user_id, item_ids=ids)) - set(
                    _owned(session, user_id, ids, Item.saved_at)
                )
                for item_id in sorted(saved):
                    reading.set_saved(
                        session, user_id=user_id, item_id=item_id, saved=False, now=now
                    )
                    changed += 1
        return changed, learned

    changed, learned = retry_transient(run)
    if learned:
        learner.submit(engine, user_id)
    return changed


def _unread_batch(
    session: Session,
    *,
    user_id: int,
    after: int,
    person_ids: Sequence[int] | None,
    source_ids: Sequence[int] | None,
    item_ids: Sequence[int] | None,
    published_before: datetime | None,
    limit: int,
    only_saved: bool = False,
) -> list[int]:
    query = select(Item.id).where(
        Item.user_id == user_id, col(Item.read_at).is_(None), col(Item.id) > after
    )
    if item_ids is not None:
        query = query.where(col(Item.id).in_(item_ids))
    if source_ids is not None:
        query = query.where(col(Item.source_id).in_(source_ids))
    if person_ids is not None:  # () = the items no person claims
        query = query.outerjoin(Identity, col(Identity.id) == Item.identity_id).where(
            col(Identity.person_id).in_(person_ids)
            if person_ids
            else col(Identity.person_id).is_(None)
        )
    if only_saved:
        query = query.where(col(Item.saved_at).is_not(None))
    if published_before is not None:
        query = query.where(col(Item.published) <= published_before)
    return list(session.exec(query.order_by(col(Item.id)).limit(limit)).all())  # type: ignore[arg-type]


def mark_all_read(
    engine: Engine,
    *,
    user_id: int,
    person_ids: Sequence[int] | None = None,
    source_ids: Sequence[int] | None = None,
    item_ids: Sequence[int] | None = None,
    published_before: datetime | None = None,
    only_saved: bool = False,
    now: datetime,
) -> int:
    """Mark everything unread in a scope read (people, sources, listed items; ``None``
    is no limit on that side, ``person_ids=()`` the items no person claims), published
    up to ``published_before`` (``only_saved``: starred ones), in short transactions.
    Marking all read is not opening: no feedback is recorded."""
    after, total = 0, 0
    while True:

        def batch(start: int = after) -> tuple[list[int], int]:
            with session_scope(engine, write=True, interactive=True) as session:
                ids = _unread_batch(
                    session,
                    user_id=user_id,
                    after=start,
                    person_ids=person_ids,
                    source_ids=source_ids,
                    item_ids=item_ids,
                    published_before=published_before,
                    limit=reading.MARK_ALL_BATCH,
                    only_saved=only_saved,
                )
                return ids, reading.mark_ids_read(session, user_id=user_id, ids=ids, now=now)

        ids, marked = retry_transient(batch)
        total += marked
        if len(ids) < reading.MARK_ALL_BATCH:
            return total
        after = ids[-1]
