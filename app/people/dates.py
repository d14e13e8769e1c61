"""Dates to remember as both faces show them: a person's dates, and what is coming up
(the Reach out page, the digest, ``GET /people/upcoming``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from sqlmodel import Session, col, select

from app.models import Person, PersonDate
from app.schemas import DateOut, PersonRef, UpcomingOut
from app.storage import contacts as contact_store
from ranking.dates import DateInfo, next_occurrence, upcoming


def date_info(row: PersonDate) -> DateInfo:
    assert row.id is not None
    return DateInfo(
        id=row.id,
        person_id=row.person_id,
        kind=row.kind,
        label=row.label,
        month=row.month,
        day=row.day,
        year=row.year,
        remind_days=row.remind_days,
    )


def date_out(row: PersonDate, *, today: date) -> DateOut:
    info = date_info(row)
    on = next_occurrence(info.month, info.day, today=today)
    return DateOut(**asdict(info), next=on, days_until=(on - today).days)


def person_dates(session: Session, *, user_id: int, person_id: int, today: date) -> list[DateOut]:
    rows = contact_store.dates_of(session, user_id=user_id, person_ids=[person_id])
    return sorted((date_out(r, today=today) for r in rows), key=lambda d: d.days_until or 0)


def upcoming_dates(
    session: Session, *, user_id: int, today: date, within_days: int | None = None
) -> list[UpcomingOut]:
    """Dates coming round within their reminder window (or ``within_days``), soonest
    first; muted people's dates are left out."""
    rows = {r.id: r for r in contact_store.dates_of(session, user_id=user_id)}
    soon = upcoming((date_info(r) for r in rows.values()), today=today, within_days=within_days)
    if not soon:
        return []
    people = {
        p.id: p
        for p in session.exec(
            select(Person).where(
                Person.user_id == user_id, col(Person.id).in_({u.info.person_id for u in soon})
            )
        ).all()
    }
    out = []
    for u in soon:
        person = people.get(u.info.person_id)
        if person is None or person.muted or person.id is None:
            continue
        out.append(
            UpcomingOut(
                person=PersonRef(id=person.id, name=person.name),
                date=date_out(rows[u.info.id], today=today),
                on=u.on,
                days_until=u.days_until,
                years=u.years,
                text=u.text,
            )
        )
    return out
