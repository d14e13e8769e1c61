"""People and the identities they are recognised by."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy import func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import InvalidInput, NotFound
from app.models import Identity, Interaction, Item, MergeRejection, Person, PersonDate
from app.storage.pagination import decode_cursor, encode_cursor
from ingest.assemble import normalize_url
from ingest.types import IdentityEvidence
from ranking.identity import PersonSketch
from ranking.relationships import History, importance_of


def resolve_identities(
    session: Session, *, user_id: int, evidence: Iterable[IdentityEvidence], now: datetime
) -> dict[tuple[str, str], int]:
    """Identity ids for ``(kind, value)`` keys; an unknown identity gets a new Person.

    New people and identities are inserted in bulk. If a concurrent writer created one
    of them first (the unique ``(user_id, kind, value)`` constraint decides), the bulk
    insert is rolled back to its savepoint and the missing ones go one at a time.
    """
    wanted: dict[tuple[str, str], IdentityEvidence] = {}
    for ev in evidence:
        wanted.setdefault((ev.kind, ev.value), ev)
    if not wanted:
        return {}
    found = _existing(session, user_id=user_id, keys=wanted.keys())
    # in key order: writers that add overlapping identities at once then wait for each
    # other on the unique index instead of deadlocking (scale-out workers do)
    missing = [ev for key, ev in sorted(wanted.items()) if key not in found]
    if not missing:
        return found
    try:
        with session.begin_nested():
            _insert_people(session, user_id=user_id, evidence=missing, now=now)
    except IntegrityError:
        for ev in missing:
            try:
                with session.begin_nested():
                    _insert_people(session, user_id=user_id, evidence=[ev], now=now)
            except IntegrityError:
                pass  # someone else created it: read below
    found.update(_existing(session, user_id=user_id, keys=[(e.kind, e.value) for e in missing]))
    return found


def _insert_people(
    session: Session, *, user_id: int, evidence: list[IdentityEvidence], now: datetime
) -> None:
    person_ids = session.scalars(
        insert(Person).returning(Person.id, sort_by_parameter_order=True),
        [
            {"user_id": user_id, "name": (ev.display_name or ev.value)[:200], "created_at": now}
            for ev in evidence
        ],
    ).all()
    session.execute(
        insert(Identity),
        [
            {
                "user_id": user_id,
                "person_id": person_id,
                "kind": ev.kind,
                "value": ev.value,
                "display_name": ev.display_name[:200],
                "created_at": now,
            }
            for person_id, ev in zip(person_ids, evidence, strict=True)
        ],
    )


def _existing(
    session: Session, *, user_id: int, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    keys = set(keys)
    out: dict[tuple[str, str], int] = {}
    values = sorted({v for _, v in keys})
    for start in range(0, len(values), 500):
        rows = session.exec(
            select(Identity.kind, Identity.value, Identity.id).where(
                Identity.user_id == user_id, col(Identity.value).in_(values[start : start + 500])
            )
        ).all()
        for kind, value, ident_id in rows:
            if (kind, value) in keys and ident_id is not None:
                out[(kind, value)] = ident_id
    return out


SELF_KINDS = ("url", "email", "name", "mastodon")


@dataclass(frozen=True, slots=True)
class SelfKeys:
    """What the user's own identities look like in items: ids, sites and names."""

    person_id: int | None
    identity_ids: frozenset[int]
    sites: frozenset[str]
    names: frozenset[str]

    def is_self(self, identity_id: int | None, kind: str, value: str) -> bool:
        if identity_id is not None and identity_id in self.identity_ids:
            return True
        # a commenter known only by name on some site: match the user's own names
        return kind == "feed_author" and value.split("|", 1)[-1] in self.names


def self_identity_key(kind: str, value: str) -> tuple[str, str]:
    """The stored (kind, value) for an identity the user declares as their own."""
    value = value.strip()
    if kind == "url":
        return "url", normalize_url(value)
    if kind == "email":
        return "email_sha256", hashlib.sha256(value.lower().encode()).hexdigest()
    if kind == "name":
        return "name", value.casefold()
    if kind == "mastodon":
        return "acct", value.lstrip("@").lower()
    raise InvalidInput(f"identity kind must be one of {', '.join(SELF_KINDS)}")


def self_person(session: Session, *, user_id: int, name: str, now: datetime) -> Person:
    person = session.exec(
        select(Person).where(Person.user_id == user_id, col(Person.is_self).is_(True))
    ).first()
    if person is None:
        person = Person(user_id=user_id, name=name, is_self=True, created_at=now)
        session.add(person)
        session.flush()
    return person


def set_self_identities(
    session: Session, *, user_id: int, name: str, identities: list[tuple[str, str]], now: datetime
) -> list[Identity]:
    """Replace the user's own identities. An identity already seen on another person
    (the user's blog, say) moves to the user: they said it is them."""
    me = self_person(session, user_id=user_id, name=name, now=now)
    wanted = [self_identity_key(kind, value) for kind, value in identities]
    for identity in session.exec(select(Identity).where(Identity.person_id == me.id)).all():
        if (identity.kind, identity.value) not in wanted:
            session.delete(identity)
    out = []
    for kind, value in dict.fromkeys(wanted):
        identity = session.exec(
            select(Identity).where(
                Identity.user_id == user_id, Identity.kind == kind, Identity.value == value
            )
        ).first()
        if identity is None:
            identity = Identity(
                user_id=user_id, person_id=me.id, kind=kind, value=value, display_name=name
            )
        identity.person_id = me.id  # type: ignore[assignment]
        session.add(identity)
        out.append(identity)
    session.flush()
    return out


def self_keys(session: Session, *, user_id: int) -> SelfKeys:
    rows = session.exec(
        select(Identity)
        .join(Person, col(Person.id) == Identity.person_id)
        .where(Identity.user_id == user_id, col(Person.is_self).is_(True))
    ).all()
    sites = {urlsplit(i.value).netloc for i in rows if i.kind == "url"}
    names = {i.value for i in rows if i.kind == "name"}
    person_id = rows[0].person_id if rows else None
    return SelfKeys(
        person_id=person_id,
        identity_ids=frozenset(i.id for i in rows if i.id is not None),
        sites=frozenset(s for s in sites if s),
        names=frozenset(names),
    )


def record_interactions(session: Session, *, user_id: int, rows: list[dict[str, object]]) -> int:
    """Insert interactions, skipping those already recorded (same external id)."""
    if not rows:
        return 0
    known = set(
        session.scalars(
            select(Interaction.external_id).where(
                Interaction.user_id == user_id,
                col(Interaction.external_id).in_([r["external_id"] for r in rows]),
            )
        ).all()
    )
    fresh = [r for r in rows if r["external_id"] not in known]
    if fresh:
        session.execute(insert(Interaction), [{"user_id": user_id, **r} for r in fresh])
    return len(fresh)


def valued_people(session: Session, *, user_id: int, person_ids: list[int]) -> set[int]:
    """Of these people, those the user values: pinned, weighted up, a relationship type
    set, or any contact recorded (the ranking issue adds learned weights)."""
    if not person_ids:
        return set()
    valued = set(
        session.scalars(
            select(Interaction.person_id).where(
                Interaction.user_id == user_id, col(Interaction.person_id).in_(person_ids)
            )
        ).all()
    )
    for person in session.exec(
        select(Person).where(Person.user_id == user_id, col(Person.id).in_(person_ids))
    ).all():
        if person.pinned or (person.manual_weight or 0) > 0 or person.relationships:
            valued.add(person.id)  # type: ignore[arg-type]
        if person.muted:
            valued.discard(person.id)  # type: ignore[arg-type]
    return valued


def identities_of(session: Session, *, person_id: int) -> list[Identity]:
    return list(
        session.exec(
            select(Identity).where(Identity.person_id == person_id).order_by(col(Identity.id))
        ).all()
    )


def persons_of_identities(
    session: Session, *, identity_ids: dict[tuple[str, str], int]
) -> dict[int, int]:
    """identity id -> person id."""
    ids = sorted(set(identity_ids.values()))
    out: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        for ident, person in session.exec(
            select(Identity.id, Identity.person_id).where(
                col(Identity.id).in_(ids[start : start + 500])
            )
        ).all():
            if ident is not None:
                out[ident] = person
    return out


# --- people: read, edit, merge, split -------------------------------------------------


def get_person(session: Session, *, user_id: int, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None or person.user_id != user_id:
        raise NotFound(f"no person {person_id}")
    return person


def list_people(
    session: Session, *, user_id: int, limit: int = 50, cursor: str | None = None
) -> tuple[list[Person], str | None]:
    query = select(Person).where(Person.user_id == user_id, col(Person.is_self).is_(False))
    if cursor:
        (after_id,) = decode_cursor(cursor, size=1)
        query = query.where(col(Person.id) > int(after_id))
    rows = list(session.exec(query.order_by(col(Person.id)).limit(limit + 1)).all())
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def identities_by_person(session: Session, *, person_ids: list[int]) -> dict[int, list[Identity]]:
    out: dict[int, list[Identity]] = {pid: [] for pid in person_ids}
    if person_ids:
        for identity in session.exec(
            select(Identity)
            .where(col(Identity.person_id).in_(person_ids))
            .order_by(col(Identity.id))
        ).all():
            out.setdefault(identity.person_id, []).append(identity)
    return out


def activity_by_person(
    session: Session, *, person_ids: list[int]
) -> dict[int, tuple[int, datetime | None]]:
    """person id -> (item count, newest item time)."""
    out: dict[int, tuple[int, datetime | None]] = {}
    if person_ids:
        rows = session.exec(
            select(Identity.person_id, func.count(col(Item.id)), func.max(Item.published))
            .join(Item, col(Item.identity_id) == Identity.id)
            .where(col(Identity.person_id).in_(person_ids))
            .group_by(col(Identity.person_id))
        ).all()
        for pid, count, newest in rows:
            if newest is not None and newest.tzinfo is None:
                newest = newest.replace(tzinfo=UTC)
            out[pid] = (int(count), newest)
    return out


def merge_people(session: Session, *, user_id: int, keep_id: int, other_id: int) -> Person:
    """Move everything of ``other`` onto ``keep``: identities (and so their items) and
    interactions. Nothing is lost; ``other`` is gone afterwards."""
    if keep_id == other_id:
        raise InvalidInput("a person cannot be merged with themself")
    keep = get_person(session, user_id=user_id, person_id=keep_id)
    other = get_person(session, user_id=user_id, person_id=other_id)
    if other.is_self and not keep.is_self:
        keep, other = other, keep  # merging into you keeps you
    session.execute(
        update(Identity).where(col(Identity.person_id) == other.id).values(person_id=keep.id)
    )
    session.execute(
        update(Interaction).where(col(Interaction.person_id) == other.id).values(person_id=keep.id)
    )
    # dates: one birthday per person, so where both have one, the kept person's stays
    taken = {
        (d.kind, d.label)
        for d in session.exec(select(PersonDate).where(PersonDate.person_id == keep.id)).all()
    }
    for d in session.exec(select(PersonDate).where(PersonDate.person_id == other.id)).all():
        if (d.kind, d.label) in taken:
            session.delete(d)
        else:
            d.person_id = keep.id  # type: ignore[assignment]
            session.add(d)
    session.flush()
    keep.relationships = sorted(set(keep.relationships or []) | set(other.relationships or []))
    keep.pinned = keep.pinned or other.pinned
    session.add(keep)
    session.flush()
    session.delete(other)
    session.flush()
    return keep


def split_identity(session: Session, *, user_id: int, person_id: int, identity_id: int) -> Person:
    """Give one identity (and the items that carry it) a person of its own."""
    person = get_person(session, user_id=user_id, person_id=person_id)
    identity = session.get(Identity, identity_id)
    if identity is None or identity.person_id != person.id:
        raise NotFound(f"person {person_id} has no identity {identity_id}")
    count = session.exec(
        select(func.count()).select_from(Identity).where(Identity.person_id == person.id)
    ).one()
    if count < 2:
        raise InvalidInput("a person's only identity cannot be split off")
    fresh = Person(user_id=user_id, name=(identity.display_name or identity.value)[:200])
    session.add(fresh)
    session.flush()
    identity.person_id = fresh.id  # type: ignore[assignment]
    session.add(identity)
    session.flush()
    return fresh


RECENT_CONTACTS = 500  # per person: two years of near-daily contact
HISTORY_DAYS = 3 * 365  # the rhythm model's memory; older contact is not loaded


def contact_histories(session: Session, *, user_id: int, now: datetime) -> list[History]:
    """Every person's contact times (the last three years, at most RECENT_CONTACTS each;
    seen or logged, any direction), recent posts and importance, for
    :func:`ranking.relationships.drifting`."""
    from bisect import bisect_left

    table = Interaction.__table__
    year_ago = now - timedelta(days=365)
    recent = table.c.at >= year_ago
    # over the last year: in (or both, logged by the user) and out (or both)
    ways_in = sa.func.sum(sa.case((sa.and_(table.c.direction != "out", recent), 1), else_=0))
    ways_out = sa.func.sum(sa.case((sa.and_(table.c.direction != "in", recent), 1), else_=0))
    scope = (table.c.user_id == user_id, table.c.at >= now - timedelta(days=HISTORY_DAYS))
    connection = session.connection()
    contacts: dict[int, list[datetime]] = {}
    ways: dict[int, tuple[int, int]] = {}
    if connection.dialect.name == "sqlite":
        # one row per person with their times as SQLite's naive UTC text, parsed here
        # once capped: row-by-row fetching and type processing were most of the time
        joined = sa.func.group_concat(sa.type_coerce(table.c.at, sa.String), ",")
        parse = datetime.fromisoformat
        for pid, text, n_in, n_out in connection.execute(
            sa.select(table.c.person_id, joined, ways_in, ways_out)
            .where(*scope)
            .group_by(table.c.person_id)
        ):
            found = text.split(",")
            found.sort()  # the text sorts in time order
            # "+00:00" makes an aware time in one C call (a tzinfo= replace costs 6x more)
            contacts[pid] = [parse(f"{t}+00:00") for t in found[-RECENT_CONTACTS:]]
            ways[pid] = (int(n_in or 0), int(n_out or 0))
    else:
        for pid, at in connection.execute(sa.select(table.c.person_id, table.c.at).where(*scope)):
            contacts.setdefault(pid, []).append(at)
        for times in contacts.values():
            times.sort()
            del times[:-RECENT_CONTACTS]
        for pid, n_in, n_out in connection.execute(
            sa.select(table.c.person_id, ways_in, ways_out)
            .where(*scope)
            .group_by(table.c.person_id)
        ):
            ways[pid] = (int(n_in or 0), int(n_out or 0))
    if not contacts:
        return []
    posts: dict[int, list[datetime]] = {}
    for pid, published in session.execute(
        select(Identity.person_id, Item.published)
        .join(Item, col(Item.identity_id) == Identity.id)
        .where(Item.user_id == user_id, col(Item.published) >= year_ago)
    ).all():
        if pid in contacts:
            posts.setdefault(pid, []).append(
                published if published.tzinfo else published.replace(tzinfo=UTC)
            )
    person = Person.__table__
    people = connection.execute(
        sa.select(
            person.c.id,
            person.c.pinned,
            person.c.manual_weight,
            person.c.relationships,
            person.c.cadence_days,
            person.c.snoozed_until,
            person.c.dismissed_at,
        ).where(person.c.user_id == user_id, person.c.is_self.is_(False), person.c.muted.is_(False))
    )
    two_years_ago = now - timedelta(days=730)
    out = []
    for pid, pinned, manual, relationships, cadence, snoozed, dismissed in people:
        times = contacts.get(pid)
        if times is None:
            continue
        inbound, outbound = ways.get(pid, (0, 0))
        first = bisect_left(times, two_years_ago)
        valued = bool(
            pinned
            or (manual or 0) > 0
            or relationships
            # three contacts in two years, not all on one day (a slow friend counts; one
            # exchange of replies with a stranger does not)
            or (len(times) - first >= 3 and (times[-1] - times[first]).total_seconds() >= 86400)
        )
        out.append(
            History(
                person_id=pid,
                contacts=times,
                posts=posts.get(pid, ()),
                valued=valued,
                cadence_days=cadence,
                snoozed_until=snoozed,
                dismissed_at=dismissed,
                importance=importance_of(
                    pinned=pinned,
                    manual_weight=manual,
                    relationships=relationships or (),
                    contacts_last_year=inbound + outbound,
                    inbound=inbound,
                    outbound=outbound,
                ),
            )
        )
    return out


# --- merge suggestions ---------------------------------------------------------------


def person_sketches(session: Session, *, user_id: int) -> list[PersonSketch]:
    """Each person's name and the hosts their identities were seen on."""
    sites: dict[int, set[str]] = {}
    for pid, kind, value in session.exec(
        select(Identity.person_id, Identity.kind, Identity.value).where(Identity.user_id == user_id)
    ).all():
        host = ""
        if kind == "url":
            host = urlsplit(value).netloc
        elif kind in ("feed_author", "bsky_site"):  # "host|name", "host|did"
            host = value.split("|", 1)[0]
        elif kind == "acct":
            host = value.rsplit("@", 1)[-1]
        sites.setdefault(pid, set())
        if host:
            sites[pid].add(host)
    people = session.exec(
        select(Person).where(Person.user_id == user_id, col(Person.is_self).is_(False))
    ).all()
    return [
        PersonSketch(id=p.id, name=p.name, sites=frozenset(sites.get(p.id, ())))
        for p in people
        if p.id is not None
    ]


def rejected_pairs(session: Session, *, user_id: int) -> set[frozenset[int]]:
    return {
        frozenset((a, b))
        for a, b in session.exec(
            select(MergeRejection.person_a, MergeRejection.person_b).where(
                MergeRejection.user_id == user_id
            )
        ).all()
    }


def reject_suggestion(session: Session, *, user_id: int, a: int, b: int, now: datetime) -> None:
    get_person(session, user_id=user_id, person_id=a)
    get_person(session, user_id=user_id, person_id=b)
    low, high = sorted((a, b))
    if frozenset((low, high)) not in rejected_pairs(session, user_id=user_id):
        session.add(MergeRejection(user_id=user_id, person_a=low, person_b=high, at=now))
        session.flush()


def contacts_of(
    session: Session, *, user_id: int, person_id: int
) -> list[tuple[datetime, str, str]]:
    """(at, direction, kind) of every contact with one person, oldest first."""
    return [
        (at, direction, kind)
        for at, direction, kind in session.exec(
            select(Interaction.at, Interaction.direction, Interaction.kind)
            .where(Interaction.user_id == user_id, Interaction.person_id == person_id)
            .order_by(col(Interaction.at))
        ).all()
    ]
