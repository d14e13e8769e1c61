"""The contact log and dates to remember, per person. Logged contact is an
:class:`~app.models.Interaction` with ``logged`` set, so everything that counts contact
(drifting, the contact history, the ranking prior) counts it too."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session, col, select

from app.errors import Conflict, InvalidInput, NotFound
from app.models import Interaction, PersonDate
from app.storage.people import get_person

CONTACT_KINDS = ("call", "meeting", "message", "email", "letter", "other")
DIRECTIONS = ("out", "in", "both")  # out: you reached them; in: they reached you
DATE_KINDS = ("birthday", "anniversary", "custom")
NOTE_CHARS = 500


def check_contact(
    *, kind: str, direction: str, at: datetime, note: str | None, now: datetime
) -> None:
    """Raise InvalidInput unless this is a contact the log can keep."""
    if kind not in CONTACT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(CONTACT_KINDS)}")
    if direction not in DIRECTIONS:
        raise InvalidInput(f"direction must be one of {', '.join(DIRECTIONS)}")
    if at.tzinfo is None:
        raise InvalidInput("the date needs a time zone (or leave it out for now)")
    if at > now:
        raise InvalidInput("a contact cannot be in the future")
    if note is not None and len(note) > NOTE_CHARS:
        raise InvalidInput(f"the note is longer than {NOTE_CHARS} characters")


def log_contact(
    session: Session,
    *,
    user_id: int,
    person_id: int,
    kind: str,
    direction: str,
    at: datetime,
    note: str | None,
    now: datetime,
) -> Interaction:
    """Record contact Kith cannot see (a call, a coffee, a letter)."""
    get_person(session, user_id=user_id, person_id=person_id)
    check_contact(kind=kind, direction=direction, at=at, note=note, now=now)
    row = Interaction(
        user_id=user_id,
        person_id=person_id,
        kind=kind,
        direction=direction,
        at=at,
        logged=True,
        note=(note or "").strip() or None,
    )
    session.add(row)
    session.flush()
    return row


def get_contact(session: Session, *, user_id: int, person_id: int, contact_id: int) -> Interaction:
    row = session.get(Interaction, contact_id)
    if row is None or row.user_id != user_id or row.person_id != person_id:
        raise NotFound(f"person {person_id} has no contact {contact_id}")
    return row


def list_contacts(
    session: Session, *, user_id: int, person_id: int, limit: int, before_id: int | None = None
) -> list[Interaction]:
    """A person's contact, logged and seen, newest first (keyset on ``(at, id)`` by id)."""
    get_person(session, user_id=user_id, person_id=person_id)
    query = select(Interaction).where(
        Interaction.user_id == user_id, Interaction.person_id == person_id
    )
    if before_id is not None:
        query = query.where(col(Interaction.id) < before_id)
    return list(session.exec(query.order_by(col(Interaction.id).desc()).limit(limit)).all())


def delete_contact(session: Session, *, user_id: int, person_id: int, contact_id: int) -> None:
    """Delete a logged contact; contact Kith saw (a comment, a reply) is not the log's."""
    row = get_contact(session, user_id=user_id, person_id=person_id, contact_id=contact_id)
    if not row.logged:
        raise InvalidInput("only contact you logged can be deleted; this one Kith saw")
    session.delete(row)
    session.flush()


# --- dates ---------------------------------------------------------------------------


def dates_of(
    session: Session, *, user_id: int, person_ids: list[int] | None = None
) -> list[PersonDate]:
    query = select(PersonDate).where(PersonDate.user_id == user_id)
    if person_ids is not None:
        query = query.where(col(PersonDate.person_id).in_(person_ids))
    return list(session.exec(query.order_by(col(PersonDate.month), col(PersonDate.day))).all())


def check_date(*, kind: str, label: str, month: int, day: int, year: int | None) -> None:
    """Raise InvalidInput unless this is a date the calendar has (29 February only
    without a year or in a leap year)."""
    if kind not in DATE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(DATE_KINDS)}")
    if kind == "custom" and not label.strip():
        raise InvalidInput("a custom date needs a label (what it is)")
    if len(label) > 100:
        raise InvalidInput("the label is longer than 100 characters")
    if year is not None and not 1 <= year <= 9999:
        raise InvalidInput("the year is out of range")
    try:
        date(year if year is not None else 2000, month, day)  # 2000 is a leap year
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{month}-{day} is not a date") from exc


def set_date(
    session: Session,
    *,
    user_id: int,
    person_id: int,
    kind: str,
    month: int,
    day: int,
    year: int | None = None,
    label: str = "",
    remind_days: int | None = None,
) -> PersonDate:
    """Add a date, or update the one of the same kind and label (a person has one
    birthday): re-importing a contact never duplicates its dates."""
    get_person(session, user_id=user_id, person_id=person_id)
    label = label.strip() if kind == "custom" else ""
    check_date(kind=kind, label=label, month=month, day=day, year=year)
    if remind_days is not None and not 0 <= remind_days <= 60:
        raise InvalidInput("remind_days must be between 0 and 60")
    row = session.exec(
        select(PersonDate).where(
            PersonDate.person_id == person_id, PersonDate.kind == kind, PersonDate.label == label
        )
    ).first()
    if row is None:
        row = PersonDate(
            user_id=user_id, person_id=person_id, kind=kind, label=label, month=month, day=day
        )
    row.month, row.day, row.year = month, day, year
    if remind_days is not None:
        row.remind_days = remind_days
    session.add(row)
    session.flush()
    return row


def edit_contact(
    session: Session,
    *,
    user_id: int,
    person_id: int,
    contact_id: int,
    changes: dict[str, object],
    now: datetime,
) -> Interaction:
    """Change a logged contact's kind, direction, date or note."""
    row = get_contact(session, user_id=user_id, person_id=person_id, contact_id=contact_id)
    if not row.logged:
        raise InvalidInput("only contact you logged can be changed; this one Kith saw")
    kind = str(changes.get("kind") or row.kind)
    direction = str(changes.get("direction") or row.direction)
    at = changes.get("at") or row.at
    assert isinstance(at, datetime)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    note = changes.get("note", row.note)
    assert note is None or isinstance(note, str)
    check_contact(kind=kind, direction=direction, at=at, note=note, now=now)
    row.kind, row.direction, row.at = kind, direction, at
    row.note = (note or "").strip() or None
    session.add(row)
    session.flush()
    return row


def get_date(session: Session, *, user_id: int, person_id: int, date_id: int) -> PersonDate:
    row = session.get(PersonDate, date_id)
    if row is None or row.user_id != user_id or row.person_id != person_id:
        raise NotFound(f"person {person_id} has no date {date_id}")
    return row


def edit_date(
    session: Session, *, user_id: int, person_id: int, date_id: int, changes: dict[str, object]
) -> PersonDate:
    row = get_date(session, user_id=user_id, person_id=person_id, date_id=date_id)
    label = str(changes["label"]) if changes.get("label") is not None else row.label
    label = label.strip() if row.kind == "custom" else ""
    month = int(changes.get("month") or row.month)  # type: ignore[call-overload]
    day = int(changes.get("day") or row.day)  # type: ignore[call-overload]
    year = changes.get("year", row.year)
    assert year is None or isinstance(year, int)
    check_date(kind=row.kind, label=label, month=month, day=day, year=year)
    if label != row.label:
        clash = session.exec(
            select(PersonDate).where(
                PersonDate.person_id == person_id,
                PersonDate.kind == row.kind,
                PersonDate.label == label,
                col(PersonDate.id) != row.id,
            )
        ).first()
        if clash is not None:
            raise Conflict(f"{person_id} already has a date labelled {label!r}")
    row.label, row.month, row.day, row.year = label, month, day, year
    if changes.get("remind_days") is not None:
        row.remind_days = int(changes["remind_days"])  # type: ignore[call-overload]
    session.add(row)
    session.flush()
    return row


def delete_date(session: Session, *, user_id: int, person_id: int, date_id: int) -> None:
    session.delete(get_date(session, user_id=user_id, person_id=person_id, date_id=date_id))
    session.flush()
