"""The simulated worlds: people, contacts, posts and the hidden truth of one reader.

Two ways to get one. :func:`build_world` makes the five classic scenarios (the
simulator's own assumptions, kept bit for bit). :func:`family_world` first draws a
:class:`Spec` from a space of generative assumptions (how the reader clicks, what
their taste is made of, heavy posters they love or ignore, people whose value rises or
falls mid-run, how far down a page they look, how much feedback a round gives), then
builds a world from it: the point is to find the worlds where a ranker loses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ranking.sim_text import START, TOPICS, _at, _items
from ranking.types import Contact, ItemInfo, PersonInfo

DAY = 86400.0
SCENARIOS = ("steady", "cold_start", "drift", "flood", "life_events")
FAMILY = "family"

# hidden truth (log-odds)
LIFE_EVENT_BONUS = 3.0
MENTION_BONUS = 1.5
AGE_PER_DAY = 0.2  # a mild preference for fresh posts

# the world
HISTORY_DAYS = 365.0  # contacts before the start
LIFE_EVENTS_PER_PERSON_DAY = 0.0025  # about 0.5% of items
LIFE_EVENTS_LOW_PER_DAY = 0.01  # life_events scenario: people below the median affinity
LIFE_EVENTS_HIGH_PER_DAY = 0.001  # ... and the others
FLOOD_PER_DAY = 20.0
LOVED_FLOOD_PER_DAY = 8.0
CLOSE_COLD_SHARE = 0.05
CONTACTS_PER_DAY = 0.03  # at affinity 0, times the person's chattiness
CONTACT_SLOPE = 0.6  # log contact rate per unit of affinity
CHATTINESS_SIGMA = 1.0
CLOSE_COLD_CONTACTS_PER_DAY = 1.0 / 90.0
POOL_DAYS = 3.0
CONTACT_KINDS = ("reply", "mention", "favourite", "boost")
SOURCE_KINDS = ("feed", "mastodon", "comments")
SOURCE_KIND_P = (0.5, 0.4, 0.1)

# the space of assumptions a family world is drawn from
READERS = ("balanced", "rare_clicker", "liker", "opener")
READER_SHIFT = {"balanced": 0.0, "rare_clicker": -1.5, "liker": -0.3, "opener": 1.0}
TASTES = {"mixed": (1.0, 1.0), "affinity": (1.6, 0.35), "topic": (0.45, 2.2)}
FLOODS = ("none", "ignored", "loved")
SHIFTS = ("none", "rise", "fall", "both")
EXAMS = ("pbm_log", "pbm_steep", "pbm_flat", "cascade", "whole_page")
DEPTHS = (10, 25, 40)
SESSIONS_PER_DAY = (1, 2, 4)
TRUE_AGE = (0.05, 0.2, 0.6, 1.2)
LIFE_BONUS = (1.5, 3.0, 4.5)
SHIFT_SHARE = 0.2  # of people whose value moves mid-run
SHIFT_BY = 2.5  # log-odds


@dataclass(frozen=True, slots=True)
class Size:
    """How big a world is and how long it runs (the warm-up is skipped by cold start)."""

    people: int = 150
    warmup_days: int = 30
    measure_days: int = 30
    sessions_per_day: int = 2


FULL = Size()
QUICK = Size(people=60, warmup_days=8, measure_days=6)


@dataclass(frozen=True, slots=True)
class Spec:
    """The generative assumptions of one world; the defaults are the classic simulator's."""

    reader: str = "balanced"  # READERS: how feedback shows (a liker likes, never opens)
    taste: str = "mixed"  # TASTES: affinity- or topic-dominated, or both
    flood: str = "none"  # FLOODS: a heavy poster the reader ignores or loves
    shift: str = "none"  # SHIFTS: some people's value rises/falls mid-run
    exam: str = "pbm_log"  # EXAMS: the examination model
    depth: int = 25  # items scrolled past per session
    sessions_per_day: int = 2
    age_per_day: float = AGE_PER_DAY  # the reader's own taste for fresh posts
    life_bonus: float = LIFE_EVENT_BONUS

    def label(self) -> str:
        return (
            f"{self.reader}/{self.taste}/flood:{self.flood}/shift:{self.shift}/{self.exam}"
            f"/d{self.depth}x{self.sessions_per_day}/age{self.age_per_day}/le{self.life_bonus}"
        )


def draw_spec(seed: int) -> Spec:
    """A world's assumptions, drawn uniformly from the space (deterministic in ``seed``)."""
    rng = np.random.default_rng([seed, 3])

    def pick(options: tuple[object, ...]) -> object:
        return options[int(rng.integers(0, len(options)))]

    return Spec(
        reader=str(pick(READERS)),
        taste=str(pick(tuple(TASTES))),
        flood=str(pick(FLOODS)),
        shift=str(pick(SHIFTS)),
        exam=str(pick(EXAMS)),
        depth=int(pick(DEPTHS)),  # type: ignore[call-overload]
        sessions_per_day=int(pick(SESSIONS_PER_DAY)),  # type: ignore[call-overload]
        age_per_day=float(pick(TRUE_AGE)),  # type: ignore[arg-type]
        life_bonus=float(pick(LIFE_BONUS)),  # type: ignore[arg-type]
    )


@dataclass(frozen=True, eq=False)
class World:
    """One generated reader's world. Arrays are indexed by ``id - 1``; the hidden truth
    (``affinity``, ``preference``, ``item_topic``, ``item_bonus``) is for the simulator and
    the oracle only."""

    scenario: str
    seed: int
    size: Size
    items: tuple[ItemInfo, ...]  # by publication time, item_id = index + 1
    people: tuple[PersonInfo, ...]  # without contacts, person_id = index + 1
    contacts: tuple[tuple[Contact, ...], ...]  # per person, oldest first
    contact_day: NDArray[np.float64]  # every contact, days since START, ascending
    contact_person: NDArray[np.int64]  # index of the person for each of contact_day
    item_day: NDArray[np.float64]  # days since START, ascending
    item_person: NDArray[np.int64]
    item_topic: NDArray[np.int64]  # len(TOPICS) for life events (no topic)
    item_bonus: NDArray[np.float64]
    item_life_event: NDArray[np.bool_]
    affinity: NDArray[np.float64]
    affinity_after: NDArray[np.float64]  # from swap_day on (drift); else == affinity
    swap_day: float | None
    preference: NDArray[np.float64]  # per topic, 0 for life events
    close_cold: NDArray[np.bool_]  # per person
    flooder: int | None  # person index
    days: int  # sessions run over days [0, days)
    measure_from: float  # day
    spec: Spec = field(default_factory=Spec)

    def affinity_on(self, day: float) -> NDArray[np.float64]:
        """The hidden affinities in force on ``day``."""
        if self.swap_day is not None and day >= self.swap_day:
            return self.affinity_after
        return self.affinity

    def true_logit(self, index: NDArray[np.int64], day: float) -> NDArray[np.float64]:
        """Hidden log-odds of engagement for the items at ``index``, examined on ``day``."""
        age = np.maximum(day - self.item_day[index], 0.0)
        return (
            self.affinity_on(day)[self.item_person[index]]
            + self.preference[self.item_topic[index]]
            + self.item_bonus[index]
            - self.spec.age_per_day * age
        )

    def true_probability(self, item_ids: ArrayLike, now: datetime) -> NDArray[np.float64]:
        """Hidden P(engage | examined) for ``item_ids`` at ``now``."""
        index = np.asarray(item_ids, dtype=np.int64) - 1
        return _sigmoid(self.true_logit(index, _day(now)))


def family_world(seed: int, *, size: Size = QUICK, rounds: int | None = None) -> World:
    """A world drawn from the family: its :class:`Spec` first (from ``seed``), then the
    world. ``rounds`` (sessions) sets the length: a third warm-up, two thirds measured
    (cold start is measured from the first session either way)."""
    spec = draw_spec(seed)
    if rounds is not None:
        days = max(3, math.ceil(rounds / spec.sessions_per_day))
        warmup = days // 3
        size = Size(size.people, warmup, days - warmup, spec.sessions_per_day)
    else:
        size = Size(size.people, size.warmup_days, size.measure_days, spec.sessions_per_day)
    return build_world(FAMILY, seed=seed, size=size, spec=spec)


def build_world(scenario: str, *, seed: int, size: Size = FULL, spec: Spec | None = None) -> World:
    """Generate the people, contacts and items of ``scenario`` (deterministic in ``seed``);
    ``scenario="family"`` with a ``spec`` follows its assumptions instead."""
    if scenario not in SCENARIOS and not (scenario == FAMILY and spec is not None):
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    rng = np.random.default_rng(seed)
    extra = np.random.default_rng([seed, 4])  # the family's own draws: classic worlds unmoved
    n = size.people
    n_topics = len(TOPICS)
    warmup = 0 if scenario == "cold_start" else size.warmup_days
    days = warmup + size.measure_days

    # people: heavy-tailed affinity and posting rates, a few close-but-cold
    affinity = np.minimum(-3.5 + rng.lognormal(0.1, 0.75, n), 3.0)
    rate = np.clip(rng.lognormal(math.log(0.25), 1.2, n), 0.01, 6.0)
    chattiness = rng.lognormal(0.0, CHATTINESS_SIGMA, n)
    mix = rng.dirichlet(np.full(n_topics, 0.3), n)
    kinds = rng.choice(len(SOURCE_KINDS), size=n, p=SOURCE_KIND_P)
    close_cold = np.zeros(n, dtype=np.bool_)
    cold = rng.choice(n, max(2, round(CLOSE_COLD_SHARE * n)), replace=False)
    close_cold[cold] = True
    affinity[cold] = rng.uniform(0.5, 2.0, cold.size)
    rate[cold] = rng.uniform(0.05, 0.15, cold.size)
    preference = np.append(rng.normal(0.0, 1.0, n_topics), 0.0)
    if spec is not None:
        a_scale, p_scale = TASTES[spec.taste]
        centre = float(np.median(affinity))
        shift = READER_SHIFT[spec.reader]
        affinity = np.minimum(centre + a_scale * (affinity - centre) + shift, 4.0)
        preference = preference * p_scale
    people = _relationships(rng, affinity, close_cold)

    flooder: int | None = None
    flood = spec.flood if spec is not None else ("ignored" if scenario == "flood" else "none")
    if flood == "ignored":
        strangers = np.array([not p.relationships for p in people])
        candidates = np.flatnonzero((affinity <= np.quantile(affinity, 0.25)) & strangers)
        flooder = int(rng.choice(candidates)) if candidates.size else int(np.argmin(affinity))
        rate[flooder] = FLOOD_PER_DAY
    elif flood == "loved":
        warm = np.where(close_cold, -np.inf, affinity)
        flooder = int(np.argmax(warm))
        affinity[flooder] = max(float(affinity[flooder]), 1.5)
        rate[flooder] = LOVED_FLOOD_PER_DAY
    life_rate = np.full(n, LIFE_EVENTS_PER_PERSON_DAY)
    if scenario == "life_events":
        low = (affinity < np.median(affinity)) & ~close_cold
        life_rate = np.where(low, LIFE_EVENTS_LOW_PER_DAY, LIFE_EVENTS_HIGH_PER_DAY)
    elif spec is not None:
        life_rate = np.full(n, 2 * LIFE_EVENTS_PER_PERSON_DAY)

    swap_day: float | None = None
    affinity_after = affinity
    if scenario == "drift":
        swap_day = float(warmup)
        affinity_after = affinity[rng.permutation(n)]
    elif spec is not None and spec.shift != "none":
        swap_day = float(days) / 2.0
        moved = extra.random(n) < SHIFT_SHARE
        if flooder is not None:
            moved[flooder] = False
        sign = {"rise": 1.0, "fall": -1.0}.get(spec.shift)
        signs = np.full(n, sign) if sign is not None else np.where(extra.random(n) < 0.5, 1.0, -1.0)
        affinity_after = np.minimum(affinity + SHIFT_BY * signs * moved, 4.0)

    # contacts either way, at a rate growing with the affinity in force
    contact_rate = _contact_rate(affinity, chattiness, close_cold)
    history_end = days if swap_day is None else swap_day
    c_day, c_person = _poisson_times(rng, contact_rate, -HISTORY_DAYS, history_end)
    if swap_day is not None:
        after_rate = _contact_rate(affinity_after, chattiness, close_cold)
        d2, p2 = _poisson_times(rng, after_rate, swap_day, days)
        c_day, c_person = np.concatenate([c_day, d2]), np.concatenate([c_person, p2])
    order = np.argsort(c_day, kind="stable")
    c_day, c_person = c_day[order], c_person[order]
    c_dir = rng.random(c_day.size) < 0.5
    c_kind = rng.integers(0, len(CONTACT_KINDS), c_day.size)
    per_person: list[list[Contact]] = [[] for _ in range(n)]
    for d, p, inward, kind in zip(c_day, c_person, c_dir, c_kind, strict=True):
        per_person[p].append(
            Contact(at=_at(d), direction="in" if inward else "out", kind=CONTACT_KINDS[kind])
        )

    # items: posts at each person's rate, plus life events
    post_day, post_person = _poisson_times(rng, rate, -POOL_DAYS, days)
    life_day, life_person = _poisson_times(rng, life_rate, -POOL_DAYS, days)
    item_day = np.concatenate([post_day, life_day])
    item_person = np.concatenate([post_person, life_person])
    is_life = np.concatenate([np.zeros(post_day.size, np.bool_), np.ones(life_day.size, np.bool_)])
    order = np.argsort(item_day, kind="stable")
    item_day, item_person, is_life = item_day[order], item_person[order], is_life[order]
    n_items = item_day.size
    cum = np.cumsum(mix, axis=1)[item_person]
    topic = np.minimum((cum < rng.random((n_items, 1))).sum(axis=1), n_topics - 1)
    topic = np.where(is_life, n_topics, topic)
    mentions = rng.random(n_items) < 0.01 + 0.05 * _sigmoid(affinity[item_person])
    life_bonus = spec.life_bonus if spec is not None else LIFE_EVENT_BONUS
    bonus = life_bonus * is_life + MENTION_BONUS * mentions
    items = _items(rng, item_day, item_person, topic, is_life, mentions, kinds)

    return World(
        scenario=scenario,
        seed=seed,
        size=size,
        items=items,
        people=people,
        contacts=tuple(tuple(c) for c in per_person),
        contact_day=c_day,
        contact_person=c_person,
        item_day=item_day,
        item_person=item_person,
        item_topic=topic.astype(np.int64),
        item_bonus=bonus.astype(np.float64),
        item_life_event=is_life,
        affinity=affinity,
        affinity_after=affinity_after,
        swap_day=swap_day,
        preference=preference,
        close_cold=close_cold,
        flooder=flooder,
        days=days,
        measure_from=float(warmup),
        spec=spec or Spec(),
    )


def _relationships(
    rng: np.random.Generator, affinity: NDArray[np.float64], close_cold: NDArray[np.bool_]
) -> tuple[PersonInfo, ...]:
    """Relationships correlated with affinity (noisy: some friends you never read)."""
    n = affinity.size
    u = rng.random((n, 4))
    close = (u[:, 0] < 0.04 + 0.8 * _sigmoid(2.0 * affinity)) | close_cold
    colleague = u[:, 2] < 0.05 + 0.1 * _sigmoid(affinity)
    mutual = u[:, 3] < _sigmoid(affinity + 1.0)
    warm = np.where(close_cold, -np.inf, affinity)
    partner = int(np.argmax(warm)) if rng.random() < 0.5 else -1
    people = []
    for i in range(n):
        rels: list[str] = []
        if i == partner:
            rels.append("partner")
        elif close[i]:
            rels.append("family" if u[i, 1] < 0.3 else "friend")
        if colleague[i]:
            rels.append("colleague")
        people.append(
            PersonInfo(
                person_id=i + 1,
                name=f"Person {i + 1}",
                relationships=tuple(rels),
                mutual_follow=bool(mutual[i]),
            )
        )
    return tuple(people)


def _contact_rate(
    affinity: NDArray[np.float64], chattiness: NDArray[np.float64], close_cold: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """Contacts per day either way: more with affinity, noisy, rare for close-but-cold."""
    rate = CONTACTS_PER_DAY * np.exp(CONTACT_SLOPE * affinity) * chattiness
    return np.where(close_cold, CLOSE_COLD_CONTACTS_PER_DAY, rate)


def _poisson_times(
    rng: np.random.Generator, rate: NDArray[np.float64], start: float, end: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Event times (days) in [start, end) for each person at ``rate`` per day, and whose."""
    counts = rng.poisson(rate * max(end - start, 0.0))
    who = np.repeat(np.arange(rate.size, dtype=np.int64), counts)
    return rng.uniform(start, end, who.size), who


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-x))


def _day(at: datetime) -> float:
    return (at - START).total_seconds() / DAY
