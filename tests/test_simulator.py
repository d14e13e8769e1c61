from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from ranking.baselines import EdgeRankLike, NewsBlurLike, ReverseChronological
from ranking.simulator import (
    FLOOD_PER_DAY,
    QUICK,
    SCENARIOS,
    SCROLL_DEPTH,
    START,
    Oracle,
    build_world,
    ece,
    ndcg,
    pooled_ece,
    simulate,
)
from ranking.stories import life_event
from ranking.types import CLOSE_RELATIONSHIPS, Event, ItemInfo, PersonInfo, Ranked


def test_ndcg_by_hand() -> None:
    # DCG = 1/log2(2) + 0 + 2/log2(4) = 2; ideal = 2 + 1/log2(3)
    assert ndcg([1.0, 0.0, 2.0], 3) == pytest.approx(2.0 / (2.0 + 1.0 / math.log2(3)))
    assert ndcg([1.0, 0.0, 2.0], 1) == pytest.approx(0.5)
    assert ndcg([3.0, 2.0, 1.0], 10) == pytest.approx(1.0)
    assert ndcg([0.0, 0.0], 10) == 0.0


def test_ece_by_hand() -> None:
    # bins: [0.05] -> 0 engaged; [0.15, 0.15] -> 1 of 2; [1.0] (last bin) -> 1
    assert ece([0.05, 0.15, 0.15, 1.0], [0, 1, 0, 1]) == pytest.approx((0.05 + 0.7 + 0.0) / 4)
    assert ece([0.5, 0.5], [1, 0]) == pytest.approx(0.0)
    assert ece([0.9, 0.9], [0, 0]) == pytest.approx(0.9)
    with pytest.raises(ValueError):
        ece([], [])


def test_pooled_ece_is_the_ece_of_all_impressions() -> None:
    world = build_world("steady", seed=2, size=QUICK)
    runs = [simulate(NewsBlurLike(), world), simulate(NewsBlurLike(min_word_votes=1), world)]
    assert all(r.calibration is not None for r in runs)
    assert all(r.ece is not None for r in runs)
    pooled = pooled_ece(runs)
    assert pooled is not None
    lo, hi = sorted(r.ece or 0.0 for r in runs)
    assert lo - 1e-12 <= pooled <= hi + 1e-12
    assert pooled_ece([]) is None


def test_same_seed_same_metrics() -> None:
    first = simulate(EdgeRankLike(), build_world("steady", seed=7, size=QUICK))
    again = simulate(EdgeRankLike(), build_world("steady", seed=7, size=QUICK))
    other = simulate(EdgeRankLike(), build_world("steady", seed=8, size=QUICK))
    assert first == again
    assert first != other


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_oracle_is_the_ceiling(scenario: str) -> None:
    world = build_world(scenario, seed=1, size=QUICK)
    oracle = simulate(Oracle(world), world)
    chrono = simulate(ReverseChronological(), world, probabilities=False)
    assert oracle.sessions == QUICK.measure_days * QUICK.sessions_per_day
    assert abs(oracle.ndcg10 - 1.0) < 1e-9 and abs(oracle.ndcg20 - 1.0) < 1e-9
    assert chrono.ndcg10 < oracle.ndcg10 - 0.2
    assert chrono.ece is None and oracle.ece is not None
    if scenario == "cold_start":
        assert oracle.events_to_target == 0
    else:
        assert oracle.events_to_target is None


def test_baselines_learn() -> None:
    seeds = range(3)
    edge = [simulate(EdgeRankLike(), build_world("steady", seed=s, size=QUICK)) for s in seeds]
    chrono = [
        simulate(ReverseChronological(), build_world("steady", seed=s, size=QUICK)) for s in seeds
    ]
    assert np.mean([m.ndcg10 for m in edge]) > np.mean([m.ndcg10 for m in chrono]) + 0.05


def _item(item_id: int, person_id: int, hours_ago: float, now: datetime, **kw: Any) -> ItemInfo:
    return ItemInfo(item_id, person_id, now - timedelta(hours=hours_ago), **kw)


def test_edgerank_ranks_by_interactions() -> None:
    now = START
    items = [_item(1, 1, 1, now), _item(2, 2, 5, now)]
    people = [PersonInfo(1), PersonInfo(2)]
    ranker = EdgeRankLike()
    assert [r.item_id for r in ranker.rank(items, people, now=now)] == [1, 2]
    ranker.partial_fit([Event(9, 2, "reply", now)], items=[], people=people, now=now)
    ranked = ranker.rank(items, people, now=now)
    assert [r.item_id for r in ranked] == [2, 1]
    assert all(r.score == pytest.approx(sum(w.value for w in r.why)) for r in ranked)


def test_newsblur_trains_on_authors_tags_and_words() -> None:
    now = START
    liked = _item(1, 1, 2, now, title="Sourdough crumb shots", tags=("baking",))
    hidden = _item(2, 2, 2, now, title="Election night", tags=("politics",))
    ranker = NewsBlurLike(min_word_votes=1).partial_fit(
        [Event(1, 1, "like", now), Event(2, 2, "hide", now)],
        items=[liked, hidden],
        people=[],
        now=now,
    )
    fresh = [
        _item(3, 3, 0, now, title="Election results", tags=()),
        _item(4, 4, 1, now, title="Nothing in particular"),
        _item(5, 5, 3, now, title="More sourdough"),
        _item(6, 1, 4, now, title="Anything"),
    ]
    order = [r.item_id for r in ranker.rank(fresh, [], now=now)]
    assert order == [5, 6, 4, 3]  # liked word, liked author; neutral; disliked word


def test_flood_scenario_has_a_prolific_stranger() -> None:
    world = build_world("flood", seed=4, size=QUICK)
    assert world.flooder is not None
    span = world.days + 3.0  # items start POOL_DAYS before day 0
    per_day = np.bincount(world.item_person, minlength=QUICK.people) / span
    assert abs(per_day[world.flooder] - FLOOD_PER_DAY) < 3.0
    assert np.sort(per_day)[-2] < 7.0  # nobody else comes close
    assert world.affinity[world.flooder] <= np.quantile(world.affinity, 0.25)
    assert world.people[world.flooder].relationships == ()
    metrics = simulate(ReverseChronological(), world, probabilities=False)
    assert metrics.flood_share is not None and metrics.flood_share > 2.0
    assert (
        simulate(ReverseChronological(), build_world("steady", seed=4, size=QUICK)).flood_share
        is None
    )


def test_life_events_are_stories_and_only_they() -> None:
    for scenario in ("steady", "life_events"):
        for seed in range(3):
            world = build_world(scenario, seed=seed, size=QUICK)
            detected = np.array([life_event(i.title, i.text) is not None for i in world.items])
            assert np.array_equal(detected, world.item_life_event)
    share = np.mean(
        [build_world("steady", seed=s, size=QUICK).item_life_event.mean() for s in range(5)]
    )
    assert 0.002 < share < 0.012
    world = build_world("life_events", seed=0, size=QUICK)
    authors = world.item_person[world.item_life_event]
    assert np.mean(world.affinity[authors] < np.median(world.affinity)) > 0.7
    assert any(world.items[i].congratulations > 0 for i in np.flatnonzero(world.item_life_event))


def test_close_but_cold_people() -> None:
    world = build_world("steady", seed=5, size=QUICK)
    cold = np.flatnonzero(world.close_cold)
    assert cold.size >= 2
    posts = np.bincount(world.item_person, minlength=QUICK.people)
    warm = np.argsort(np.where(world.close_cold, -np.inf, world.affinity))[-cold.size :]
    for p in cold:
        assert set(world.people[p].relationships) & CLOSE_RELATIONSHIPS
        assert world.affinity[p] > np.quantile(world.affinity, 0.75)
    assert posts[cold].mean() < np.median(posts)
    assert sum(len(world.contacts[p]) for p in cold) < sum(len(world.contacts[p]) for p in warm)


def test_drift_permutes_the_affinities_at_the_swap() -> None:
    world = build_world("drift", seed=6, size=QUICK)
    assert world.swap_day == QUICK.warmup_days
    assert np.array_equal(np.sort(world.affinity), np.sort(world.affinity_after))
    assert not np.array_equal(world.affinity, world.affinity_after)
    before = world.affinity_on(world.swap_day - 0.1)
    assert np.array_equal(before, world.affinity)
    assert np.array_equal(world.affinity_on(world.swap_day), world.affinity_after)


@dataclass
class Recorder:
    """Newest first, and notes what the simulator hands over."""

    calls: list[tuple[datetime, Sequence[Event], Sequence[ItemInfo], Sequence[PersonInfo]]] = field(
        default_factory=list
    )

    def partial_fit(
        self,
        events: Sequence[Event],
        *,
        items: Sequence[ItemInfo],
        people: Sequence[PersonInfo],
        now: datetime,
    ) -> Recorder:
        self.calls.append((now, events, items, people))
        return self

    def rank(
        self, items: Sequence[ItemInfo], people: Sequence[PersonInfo], *, now: datetime
    ) -> list[Ranked]:
        assert all(it.published <= now for it in items)
        return ReverseChronological().rank(items, people, now=now)


def test_what_the_ranker_is_given() -> None:
    world = build_world("steady", seed=3, size=QUICK)
    recorder = Recorder()
    simulate(recorder, world, probabilities=False)
    assert len(recorder.calls) == world.days * QUICK.sessions_per_day
    contacts = []
    for now, events, items, people in recorder.calls:
        assert {e.item_id for e in events} == {it.item_id for it in items}
        assert all(c.at <= now for p in people for c in p.contacts)
        seen = [e for e in events if e.action == "seen"]
        assert seen and all(e.rank is not None and 1 <= e.rank <= SCROLL_DEPTH for e in seen)
        assert all(e.rank is None for e in events if e.action != "seen")
        contacts.append(sum(len(p.contacts) for p in people))
    assert contacts[-1] > contacts[0]
    actions = {e.action for _, events, _, _ in recorder.calls for e in events}
    assert {"seen", "open", "like", "hide"} <= actions


class Dropper(ReverseChronological):
    def rank(
        self, items: Sequence[ItemInfo], people: Sequence[PersonInfo], *, now: datetime
    ) -> list[Ranked]:
        return super().rank(items, people, now=now)[:-1]


def test_a_ranker_must_rank_every_candidate() -> None:
    with pytest.raises(ValueError, match="every candidate"):
        simulate(Dropper(), build_world("steady", seed=0, size=QUICK))
