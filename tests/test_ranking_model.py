"""The ranker on its own (pure, deterministic): feedback, weights and rules move items as
they should, every score is the sum of its reasons, and a stored model that no longer
fits is refused rather than trusted."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from ranking.model import Ranker, examination
from ranking.persist import SCHEMA_VERSION, dumps, library_version, loads
from ranking.types import Contact, Event, ItemInfo, PersonInfo

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
NAMES = ("Ann", "Bo", "Cy", "Di", "Ed")


def world(per_person: int = 4) -> tuple[list[ItemInfo], list[PersonInfo]]:
    people = [PersonInfo(person_id=k + 1, name=n) for k, n in enumerate(NAMES)]
    items = [
        ItemInfo(
            item_id=100 * (k + 1) + i,
            person_id=k + 1,
            published=NOW - timedelta(hours=1 + i * len(NAMES) + k),
            title=f"{NAMES[k]} writes about topic {i}",
            text="plain words",
        )
        for k in range(len(NAMES))
        for i in range(per_person)
    ]
    return items, people


def order(ranker: Ranker, items: list[ItemInfo], people: list[PersonInfo]) -> list[int]:
    return [r.person_id or 0 for r in ranker.rank(items, people, now=NOW)]


def first(ranked_people: list[int], person: int) -> int:
    return ranked_people.index(person)


def test_every_score_is_the_sum_of_its_reasons() -> None:
    items, people = world()
    ranker = Ranker()
    ranked = ranker.rank(items, people, now=NOW)
    assert len(ranked) == len(items)
    for r in ranked:
        assert r.score == pytest.approx(sum(w.value for w in r.why))
        assert 0 < r.probability < 1
    assert any(w.text.startswith("2nd item from") for r in ranked for w in r.why)


def test_more_on_a_person_moves_their_next_item_up() -> None:
    items, people = world()
    ranker = Ranker()
    before = order(ranker, items, people)
    last = max(range(1, 6), key=lambda p: first(before, p))
    item = next(i for i in items if i.person_id == last)
    ranker.partial_fit(
        [Event(item.item_id, last, "more", NOW)], items=items, people=people, now=NOW
    )
    after = order(ranker, items, people)
    assert first(after, last) < first(before, last)


def test_less_pushes_down_then_fades() -> None:
    items, people = world()
    ranker = Ranker()
    top = ranker.rank(items, people, now=NOW)[0]
    assert top.person_id is not None
    ranker.partial_fit(
        [Event(top.item_id, top.person_id, "less", NOW)], items=items, people=people, now=NOW
    )
    assert first(order(ranker, items, people), top.person_id) > 0
    person = people[top.person_id - 1]
    fresh = ranker.weight(person, now=NOW).recent
    later = ranker.weight(person, now=NOW + timedelta(days=35)).recent
    assert fresh == pytest.approx(-1.5, abs=0.01) and later == 0.0


def test_the_manual_weight_is_an_exact_offset_in_why() -> None:
    items, people = world()
    ranker = Ranker()
    base = {r.item_id: r.score for r in ranker.rank(items, people, now=NOW)}
    people[2] = PersonInfo(person_id=3, name="Cy", manual_weight=-1.25)
    ranked = ranker.rank(items, people, now=NOW)
    for r in ranked:
        manual = [w for w in r.why if w.code == "manual"]
        if r.person_id == 3:
            assert [(w.text, w.value) for w in manual] == [("you set: listen less to Cy", -1.25)]
            assert r.score == pytest.approx(base[r.item_id] - 1.25)
        else:
            assert manual == []


def test_pinned_lead_and_muted_never_appear() -> None:
    items, people = world()
    people[4] = PersonInfo(person_id=5, name="Ed", pinned=True)
    people[0] = PersonInfo(person_id=1, name="Ann", muted=True)
    ranked = order(Ranker(), items, people)
    assert ranked[:4] == [5, 5, 5, 5]
    assert 1 not in ranked and len(ranked) == 16


def test_a_flood_does_not_bury_quiet_people() -> None:
    people = [PersonInfo(person_id=1, name="Flood")] + [
        PersonInfo(person_id=k, name=f"Quiet {k}") for k in range(2, 8)
    ]
    items = [
        ItemInfo(item_id=i, person_id=1, published=NOW - timedelta(minutes=10 * i))
        for i in range(40)
    ] + [
        ItemInfo(item_id=1000 + k, person_id=k, published=NOW - timedelta(hours=8))
        for k in range(2, 8)
    ]
    top10 = order(Ranker(), items, people)[:10]
    assert top10.count(1) <= 4
    assert set(range(2, 8)) <= set(top10)


def test_an_exploration_slot_goes_to_someone_barely_seen() -> None:
    items, people = world(per_person=6)
    newcomer = PersonInfo(person_id=9, name="New")
    late = ItemInfo(item_id=999, person_id=9, published=NOW - timedelta(days=20))
    ranker = Ranker()
    events = [Event(i.item_id, i.person_id, "seen", NOW, rank=1) for i in items]
    ranker.partial_fit(events, items=items, people=people, now=NOW)
    ranked = ranker.rank([*items, late], [*people, newcomer], now=NOW)
    position = [r.item_id for r in ranked].index(999)
    assert position == ranker.explore_every - 1
    assert any(w.code == "explore" and "New" in w.text for w in ranked[position].why)
    # without the slot it would sit far lower
    plain = ranker.arrange(
        [ranker.score(i, None, now=NOW) for i in [*items, late]], {}, explore=False
    )
    assert [r.item_id for r in plain].index(999) > position


def test_a_life_event_from_a_cold_close_person_breaks_through() -> None:
    items, people = world()
    ranker = Ranker()
    favourite = items[0]
    events = [
        Event(i.item_id, i.person_id, a, NOW - timedelta(days=1), rank=1)
        for i in items
        if i.person_id == favourite.person_id
        for a in ("seen", "open", "like")
    ]
    ranker.partial_fit(events, items=items, people=people, now=NOW)
    sister = PersonInfo(person_id=42, name="Sis", relationships=("family",))
    wedding = ItemInfo(
        item_id=4242, person_id=42, published=NOW - timedelta(days=2), title="We got married!"
    )
    ranked = ranker.rank([*items, wedding], [*people, sister], now=NOW)
    assert ranked[0].item_id == 4242
    texts = [w.text for w in ranked[0].why]
    assert (
        "looks like a life event (wedding)" in texts
        and "big news from someone close to you" in texts
    )


def test_clicks_count_against_the_chance_of_being_looked_at() -> None:
    assert examination(1) == 1.0 and examination(3) == pytest.approx(0.5)
    items, people = world()
    ranker = Ranker()
    ann = [i for i in items if i.person_id == 1]
    bo = [i for i in items if i.person_id == 2]
    events = [Event(i.item_id, 1, "seen", NOW, rank=1) for i in ann]
    events += [Event(i.item_id, 2, "seen", NOW, rank=30) for i in bo]
    ranker.partial_fit(events, items=items, people=people, now=NOW)
    # ignoring what was surely looked at says more than ignoring what was likely not
    assert ranker.weight(people[0], now=NOW).learned < ranker.weight(people[1], now=NOW).learned


def test_relationship_prior_before_any_feedback() -> None:
    ranker = Ranker()
    talkative = PersonInfo(
        person_id=1,
        name="Pal",
        contacts=tuple(Contact(NOW - timedelta(days=d), "out", "reply") for d in range(1, 30, 3))
        + tuple(Contact(NOW - timedelta(days=d), "in", "mention") for d in range(2, 30, 5)),
    )
    stranger = PersonInfo(person_id=2, name="Stranger")
    assert ranker.weight(talkative, now=NOW).learned > 1.0
    assert ranker.weight(stranger, now=NOW).learned == 0.0


def test_stored_keys_keep_their_order_as_time_passes() -> None:
    items, people = world()
    ranker = Ranker()
    published = {i.item_id: i.published for i in items}
    ranked = ranker.rank(items, people, now=NOW)
    keys = [ranker.storage_key(r, published=published[r.item_id], now=NOW) for r in ranked]
    assert keys == sorted(keys, reverse=True)
    later = NOW + timedelta(days=3)
    for r, key in zip(ranked, keys, strict=True):
        shown = ranker.display_score(key, pinned=r.pinned, now=later)
        age = ranker.age_reason(published[r.item_id], now=later).value
        assert shown == pytest.approx(sum(w.value for w in r.why if w.code != "age") + age)


def test_fit_is_deterministic_and_persists_with_its_versions() -> None:
    items, people = world()
    events = [
        Event(i.item_id, i.person_id, a, NOW - timedelta(hours=k), rank=k + 1)
        for k, i in enumerate(items)
        for a in (("seen", "open") if i.person_id in (1, 3) else ("seen",))
    ]
    one = Ranker().fit(events, items=items, people=people, now=NOW)
    two = Ranker().fit(events, items=items, people=people, now=NOW)
    scores = [r.score for r in one.rank(items, people, now=NOW)]
    assert scores == [r.score for r in two.rank(items, people, now=NOW)]
    payload = dumps(one)
    back = loads(payload, schema_version=SCHEMA_VERSION, library=library_version())
    assert back is not None
    assert [r.score for r in back.rank(items, people, now=NOW)] == scores
    assert loads(payload, schema_version=SCHEMA_VERSION - 1, library=library_version()) is None
    assert loads(payload, schema_version=SCHEMA_VERSION, library="scikit-learn 0.1") is None
    assert loads(b"junk", schema_version=SCHEMA_VERSION, library=library_version()) is None
    assert all(math.isfinite(s) for s in scores)
