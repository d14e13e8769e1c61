"""The rhythm model on constructed histories (pure: ranking.rhythm, ranking.relationships)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from ranking.relationships import (
    History,
    drifting,
    drifting_median_rule,
    importance_of,
    verdicts,
)
from ranking.rhythm import Prior, assess, epoch_days, gap_stats, pooled_prior, span, split_gap

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POSTS = [NOW - timedelta(days=d) for d in (9, 5, 1)]


def ago(*days: float) -> list[datetime]:
    return sorted(NOW - timedelta(days=d) for d in days)


def valued(pid: int, contacts: list[datetime], **kw: object) -> History:
    return History(person_id=pid, contacts=contacts, posts=POSTS, valued=True, **kw)  # type: ignore[arg-type]


def bursts(last_burst_days_ago: float, *, every: float = 60, count: int = 5) -> list[datetime]:
    """``count`` bursts of five replies in three days, ``every`` days apart."""
    days = []
    for b in range(count):
        start = last_burst_days_ago + 3 + b * every
        days += [start - x for x in (0, 0.5, 1.2, 2.1, 3.0)]
    return ago(*days)


def steady(every: float, *, silent: float, count: int = 12) -> list[datetime]:
    return ago(*(silent + n * every for n in range(count)))


def others() -> list[History]:
    """A user's other people, for the pooled prior: a few rhythms from weekly to monthly."""
    return [valued(100 + n, steady(every, silent=1)) for n, every in enumerate((7, 10, 14, 21, 30))]


def test_a_burst_is_one_episode_and_days_after_it_nobody_is_drifting() -> None:
    contacts = bursts(4)
    stats = gap_stats(epoch_days(contacts, now=NOW))
    assert stats.episodes == 5 and stats.contacts == 25 and stats.mean_episode_size == 5
    person = valued(1, contacts)
    assert drifting([person, *others()], now=NOW) == []
    # the median rule learns "every half a day" from the same history and nags
    assert [d.person_id for d in drifting_median_rule([person], now=NOW)] == [1]


def test_a_burst_rhythm_overdue_by_months_is_flagged_and_explained() -> None:
    (drift,) = drifting([valued(1, bursts(150)), *others()], now=NOW)
    assert drift.person_id == 1 and drift.overdue > 0.975
    assert 50 <= drift.usual_gap_days <= 62
    assert drift.why.startswith("you usually talk every 2 months, in bursts; it has been 5 months")


def test_a_steady_person_overdue_is_flagged_and_on_time_is_not() -> None:
    assert drifting([valued(1, steady(7, silent=5)), *others()], now=NOW) == []
    (drift,) = drifting([valued(1, steady(7, silent=30)), *others()], now=NOW)
    assert drift.usual_gap_days == 7.0 and drift.days_since_contact == 30.0
    assert "every 7 days" in drift.why and "it has been 30 days" in drift.why


def test_a_slowing_rhythm_is_followed() -> None:
    # gaps lengthening from 5 to 30 days: 40 days after the last is not 8 usual gaps late
    gaps = [5, 6, 7, 9, 11, 13, 16, 19, 23, 27, 30]
    days, t = [40.0], 40.0
    for g in reversed(gaps):  # back in time from the newest (longest) gap
        t += g
        days.append(t)
    slowing = valued(1, ago(*days))
    assert drifting([slowing, *others()], now=NOW) == []
    assert [d.person_id for d in drifting_median_rule([slowing], now=NOW)] == [1]
    # recent gaps count more: the usual gap is near the recent ones, not the old median
    later = NOW + timedelta(days=120)
    still_posting = History(
        person_id=1, contacts=slowing.contacts, posts=[later - timedelta(days=1)], valued=True
    )
    (late,) = drifting([still_posting, *others()], now=later)
    assert late.usual_gap_days > 15


def test_a_cadence_overrides_the_learned_rhythm() -> None:
    weekly = steady(7, silent=10)
    assert drifting([valued(1, weekly, cadence_days=30), *others()], now=NOW) == []
    monthly = steady(30, silent=12)
    (drift,) = drifting([valued(1, monthly, cadence_days=10), *others()], now=NOW)
    assert drift.usual_gap_days == 10 and "cadence goal" in drift.why and drift.overdue > 0.95


def test_two_contacts_borrow_the_pooled_prior() -> None:
    stats = [gap_stats(epoch_days(h.contacts, now=NOW)) for h in others()]
    prior = pooled_prior(stats)
    assert 9 < 2.718281828**prior.mu < 16  # the median of weekly..monthly people
    two = gap_stats(epoch_days(ago(100, 90), now=NOW))
    a = assess(two, prior=prior, now_days=NOW.timestamp() / 86400)
    assert a.learned_from == 1 and "a guess from few contacts" in a.explain()
    # the one gap of ten days is pulled towards the others, not taken as the truth
    assert 10 < a.usual_gap_days < 2.718281828**prior.mu
    assert a.overdue > 0.975  # 90 days is long for anyone among these people
    fresh = assess(two, prior=prior, now_days=(NOW - timedelta(days=80)).timestamp() / 86400)
    assert fresh.overdue < 0.5  # ten days after the second contact: nothing to say
    assert pooled_prior(stats[:2]) == Prior()  # too few people: the fallback prior


def test_order_is_overdue_times_importance() -> None:
    plain = valued(1, steady(7, silent=60))
    dear = valued(2, steady(7, silent=25), importance=3.0)
    slight = valued(3, steady(7, silent=60), importance=0.5)
    found = drifting([slight, plain, dear, *others()], now=NOW)
    assert [d.person_id for d in found] == [2, 1, 3]
    assert [d.importance for d in found] == [3.0, 1.0, 0.5]
    assert all(0.975 <= d.overdue <= 1 for d in found)


def test_importance_from_what_is_known() -> None:
    assert importance_of() == 1.0
    friend = importance_of(relationships=["Friend"])
    colleague = importance_of(relationships=["colleague"])
    assert friend > colleague > 1.0
    assert importance_of(pinned=True) > friend
    assert importance_of(contacts_last_year=50, inbound=25, outbound=25) > importance_of(
        contacts_last_year=50, inbound=50, outbound=0
    )
    assert importance_of(manual_weight=-2) == 0.5 and importance_of(manual_weight=2) == 1.5


def test_edge_cases_one_contact_same_instant_and_future_times() -> None:
    one = gap_stats(epoch_days(ago(3), now=NOW))
    assert one.episodes == 1 and one.weight == 0
    same = gap_stats(epoch_days([NOW - timedelta(days=3)] * 6, now=NOW))
    assert same.episodes == 1 and same.contacts == 6
    # an instant given in another zone is the same instant; future times are ignored
    zoned = (NOW - timedelta(days=3)).astimezone(timezone(timedelta(hours=9)))
    assert epoch_days([zoned, NOW + timedelta(days=2)], now=NOW) == epoch_days(ago(3), now=NOW)
    future = valued(1, [*steady(7, silent=30), NOW + timedelta(days=1)])
    assert [d.person_id for d in drifting([future, *others()], now=NOW)] == [1]
    only_future = valued(1, [NOW + timedelta(days=1)])
    assert drifting([only_future, *others()], now=NOW) == []
    assert drifting([valued(1, [NOW - timedelta(days=3)] * 6), *others()], now=NOW) == []
    assert drifting([], now=NOW) == []


def test_snooze_dismiss_muted_and_still_active_keep_their_meaning() -> None:
    late = steady(7, silent=40)
    assert drifting([valued(1, late, snoozed_until=NOW + timedelta(days=1))], now=NOW) == []
    assert drifting([valued(1, late, dismissed_at=NOW - timedelta(days=1))], now=NOW) == []
    quiet = History(person_id=1, contacts=late, posts=ago(200, 190), valued=True)
    assert drifting([quiet], now=NOW) == []
    assert drifting([History(person_id=1, contacts=late, posts=POSTS)], now=NOW) == []


def test_the_split_gap_separates_bursts_from_silences() -> None:
    assert split_gap([0.1, 0.4, 0.8, 55, 60, 62]) > 0.8
    assert split_gap([0.1, 0.4, 0.8, 55, 60, 62]) < 55
    assert split_gap([6, 7, 7, 8, 9]) == 1.0  # no jump: only same-day contact merges
    assert span(0.2) == "less than a day" and span(40) == "40 days" and span(150) == "5 months"


# --- the storage path that feeds the model (SQLite and PostgreSQL) --------------------


def test_contact_histories_feed_the_model(db_url: str) -> None:
    from sqlalchemy import insert

    from app.db import get_engine, session_scope
    from app.models import Interaction, Person
    from app.storage import contacts as contact_store
    from app.storage import people as people_store
    from app.storage import users as user_store

    with session_scope(get_engine(db_url)) as s:
        uid = user_store.create_user(s, name="rhythm").id
        assert uid is not None
        friend = Person(user_id=uid, name="Friend", relationships=["friend"])
        burst = Person(user_id=uid, name="One burst")
        busy = Person(user_id=uid, name="Busy", pinned=True)
        s.add_all([friend, burst, busy])
        s.flush()
        assert friend.id and burst.id and busy.id
        for n in range(4):  # logged by the user, some of it both ways, in another zone
            contact_store.log_contact(
                s,
                user_id=uid,
                person_id=friend.id,
                kind="call",
                direction=("both", "out")[n % 2],
                at=(NOW - timedelta(days=40 + 30 * n)).astimezone(timezone(timedelta(hours=-5))),
                note=None,
                now=NOW,
            )
        rows = [
            {"person_id": burst.id, "direction": "in", "at": NOW - timedelta(days=20, hours=h)}
            for h in (0, 1, 2)  # three replies within hours: a stranger, not yet valued
        ]
        rows += [  # more than the cap, and some older than the history kept
            {"person_id": busy.id, "direction": "in", "at": NOW - timedelta(hours=6 * n)}
            for n in range(people_store.RECENT_CONTACTS + 50)
        ]
        rows += [{"person_id": busy.id, "direction": "out", "at": NOW - timedelta(days=2000)}]
        s.execute(
            insert(Interaction),
            [
                {"user_id": uid, "kind": "reply", "external_id": str(i), **r}
                for i, r in enumerate(rows)
            ],
        )
    with session_scope(get_engine(db_url)) as s:
        found = {h.person_id: h for h in people_store.contact_histories(s, user_id=uid, now=NOW)}
    mine = found[friend.id]
    assert mine.valued and mine.contacts[-1] == NOW - timedelta(days=40)
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in mine.contacts)
    assert list(mine.contacts) == sorted(mine.contacts)
    # a close friend, contact both ways (logged "both" counts as both)
    assert mine.importance == importance_of(
        relationships=["friend"], contacts_last_year=6, inbound=2, outbound=4
    )
    assert not found[burst.id].valued and len(found[burst.id].contacts) == 3
    heavy = found[busy.id]
    assert len(heavy.contacts) == people_store.RECENT_CONTACTS  # the newest, none 2000 days old
    assert heavy.contacts[-1] == NOW and heavy.importance > 2


# --- episodes spread over days, the right tail, the prior, silences had before -------


def test_bursts_spread_over_a_week_are_one_episode_each() -> None:
    # five contacts over six and a half days, every two months: the gaps inside a burst
    # (1.5 to 1.8 days) are not a rhythm of their own
    days = [10 + b * 60 + x for b in range(6) for x in (0, 1.5, 3.2, 5.0, 6.5)]
    stats = gap_stats(epoch_days(ago(*days), now=NOW))
    assert stats.episodes == 6 and stats.mean_episode_size == 5
    assert 50 < 2.718281828**stats.mean_log < 56
    raw = [60 - 6.5] * 5 + [1.5, 1.7, 1.8, 1.5] * 6
    assert 1.8 < split_gap(raw) < 53.5
    # one population, however wide, is not split (a Poisson rhythm, every 10 days)
    assert split_gap([0.6, 1.2, 2.5, 4, 6, 8, 10, 13, 17, 22, 30, 41]) == 1.0


def test_short_gaps_from_off_rhythm_contact_do_not_widen_the_tail() -> None:
    # every 20 days, with two chance contacts a few days after a regular one: the spread
    # that decides the tail comes from the gaps above the centre only
    regular = [5 + 20 * n for n in range(12)]
    stats = gap_stats(epoch_days(ago(*regular), now=NOW))
    chance = gap_stats(epoch_days(ago(*regular, 68, 148), now=NOW))
    assert chance.var_log < 0.05 and stats.var_log < 0.01
    late = valued(1, ago(*(50 + d for d in (*regular, 68, 148))))
    (drift,) = drifting([late, *others()], now=NOW)
    assert drift.person_id == 1


def test_a_yearly_friend_is_not_irregular_for_being_unlike_the_others() -> None:
    # three yearly gaps, among weekly..monthly people: their own rhythm, no extra spread
    prior = pooled_prior(gap_stats(epoch_days(h.contacts, now=NOW)) for h in others())
    yearly = gap_stats(epoch_days(ago(30, 395, 760, 1125), now=NOW))
    a = assess(yearly, prior=prior, now_days=NOW.timestamp() / 86400)
    assert 330 < a.usual_gap_days < 400 and a.spread < 0.5 and a.overdue < 0.01
    assert a.had_before_days == 365


def test_a_silence_they_recently_came_back_from_is_not_unusual() -> None:
    # every 10 days, but one pause of 60 days among the recent gaps
    days = [5 + 10 * n for n in range(6)] + [115 + 10 * n for n in range(6)]
    person = valued(1, ago(*(d + 45 for d in days)))
    (v,) = verdicts([person], now=NOW, min_overdue=0.0)
    assert v.assessment is not None and v.assessment.had_before_days == 60
    assert v.reason == "too_soon"  # 45 days silent: shorter than the pause they took
    (after,) = verdicts([person], now=NOW + timedelta(days=20), min_overdue=0.0)
    assert after.reason == "flagged"


def test_verdicts_name_the_test_that_rejects() -> None:
    late = steady(7, silent=40)
    people = [
        valued(1, late),
        History(person_id=2, contacts=late, posts=POSTS),  # not valued
        valued(3, late, snoozed_until=NOW + timedelta(days=1)),
        valued(4, late, dismissed_at=NOW - timedelta(days=1)),
        History(person_id=5, contacts=late, posts=ago(200, 190), valued=True),
        valued(6, steady(7, silent=3)),
        valued(7, [NOW + timedelta(days=1)]),
    ]
    found = {v.history.person_id: v.reason for v in verdicts([*people, *others()], now=NOW)}
    assert [found[p] for p in range(1, 8)] == [
        "flagged",
        "not_valued",
        "snoozed",
        "dismissed",
        "not_active",
        "not_overdue",
        "no_contact",
    ]
    flagged = {v.history.person_id for v in verdicts(people, now=NOW) if v.reason == "flagged"}
    assert flagged == {d.person_id for d in drifting(people, now=NOW)}


def test_the_second_world_family_is_seeded_and_its_truth_is_its_own() -> None:
    from ranking import contact_sim_hawkes as hawkes

    one = hawkes.world(3, people=40, now=NOW)
    assert one == hawkes.world(3, people=40, now=NOW)
    assert {p.klass for p in one} == set(hawkes.CLASSES)
    for p in one:
        assert list(p.contacts) == sorted(p.contacts, key=lambda c: c.at)
        assert all(c.at <= NOW and c.at.tzinfo is not None for c in p.contacts)
        if p.klass != "fading" or not p.valued:
            assert not p.tell  # a continuing process is never news, however long its silence
        else:
            assert p.tell == (p.silence_days > p.limit_days)


def test_only_a_faded_relationship_is_should_be_told_in_both_families() -> None:
    from ranking import contact_sim, contact_sim_hawkes

    for family, faded in ((contact_sim, {"drifting"}), (contact_sim_hawkes, {"fading"})):
        for seed in range(3):
            for p in family.world(seed, people=80, now=NOW):
                if p.tell:
                    assert p.klass in faded and p.silence_days > p.limit_days
                elif p.klass in faded and p.valued and p.silence_days > p.limit_days:
                    raise AssertionError(f"{p.name}: faded past its limit and not told")


def test_batched_logging_never_writes_contact_after_now() -> None:
    from ranking import contact_sim_hawkes as hawkes

    for seed in range(3):
        for p in hawkes.world(seed, people=60, now=NOW):
            assert all(c.at <= NOW for c in p.contacts)


def test_a_wandering_pace_widens_the_spread_and_a_metronome_does_not() -> None:
    from ranking.rhythm import epoch_days, gap_stats

    metronome = epoch_days(ago(*range(5, 400, 10)), now=NOW)
    assert gap_stats(metronome).drift_var < 1e-9
    # every 12 days for a while, then every 48, and again: a pace that wanders
    days, t = [], 5.0
    for gap in [12] * 8 + [48] * 8 + [12] * 8 + [48] * 8:
        days.append(t)
        t += gap
    wandering = gap_stats(epoch_days(ago(*days), now=NOW))
    assert wandering.drift_var > 0.3
