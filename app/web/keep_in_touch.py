"""The person page's keep-in-touch parts: the contact log, the cadence goal and the
dates to remember, as the template shows them. Changes go through the API from
``/static/contacts.js``."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from app.people.dates import person_dates
from app.schemas import DateOut
from app.storage import contacts as contact_store

LOG_ROWS = 100
KIND_LABELS = {
    "call": "Call",
    "meeting": "Met",
    "message": "Message",
    "email": "E-mail",
    "letter": "Letter",
    "other": "Other",
    "reply": "Reply",
    "comment": "Comment",
    "mention": "Mention",
    "favourite": "Favourite",
    "boost": "Boost",
}
DIRECTION_LABELS = {"out": "you reached out", "in": "they reached out", "both": "together"}
UNITS = (("days", 1), ("weeks", 7), ("months", 30))


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int
    kind: str
    direction: str
    at: datetime
    note: str | None
    logged: bool
    label: str  # "Call, you reached out"


@dataclass(frozen=True, slots=True)
class Cadence:
    every: int | None  # in ``unit``
    unit: str
    text: str


def log_rows(session: Session, *, user_id: int, person_id: int) -> list[LogRow]:
    rows = contact_store.list_contacts(
        session, user_id=user_id, person_id=person_id, limit=LOG_ROWS
    )
    out = []
    for r in sorted(rows, key=lambda r: r.at, reverse=True):
        assert r.id is not None
        kind = KIND_LABELS.get(r.kind, r.kind.capitalize())
        direction = DIRECTION_LABELS.get(r.direction, r.direction)
        out.append(
            LogRow(r.id, r.kind, r.direction, r.at, r.note, r.logged, f"{kind}, {direction}")
        )
    return out


def cadence(days: float | None) -> Cadence:
    """An explicit goal in the largest unit that divides it: 14 -> every 2 weeks."""
    if not days:
        return Cadence(None, "weeks", "No goal set: Kith learns your usual rhythm.")
    n = round(days)
    for unit, size in reversed(UNITS):
        if n % size == 0 and n >= size:
            every = n // size
            word = unit if every != 1 else unit[:-1]
            return Cadence(every, unit, f"Your goal: every {every} {word}.")
    return Cadence(n, "days", f"Your goal: every {n} days.")


def date_text(d: DateOut) -> str:
    """ "Birthday: 14 March 1986", "Moved to Lisbon: 1 September"."""
    what = {"birthday": "Birthday", "anniversary": "Anniversary"}.get(d.kind, d.label)
    when = f"{d.day} {calendar.month_name[d.month]}" + (f" {d.year}" if d.year else "")
    return f"{what}: {when}"


def dates_view(
    session: Session, *, user_id: int, person_id: int, today: date
) -> list[tuple[DateOut, str]]:
    return [
        (d, date_text(d))
        for d in person_dates(session, user_id=user_id, person_id=person_id, today=today)
    ]


MONTHS = [(n, calendar.month_name[n]) for n in range(1, 13)]
