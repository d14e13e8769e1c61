"""Dates to remember (birthdays, anniversaries, custom), recurring yearly: when each
comes next and whether it is time to remind. Pure: ``today`` is an argument."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class DateInfo:
    id: int
    person_id: int
    kind: str  # birthday | anniversary | custom
    label: str
    month: int
    day: int
    year: int | None = None
    remind_days: int = 7


@dataclass(frozen=True, slots=True)
class Upcoming:
    info: DateInfo
    on: date  # the next time it comes round (today included)
    days_until: int
    years: int | None  # turning / together for this many years, when the year is known
    text: str  # "Birthday (turns 40) in 3 days"


def next_occurrence(month: int, day: int, *, today: date) -> date:
    """The next ``month``/``day`` on or after ``today``; 29 February falls on 28
    February in a year that has none."""
    for year in (today.year, today.year + 1):
        last = calendar.monthrange(year, month)[1]
        candidate = date(year, month, min(day, last))
        if candidate >= today:
            return candidate
    raise AssertionError("unreachable: a date comes round within a year")


def describe(d: DateInfo, *, years: int | None, days_until: int) -> str:
    name = {"birthday": "Birthday", "anniversary": "Anniversary"}.get(d.kind, d.label or "Date")
    if years is not None and years > 0:
        name += f" (turns {years})" if d.kind == "birthday" else f" ({years} years)"
    when = (
        "today" if days_until == 0 else "tomorrow" if days_until == 1 else f"in {days_until} days"
    )
    return f"{name} {when}"


def upcoming(
    dates: Iterable[DateInfo], *, today: date, within_days: int | None = None
) -> list[Upcoming]:
    """The dates coming round soon, soonest first: within each date's own ``remind_days``,
    or within ``within_days`` for all of them when it is given."""
    out = []
    for d in dates:
        on = next_occurrence(d.month, d.day, today=today)
        days_until = (on - today).days
        window = d.remind_days if within_days is None else within_days
        if days_until > window:
            continue
        years = on.year - d.year if d.year is not None and d.year <= on.year else None
        out.append(
            Upcoming(d, on, days_until, years, describe(d, years=years, days_until=days_until))
        )
    out.sort(key=lambda u: (u.days_until, u.info.person_id, u.info.id))
    return out
