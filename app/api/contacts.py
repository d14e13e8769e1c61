"""The contact log (contact Kith cannot see) and dates to remember, per person; what is
coming up. Logged contact counts wherever contact counts: drifting, the contact history
and sparkline, the ranking prior (the person is rescored at once)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlmodel import Session

from app.api.deps import CurrentUser, SessionDep
from app.jobs.scoring import rescore_people
from app.models import Interaction
from app.people.dates import date_out, person_dates, upcoming_dates
from app.schemas import (
    ContactCreate,
    ContactOut,
    ContactPage,
    ContactUpdate,
    DateCreate,
    DateOut,
    DateUpdate,
    UpcomingPage,
)
from app.storage import contacts as contact_store
from app.storage.pagination import decode_cursor, encode_cursor

router = APIRouter(prefix="/people", tags=["contacts"])
MAX_ID = 2**63 - 1


def contact_out(row: Interaction) -> ContactOut:
    assert row.id is not None
    return ContactOut(
        id=row.id,
        person_id=row.person_id,
        kind=row.kind,
        direction=row.direction,
        at=row.at,
        note=row.note,
        logged=row.logged,
        item_id=row.item_id,
    )


def aware(at: datetime | None, *, now: datetime) -> datetime:
    if at is None:
        return now
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _rescored(session: Session, *, user_id: int, person_id: int, now: datetime) -> None:
    """The ranking prior counts contact: score this person's items again."""
    rescore_people(session, user_id=user_id, person_ids=[person_id], now=now)


@router.get("/upcoming", response_model=UpcomingPage)
def read_upcoming(
    session: SessionDep,
    user: CurrentUser,
    days: Annotated[
        int | None, Query(ge=0, le=366, description="All dates within this many days")
    ] = None,
) -> UpcomingPage:
    """Birthdays, anniversaries and other dates coming up: within each date's own
    reminder window, or within ``days``."""
    assert user.id is not None
    today = datetime.now(UTC).date()
    return UpcomingPage(
        items=upcoming_dates(session, user_id=user.id, today=today, within_days=days)
    )


@router.get("/{person_id}/contacts", response_model=ContactPage)
def read_contacts(
    person_id: int,
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ContactPage:
    """All contact with one person, newest first: what you logged and what Kith saw."""
    assert user.id is not None
    before = None
    if cursor:
        (before,) = decode_cursor(cursor, size=1)
        if not isinstance(before, int):
            before = None
    rows = contact_store.list_contacts(
        session, user_id=user.id, person_id=person_id, limit=limit + 1, before_id=before
    )
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return ContactPage(items=[contact_out(r) for r in rows[:limit]], next_cursor=next_cursor)


@router.post("/{person_id}/contacts", response_model=ContactOut, status_code=201)
def create_contact(
    person_id: int, body: ContactCreate, session: SessionDep, user: CurrentUser
) -> ContactOut:
    """Log contact Kith cannot see (a call, a coffee, a letter); the date defaults to now,
    past dates are fine, future ones are refused."""
    assert user.id is not None
    now = datetime.now(UTC)
    row = contact_store.log_contact(
        session,
        user_id=user.id,
        person_id=person_id,
        kind=body.kind,
        direction=body.direction,
        at=aware(body.at, now=now),
        note=body.note,
        now=now,
    )
    _rescored(session, user_id=user.id, person_id=person_id, now=now)
    return contact_out(row)


@router.patch("/{person_id}/contacts/{contact_id}", response_model=ContactOut)
def update_contact(
    person_id: int,
    contact_id: int,
    body: ContactUpdate,
    session: SessionDep,
    user: CurrentUser,
) -> ContactOut:
    """Correct a logged contact: its kind, direction, date or note."""
    assert user.id is not None
    now = datetime.now(UTC)
    row = contact_store.edit_contact(
        session,
        user_id=user.id,
        person_id=person_id,
        contact_id=contact_id,
        changes=body.model_dump(exclude_unset=True),
        now=now,
    )
    _rescored(session, user_id=user.id, person_id=person_id, now=now)
    return contact_out(row)


@router.delete("/{person_id}/contacts/{contact_id}", status_code=204)
def delete_contact(
    person_id: int, contact_id: int, session: SessionDep, user: CurrentUser
) -> Response:
    """Delete a logged contact (contact Kith saw is not the log's to delete)."""
    assert user.id is not None
    contact_store.delete_contact(
        session, user_id=user.id, person_id=person_id, contact_id=contact_id
    )
    _rescored(session, user_id=user.id, person_id=person_id, now=datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{person_id}/dates", response_model=list[DateOut])
def read_dates(person_id: int, session: SessionDep, user: CurrentUser) -> list[DateOut]:
    """A person's dates, the next one first."""
    assert user.id is not None
    contact_store.get_person(session, user_id=user.id, person_id=person_id)
    return person_dates(
        session, user_id=user.id, person_id=person_id, today=datetime.now(UTC).date()
    )


@router.post("/{person_id}/dates", response_model=DateOut, status_code=201)
def create_date(
    person_id: int, body: DateCreate, session: SessionDep, user: CurrentUser
) -> DateOut:
    """Remember a date (yearly; the year is optional). A person has one birthday and one
    anniversary: posting one again replaces it; custom dates are told apart by label."""
    assert user.id is not None
    row = contact_store.set_date(
        session,
        user_id=user.id,
        person_id=person_id,
        kind=body.kind,
        label=body.label,
        month=body.month,
        day=body.day,
        year=body.year,
        remind_days=body.remind_days,
    )
    return date_out(row, today=datetime.now(UTC).date())


@router.patch("/{person_id}/dates/{date_id}", response_model=DateOut)
def update_date(
    person_id: int, date_id: int, body: DateUpdate, session: SessionDep, user: CurrentUser
) -> DateOut:
    """Change a date, its label or how early to be reminded."""
    assert user.id is not None
    row = contact_store.edit_date(
        session,
        user_id=user.id,
        person_id=person_id,
        date_id=date_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return date_out(row, today=datetime.now(UTC).date())


@router.delete("/{person_id}/dates/{date_id}", status_code=204)
def delete_date(person_id: int, date_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """Forget a date."""
    assert user.id is not None
    contact_store.delete_date(session, user_id=user.id, person_id=person_id, date_id=date_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
