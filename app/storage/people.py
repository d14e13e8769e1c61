"""People and the identities they are recognised by."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.models import Identity, Person
from ingest.types import IdentityEvidence


def resolve_identities(
    session: Session, *, user_id: int, evidence: Iterable[IdentityEvidence]
) -> dict[tuple[str, str], int]:
    """Identity ids for ``(kind, value)`` keys; an unknown identity gets a new Person.

    Idempotent and safe against a concurrent writer creating the same identity: the
    unique ``(user_id, kind, value)`` constraint decides, and the loser re-reads.
    """
    wanted: dict[tuple[str, str], IdentityEvidence] = {}
    for ev in evidence:
        wanted.setdefault((ev.kind, ev.value), ev)
    if not wanted:
        return {}
    found = _existing(session, user_id=user_id, keys=wanted.keys())
    for key, ev in wanted.items():
        if key in found:
            continue
        try:
            with session.begin_nested():
                person = Person(user_id=user_id, name=ev.display_name[:200] or ev.value[:200])
                session.add(person)
                session.flush()
                assert person.id is not None
                identity = Identity(
                    user_id=user_id,
                    person_id=person.id,
                    kind=ev.kind,
                    value=ev.value,
                    display_name=ev.display_name[:200],
                )
                session.add(identity)
                session.flush()
                assert identity.id is not None
                found[key] = identity.id
        except IntegrityError:
            found.update(_existing(session, user_id=user_id, keys=[key]))
    return found


def _existing(
    session: Session, *, user_id: int, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    keys = list(keys)
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
