"""People and the identities they are recognised by."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.models import Identity, Person
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
