"""Dates to remember (ranking.dates): when each comes round next, and when to remind."""

from __future__ import annotations

from datetime import date

from ranking.dates import DateInfo, next_occurrence, upcoming


def info(n: int, month: int, day: int, **kw: object) -> DateInfo:
    return DateInfo(id=n, person_id=100 + n, kind=str(kw.pop("kind", "birthday")), label="",
                    month=month, day=day, **kw)  # type: ignore[arg-type]  # fmt: skip


def test_next_occurrence_this_year_next_year_and_the_leap_day() -> None:
    assert next_occurrence(12, 25, today=date(2026, 12, 2)) == date(2026, 12, 25)
    assert next_occurrence(1, 5, today=date(2026, 12, 2)) == date(2027, 1, 5)
    assert next_occurrence(12, 2, today=date(2026, 12, 2)) == date(2026, 12, 2)  # today
    assert next_occurrence(2, 29, today=date(2026, 12, 2)) == date(2027, 2, 28)
    assert next_occurrence(2, 29, today=date(2027, 12, 2)) == date(2028, 2, 29)


def test_upcoming_uses_each_dates_window_soonest_first() -> None:
    today = date(2026, 12, 2)
    dates = [
        info(1, 12, 9, remind_days=7),  # in 7 days: reminded
        info(2, 12, 10, remind_days=7),  # in 8: not yet
        info(3, 12, 2, remind_days=0, year=1986),  # today, turns 40
        info(4, 12, 30, remind_days=30, kind="anniversary", year=2016),
    ]
    soon = upcoming(dates, today=today)
    assert [(u.info.id, u.days_until) for u in soon] == [(3, 0), (1, 7), (4, 28)]
    assert soon[0].text == "Birthday (turns 40) today"
    assert soon[1].text == "Birthday in 7 days" and soon[1].years is None
    assert soon[2].text == "Anniversary (10 years) in 28 days"
    wide = upcoming(dates, today=today, within_days=8)
    assert [u.info.id for u in wide] == [3, 1, 2]


def test_a_year_in_the_future_gives_no_age() -> None:
    soon = upcoming([info(1, 12, 3, year=2030)], today=date(2026, 12, 2))
    assert soon[0].years is None and soon[0].text == "Birthday tomorrow"
