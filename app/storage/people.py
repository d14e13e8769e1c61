"""People and the identities they are recognised by."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import InvalidInput
from app.models import Identity, Interaction, Person
from ingest.assemble import normalize_url
from ingest.types import IdentityEvidence


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
    missing = [ev for key, ev in wanted.items() if key not in found]
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


def people_with_interactions(session: Session, *, user_id: int, person_ids: list[int]) -> set[int]:
    if not person_ids:
        return set()
    return set(
        session.scalars(
            select(Interaction.person_id).where(
                Interaction.user_id == user_id, col(Interaction.person_id).in_(person_ids)
            )
        ).all()
    )


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
