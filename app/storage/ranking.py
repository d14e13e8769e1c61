"""Ranking's reads and writes: feedback as events, items and people as the ranker sees
them, the stored scores, and the persisted model row."""

from __future__ import annotations

import html
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, func, select

from app.models import Feedback, Identity, Interaction, Item, Person, RankingModel, Source, User
from ranking.stories import is_congratulation
from ranking.types import Contact, Event, ItemInfo, PersonInfo

_TAG = re.compile(r"<[^>]*>")
TEXT_LIMIT = 2000
CONTACT_DAYS = 365


def plain_text(content: str, limit: int = TEXT_LIMIT) -> str:
    """Sanitized HTML to plain text, for word features (not for display)."""
    return " ".join(html.unescape(_TAG.sub(" ", content[: limit * 4])).split())[:limit]


def _chunks(values: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- the model row ---------------------------------------------------------------------


def model_row(session: Session, *, user_id: int) -> RankingModel | None:
    return session.exec(select(RankingModel).where(RankingModel.user_id == user_id)).first()


def lock_user(session: Session, *, user_id: int) -> None:
    """Hold the user's row until commit, so two requests never learn over each other,
    even before the user has a model row to lock. FOR NO KEY UPDATE on PostgreSQL: it
    does not wait on the key-share locks that inserting feedback (a foreign key to the
    user) takes, which FOR UPDATE would deadlock with; SQLite has one writer anyway."""
    query = select(User.id).where(User.id == user_id).with_for_update(key_share=True)
    session.exec(query).first()


def users_with_work(session: Session, *, since: datetime) -> list[int]:
    """Users with items not scored yet (published since ``since``) or feedback the model
    has not learned from."""
    unscored = select(Item.user_id).where(
        col(Item.scored_at).is_(None), col(Item.published) >= since
    )
    behind = select(Feedback.user_id).where(col(Feedback.learned).is_(False))
    ids = set(session.exec(unscored.distinct()).all()) | set(session.exec(behind.distinct()).all())
    return sorted(ids)


# --- feedback as events ----------------------------------------------------------------


def feedback_events(
    session: Session, *, user_id: int, pending: bool = False
) -> tuple[list[Event], list[int]]:
    """Feedback rows (only those not learned from yet when ``pending``) as events, with
    the item's current person, oldest first; and their ids."""
    rows = session.exec(
        select(
            Feedback.id,
            Feedback.item_id,
            Feedback.action,
            Feedback.at,
            Feedback.rank,
            Identity.person_id,
        )  # fmt: skip
        .join(Item, col(Item.id) == Feedback.item_id)
        .outerjoin(Identity, col(Identity.id) == Item.identity_id)
        .where(
            Feedback.user_id == user_id, *([col(Feedback.learned).is_(False)] if pending else [])
        )
        .order_by(col(Feedback.at), col(Feedback.id))
    ).all()
    events = [
        Event(item_id=item_id, person_id=person_id, action=action, at=at, rank=rank)
        for _, item_id, action, at, rank, person_id in rows
    ]
    return events, [r[0] for r in rows if r[0] is not None]


def mark_learned(
    session: Session, *, feedback_ids: Sequence[int], pending_only: bool = False
) -> int:
    """Set ``learned`` on these rows (only on those still unlearned with
    ``pending_only``); returns how many rows changed."""
    changed = 0
    for chunk in _chunks(list(feedback_ids)):
        query = update(Feedback).where(col(Feedback.id).in_(chunk))
        if pending_only:
            query = query.where(col(Feedback.learned).is_(False))
        result = session.execute(query.values(learned=True))
        changed += result.rowcount  # type: ignore[attr-defined]
    return changed


def swap_model(session: Session, *, row: RankingModel, values: dict[str, object]) -> bool:
    """Store ``values`` on the model row if it is still the one ``row`` was loaded as
    (same trained_at and event count); False when another learner saved it meanwhile."""
    result = session.execute(
        update(RankingModel)
        .where(
            col(RankingModel.id) == row.id,
            col(RankingModel.trained_at) == row.trained_at,
            col(RankingModel.events) == row.events,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for name, value in values.items():
        set_committed_value(row, name, value)
    return True


# --- items and people as the ranker sees them ------------------------------------------


def window_item_ids(
    session: Session,
    *,
    user_id: int,
    since: datetime,
    person_ids: Iterable[int] | None = None,
    unscored_only: bool = False,
) -> list[int]:
    """The user's items published since ``since`` (those the timeline can rank), of some
    people only when ``person_ids`` is given."""
    query = (
        select(Item.id)
        .outerjoin(Identity, col(Identity.id) == Item.identity_id)
        .where(
            Item.user_id == user_id,
            col(Item.published) >= since,
            col(Item.duplicate_of_id).is_(None),
        )
    )
    if unscored_only:
        query = query.where(col(Item.scored_at).is_(None))
    if person_ids is not None:
        query = query.where(col(Identity.person_id).in_(sorted(set(person_ids))))
    return [i for i in session.exec(query).all() if i is not None]


def people_of_items(session: Session, *, item_ids: Sequence[int]) -> set[int]:
    out: set[int] = set()
    for chunk in _chunks(item_ids):
        out.update(
            session.exec(
                select(Identity.person_id)
                .join(Item, col(Item.identity_id) == Identity.id)
                .where(col(Item.id).in_(chunk))
            ).all()
        )
    return out


def item_infos(session: Session, *, user_id: int, item_ids: Sequence[int]) -> list[ItemInfo]:
    """Items as :class:`ranking.types.ItemInfo`: words, tags, link/media, whether they
    mention you or sit in your thread, congratulations in replies, comment counts against
    the author's own usual count."""
    self_ids = set(
        session.exec(
            select(Person.id).where(Person.user_id == user_id, col(Person.is_self).is_(True))
        ).all()
    )
    rows: list[tuple[Item, str, int | None, int | None]] = []
    for chunk in _chunks(sorted(set(item_ids))):
        rows.extend(
            session.exec(
                select(Item, Source.kind, Source.parent_item_id, Identity.person_id)
                .join(Source, col(Source.id) == Item.source_id)
                .outerjoin(Identity, col(Identity.id) == Item.identity_id)
                .where(col(Item.id).in_(chunk), Item.user_id == user_id)
            ).all()
        )
    ids = [r[0].id for r in rows if r[0].id is not None]
    urls = sorted({r[0].url for r in rows if r[0].url})
    mentioned: set[int] = set()
    for chunk in _chunks(ids):
        mentioned.update(
            i
            for i in session.exec(
                select(Interaction.item_id).where(
                    Interaction.user_id == user_id,
                    Interaction.direction == "in",
                    col(Interaction.item_id).in_(chunk),
                )
            ).all()
            if i is not None
        )
    congrats: dict[str, int] = defaultdict(int)
    self_urls: set[str] = set()
    for start in range(0, len(urls), 500):
        chunk_urls = urls[start : start + 500]
        for reply_to, title, content in session.exec(
            select(Item.in_reply_to, Item.title, Item.content).where(
                Item.user_id == user_id, col(Item.in_reply_to).in_(chunk_urls)
            )
        ).all():
            if reply_to and is_congratulation(f"{title} {plain_text(content, 1000)}"):
                congrats[reply_to] += 1
    if self_ids:
        self_urls = {
            u
            for u in session.exec(
                select(Item.url)
                .join(Identity, col(Identity.id) == Item.identity_id)
                .where(Item.user_id == user_id, col(Identity.person_id).in_(sorted(self_ids)))
            ).all()
            if u
        }
    parents = sorted({p for _, _, p, _ in rows if p is not None})
    self_threads: set[int] = set()
    for chunk in _chunks(parents):
        self_threads.update(
            i
            for i, pid in session.exec(
                select(Item.id, Identity.person_id)
                .join(Identity, col(Identity.id) == Item.identity_id)
                .where(col(Item.id).in_(chunk))
            ).all()
            if pid in self_ids and i is not None
        )
    usual: dict[int, float] = {}
    counts: dict[int, list[int]] = defaultdict(list)
    for item, _, _, pid in rows:
        if pid is not None and item.comment_count is not None:
            counts[pid].append(item.comment_count)
    for pid, values in counts.items():
        usual[pid] = float(statistics.median(values))
    out = []
    for item, kind, parent, pid in rows:
        assert item.id is not None
        content = item.content or ""
        out.append(
            ItemInfo(
                item_id=item.id,
                person_id=pid,
                published=item.published,
                source_kind=kind,
                title=item.title or "",
                text=plain_text(content),
                tags=tuple(item.tags or ()),
                has_link="<a " in content,
                has_media=bool(item.enclosures) or "<img" in content or "<video" in content,
                mentions_you=item.id in mentioned or (item.in_reply_to or "") in self_urls,
                your_thread=parent is not None and parent in self_threads,
                congratulations=congrats.get(item.url or "", 0) if item.url else 0,
                comment_count=item.comment_count,
                author_usual_comments=usual.get(pid) if pid is not None else None,
            )
        )
    return out


def person_infos(
    session: Session, *, user_id: int, person_ids: Iterable[int], now: datetime
) -> list[PersonInfo]:
    """People as :class:`ranking.types.PersonInfo`, with a year of contact."""
    ids = sorted(set(person_ids))
    people: list[Person] = []
    identities: dict[int, int] = defaultdict(int)
    contacts: dict[int, list[Contact]] = defaultdict(list)
    flags: dict[int, set[str]] = defaultdict(set)
    since = now - timedelta(days=CONTACT_DAYS)
    for chunk in _chunks(ids):
        people.extend(
            session.exec(
                select(Person).where(Person.user_id == user_id, col(Person.id).in_(chunk))
            ).all()
        )
        for pid, n in session.exec(
            select(Identity.person_id, func.count())
            .where(col(Identity.person_id).in_(chunk))
            .group_by(col(Identity.person_id))
        ).all():
            identities[pid] = int(n)
        # Mastodon relationship flags of their accounts (app.jobs.mastodon_store)
        for pid, rel in session.exec(
            select(Identity.person_id, Identity.relationship).where(
                col(Identity.person_id).in_(chunk), col(Identity.relationship).is_not(None)
            )
        ).all():
            for flag in ("following", "followed_by", "endorsed", "note"):
                if isinstance(rel, dict) and rel.get(flag):
                    flags[pid].add(flag)
        for pid, at, direction, kind in session.exec(
            select(Interaction.person_id, Interaction.at, Interaction.direction, Interaction.kind)
            .where(
                Interaction.user_id == user_id,
                col(Interaction.person_id).in_(chunk),
                col(Interaction.at) >= since,
            )
            .order_by(col(Interaction.at))
        ).all():
            contacts[pid].append(Contact(at=at, direction=direction, kind=kind))
    return [person_info(p, identities=identities[p.id or 0], contacts=contacts[p.id or 0],
                        flags=flags[p.id or 0])
            for p in people]  # fmt: skip


def person_info(
    person: Person,
    *,
    identities: int,
    contacts: Sequence[Contact],
    flags: Iterable[str] = (),
) -> PersonInfo:
    """``flags``: Mastodon relationship flags of their accounts (following, followed_by,
    endorsed, note)."""
    assert person.id is not None
    flags = set(flags)
    return PersonInfo(
        mutual_follow={"following", "followed_by"} <= flags,
        endorsed="endorsed" in flags,
        has_note="note" in flags,
        person_id=person.id,
        name=person.name,
        relationships=tuple(person.relationships or ()),
        manual_weight=person.manual_weight,
        pinned=person.pinned,
        muted=person.muted,
        identity_count=max(identities, 1),
        contacts=tuple(contacts),
    )


# --- stored scores ---------------------------------------------------------------------


def store_scores(session: Session, *, rows: list[dict[str, object]]) -> None:
    """Write ``{"id", "rank_key", "why", "scored_at"}`` rows in bulk."""
    for start in range(0, len(rows), 1000):
        session.execute(update(Item), rows[start : start + 1000])
