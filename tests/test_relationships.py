"""Drifting on constructed histories (pure: ranking.relationships)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ranking.relationships import History, contacts_by_kind, drifting, is_active, usual_gap_days

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def days_ago(*days: float) -> list[datetime]:
    return sorted(NOW - timedelta(days=d) for d in days)


def history(
    pid: int, contacts: list[datetime], posts: list[datetime] | None = None, **kw
) -> History:
    return History(
        person_id=pid,
        contacts=contacts,
        posts=posts if posts is not None else days_ago(1, 5, 9),
        valued=True,
        **kw,
    )


def test_usual_gap_is_the_median_gap() -> None:
    assert usual_gap_days(days_ago(40, 30, 20, 10), default=14) == 10
    assert usual_gap_days(days_ago(5), default=14) == 14


def test_a_close_friend_silent_for_three_gaps_is_listed() -> None:
    friend = history(1, days_ago(70, 60, 50, 40))  # every 10 days, silent for 40
    (drift,) = drifting([friend], now=NOW)
    assert drift.person_id == 1 and drift.days_since_contact == 40 and drift.usual_gap_days == 10
    assert "40 days" in drift.why and "every 10 days" in drift.why and drift.overdue > 0.95


def test_not_yet_drifting_within_k_gaps() -> None:
    assert drifting([history(1, days_ago(45, 35, 25, 15))], now=NOW) == []  # 15 < 3 x 10


def test_someone_who_stopped_posting_is_not_listed() -> None:
    gone_quiet = history(1, days_ago(70, 60, 50, 40), posts=days_ago(200, 190, 180))
    assert drifting([gone_quiet], now=NOW) == []


def test_an_interaction_clears_them() -> None:
    contacts = days_ago(70, 60, 50, 40)
    assert drifting([history(1, contacts)], now=NOW)
    assert drifting([history(1, [*contacts, NOW - timedelta(days=1)])], now=NOW) == []


def test_a_snooze_hides_them_until_its_date() -> None:
    snoozed = history(1, days_ago(70, 60, 50, 40), snoozed_until=NOW + timedelta(days=7))
    assert drifting([snoozed], now=NOW) == []
    assert drifting([snoozed], now=NOW + timedelta(days=8))


def test_dismissal_lasts_until_the_next_contact() -> None:
    contacts = days_ago(70, 60, 50, 40)
    dismissed = history(1, contacts, dismissed_at=NOW - timedelta(days=1))
    assert drifting([dismissed], now=NOW) == []
    later = history(
        1,
        [*contacts, NOW - timedelta(days=35)],
        posts=[NOW + timedelta(days=29)],
        dismissed_at=NOW - timedelta(days=36),
    )
    assert drifting([later], now=NOW + timedelta(days=30))


def test_explicit_cadence_overrides_the_learned_gap() -> None:
    mum = history(1, days_ago(30, 20, 10, 8), cadence_days=7)
    (drift,) = drifting([mum], now=NOW)
    assert drift.usual_gap_days == 7 and "cadence" in drift.why


def test_people_not_valued_are_not_listed_and_order_is_most_overdue_first() -> None:
    a = history(1, days_ago(70, 60, 50, 40))  # 4 gaps overdue
    b = history(2, days_ago(100, 90, 80, 70))  # 7
    c = History(person_id=3, contacts=days_ago(100, 90, 80, 70), posts=days_ago(1), valued=False)
    assert [d.person_id for d in drifting([a, b, c], now=NOW)] == [2, 1]


def test_contacts_by_kind_splits_proactive_and_reactive() -> None:
    counts = contacts_by_kind(
        [
            (NOW, "out", "reply"),
            (NOW, "out", "reply"),
            (NOW, "in", "favourite"),
            (NOW - timedelta(days=400), "in", "mention"),
        ],
        now=NOW,
    )
    assert counts == {"out": {"reply": 2}, "in": {"favourite": 1}}


def test_active_allows_a_pause_they_have_taken_before() -> None:
    # posting every few days, with one 60-day pause last spring; 45 days quiet now
    posts = days_ago(45, 48, 51, 54, 57, 117, 120, 123, 126)
    assert is_active(posts, now=NOW, within_days=30)
    assert not is_active(days_ago(45, 48, 51, 54, 57), now=NOW, within_days=30)
