"""Importing an address book (a vCard file): parse (ingest) -> match -> store.

One transaction for the file and a savepoint per card: a card that fails is skipped
and reported, the others are stored; a file that is refused (not vCard, too large,
undecodable) changes nothing. A card is matched to a person by its UID (kept as an
identity of kind ``vcard_uid``), else by its strong identities (e-mail hash, URL,
Mastodon account); a match gets the card's data merged in, nothing is ever removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from app.errors import AppError, InvalidInput
from app.models import Identity, Person, PersonDate
from app.storage import contacts as contact_store
from ingest.vcard import CardDate, VCardContact, VCardError, VCardTooLarge, parse_vcards
from ranking.identity import normalize_name

UID_KIND = "vcard_uid"
STRONG_KINDS = ("email_sha256", "url", "acct")


class InvalidVCard(InvalidInput):
    code = "invalid_vcard"


class PayloadTooLarge(AppError):
    code = "payload_too_large"
    status = 413


@dataclass(frozen=True, slots=True)
class CardResult:
    """A card stored: on a new person (created) or on the one it matched (updated)."""

    card: int
    person_id: int
    name: str
    dates: tuple[CardDate, ...] = ()
    relationships: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    card: int
    name: str
    code: str
    message: str


@dataclass(slots=True)
class ImportReport:
    created: list[CardResult] = field(default_factory=list)
    updated: list[CardResult] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(slots=True)
class _Known:
    identity_id: int
    person_id: int
    display_name: str | None


def card_keys(contact: VCardContact) -> list[tuple[str, str]]:
    """The identity keys of a card, the UID first. A card without a UID is keyed by its
    normalised name, so that re-importing it finds it again."""
    uid = contact.uid or "name:" + normalize_name(contact.name)
    keys = [(UID_KIND, uid)]
    keys += [("email_sha256", h) for h in contact.email_hashes]
    # the address itself too: the user gave it, and Reach out offers a mailto: with it
    keys += [("email", e) for e in contact.emails]
    keys += [("url", u) for u in contact.urls]
    keys += [("acct", a) for a in contact.accts]
    return list(dict.fromkeys(keys))


def import_vcards(session: Session, *, user_id: int, content: bytes, now: datetime) -> ImportReport:
    """Import every card of a vCard file for one user."""
    try:
        parsed = parse_vcards(content)
    except VCardTooLarge as exc:
        raise PayloadTooLarge(exc.message) from None
    except VCardError as exc:
        raise InvalidVCard(exc.message) from None
    report = ImportReport()
    known = _known(
        session, user_id=user_id, keys={k for c in parsed.contacts for k in card_keys(c)}
    )
    self_ids = set(
        session.exec(
            select(Person.id).where(Person.user_id == user_id, col(Person.is_self).is_(True))
        ).all()
    )
    for contact in parsed.contacts:
        try:
            with session.begin_nested():
                result, created = _store(
                    session, user_id=user_id, contact=contact, known=known, self_ids=self_ids,
                    now=now,
                )  # fmt: skip
        except _SelfCard as exc:
            report.skipped.append(Skipped(contact.index, contact.name, "own_card", str(exc)))
            continue
        except AppError as exc:
            # the savepoint is gone: so are the identities this card added to ``known``
            known = _known(session, user_id=user_id, keys=set(known))
            message = f"card {contact.index} ({contact.name}): {exc.message}"
            report.skipped.append(Skipped(contact.index, contact.name, exc.code, message))
            continue
        (report.created if created else report.updated).append(result)
    for error in parsed.errors:
        report.skipped.append(Skipped(error.index, error.name, "invalid_card", error.message))
    report.skipped.sort(key=lambda s: s.card)
    return report


class _SelfCard(Exception):
    pass


def _known(
    session: Session, *, user_id: int, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], _Known]:
    """The user's identities with these keys."""
    out: dict[tuple[str, str], _Known] = {}
    values = sorted({v for _, v in keys})
    for start in range(0, len(values), 500):
        for identity in session.exec(
            select(Identity).where(
                Identity.user_id == user_id, col(Identity.value).in_(values[start : start + 500])
            )
        ).all():
            key = (identity.kind, identity.value)
            if key in keys and identity.id is not None:
                out[key] = _Known(identity.id, identity.person_id, identity.display_name)
    return out


def _store(
    session: Session,
    *,
    user_id: int,
    contact: VCardContact,
    known: dict[tuple[str, str], _Known],
    self_ids: set[int | None],
    now: datetime,
) -> tuple[CardResult, bool]:
    keys = card_keys(contact)
    matched = list(dict.fromkeys(known[k].person_id for k in keys if k in known))
    if any(pid in self_ids for pid in matched):
        raise _SelfCard(
            f"card {contact.index} ({contact.name}) is you: it shares an identity with the "
            "ones you gave as your own"
        )
    notes = list(contact.notes)
    created = not matched
    if created:
        person = Person(user_id=user_id, name=contact.name, created_at=now)
        session.add(person)
        session.flush()
    else:
        found = session.get(Person, matched[0])
        assert found is not None and found.user_id == user_id
        person = found
        _rename(session, person=person, contact=contact, uid_key=keys[0], known=known, notes=notes)
        for other_id in matched[1:]:
            other = session.get(Person, other_id)
            notes.append(
                f"also matches {other.name if other else other_id} (person {other_id}): not "
                "merged; merge them on the People page if they are one person"
            )
    assert person.id is not None
    added: list[Identity] = []
    for kind, value in keys:
        entry = known.get((kind, value))
        if entry is None:
            added.append(
                Identity(
                    user_id=user_id,
                    person_id=person.id,
                    kind=kind,
                    value=value,
                    display_name=contact.name,
                    created_at=now,
                )  # fmt: skip
            )
        elif kind == UID_KIND and entry.person_id == person.id:
            # the name the card gave last: a later import renames only if you did not
            row = session.get(Identity, entry.identity_id)
            if row is not None and row.display_name != contact.name:
                row.display_name = contact.name
                session.add(row)
            entry.display_name = contact.name
    session.add_all(added)
    session.flush()  # one flush for the card's new identities
    for identity in added:
        assert identity.id is not None
        known[(identity.kind, identity.value)] = _Known(identity.id, person.id, contact.name)
    fresh = sorted(set(contact.relationships) - set(person.relationships or []))
    if fresh:
        person.relationships = sorted(set(person.relationships or []) | set(fresh))
        session.add(person)
    dates = _store_dates(session, user_id=user_id, person_id=person.id, contact=contact)
    session.flush()
    result = CardResult(
        card=contact.index,
        person_id=person.id,
        name=person.name,
        dates=dates,
        relationships=tuple(fresh),
        notes=tuple(notes),
    )
    return result, created


def _rename(
    session: Session,
    *,
    person: Person,
    contact: VCardContact,
    uid_key: tuple[str, str],
    known: dict[tuple[str, str], _Known],
    notes: list[str],
) -> None:
    """The address book's name replaces one Kith derived (a feed author's, the card's
    own from a previous import), never one you gave the person yourself."""
    if person.name == contact.name:
        return
    previous = known.get(uid_key)
    if previous is not None and previous.person_id == person.id:
        derived = person.name == previous.display_name
    else:
        names = session.exec(
            select(Identity.display_name).where(Identity.person_id == person.id)
        ).all()
        derived = person.name in {n for n in names if n}
    if derived:
        notes.append(f"renamed from {person.name}")
        person.name = contact.name
        session.add(person)
    else:
        notes.append(f"kept the name you gave them ({person.name}); the card says {contact.name}")


def _store_dates(
    session: Session, *, user_id: int, person_id: int, contact: VCardContact
) -> tuple[CardDate, ...]:
    """Upsert the card's dates (one per kind and label); a year you entered stays when
    the card has none."""
    wanted = ([contact.birthday] if contact.birthday else []) + list(contact.anniversaries)
    if not wanted:
        return ()
    existing = {
        (row.kind, row.label): row
        for row in session.exec(select(PersonDate).where(PersonDate.person_id == person_id)).all()
    }
    stored = []
    for day in wanted:
        label = day.label if day.kind == "custom" else ""
        before = existing.get((day.kind, label))
        year = day.year if day.year is not None else (before.year if before else None)
        contact_store.set_date(
            session, user_id=user_id, person_id=person_id, kind=day.kind, month=day.month,
            day=day.day, year=year, label=label,
        )  # fmt: skip
        stored.append(CardDate(kind=day.kind, month=day.month, day=day.day, year=year, label=label))
    return tuple(stored)
