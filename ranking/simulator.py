"""An offline simulator of one reader, to measure rankers without real users.

A seeded world (people, their contacts and posts) and a hidden truth: the reader engages
with an examined item with probability ``sigmoid(affinity[person] + preference[topic] +
bonuses - age)``. Each session the ranker orders the fresh pool, the reader scrolls with
position-biased examination and gives feedback, and the ranker learns from it. Rankers
see only events, contacts, relationships and item text/tags, never the truth.

    world = build_world("steady", seed=1, size=QUICK)
    metrics = simulate(EdgeRankLike(), world)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ranking.types import Contact, Event, ItemInfo, PersonInfo, Ranked, RankerLike, Reason

START = datetime(2026, 1, 1, tzinfo=UTC)
DAY = 86400.0
SCENARIOS = ("steady", "cold_start", "drift", "flood", "life_events")

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
CLOSE_COLD_SHARE = 0.05
CONTACTS_PER_DAY = 0.03  # at affinity 0, times the person's chattiness
CONTACT_SLOPE = 0.6  # log contact rate per unit of affinity
CHATTINESS_SIGMA = 1.0
CLOSE_COLD_CONTACTS_PER_DAY = 1.0 / 90.0

# the reader
POOL_DAYS = 3.0
FRESH_DAYS = 1.0
SCROLL_DEPTH = 25
LIKE_RATE = 0.3  # of opens
REPLY_RATE = 0.1  # of opens
HIDE_BELOW = 0.1  # true probability under which an examined item may be hidden
HIDE_RATE = 0.1
MORE_ABOVE = 0.5  # true affinity above which an open may bring "more"
MORE_RATE = 0.05
LESS_BELOW = -2.5  # true affinity under which a skip may bring "less"
LESS_RATE = 0.02

# metrics
COLD_START_TARGET = 0.6
ROLLING_SESSIONS = 4
CALIBRATION_BINS = 10
_READER_STREAM = 1

TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tech": (("python", "rust", "compiler", "kernel", "database", "server", "linux",
              "terminal", "editor", "git", "release", "api", "container", "debugging",
              "latency", "cache", "benchmark", "refactor", "parser", "framework", "deploy",
              "script", "laptop", "keyboard"),
             ("tech", "programming", "opensource", "software")),
    "cooking": (("recipe", "sourdough", "bread", "soup", "curry", "pasta", "oven", "spices",
                 "garlic", "baking", "dinner", "kitchen", "fermentation", "noodles", "salad",
                 "roast", "dumplings", "cheese", "pastry", "stew", "lentils", "chili",
                 "brunch", "pickles"),
                ("food", "cooking", "recipes", "baking")),
    "music": (("album", "guitar", "synth", "concert", "vinyl", "playlist", "drums", "chords",
               "melody", "jazz", "band", "festival", "record", "mixing", "bass", "piano",
               "lyrics", "remix", "tour", "gig", "choir", "violin", "headphones", "setlist"),
              ("music", "nowplaying", "vinyl", "livemusic")),
    "politics": (("election", "parliament", "policy", "vote", "campaign", "budget", "council",
                  "housing", "union", "protest", "minister", "referendum", "tax", "reform",
                  "candidate", "debate", "coalition", "transit", "zoning", "senate", "ballot",
                  "mayor", "strike", "manifesto"),
                 ("politics", "policy", "elections", "local")),
    "sports": (("marathon", "football", "cycling", "climbing", "race", "training", "match",
                "league", "goal", "running", "swim", "tennis", "coach", "season", "trail",
                "bouldering", "stadium", "playoffs", "rowing", "pace", "sprint", "ride",
                "team", "derby"),
               ("sports", "running", "cycling", "football")),
    "travel": (("train", "flight", "hostel", "itinerary", "passport", "island", "mountains",
                "coast", "airport", "roadtrip", "camping", "ferry", "hiking", "border",
                "museum", "village", "backpack", "luggage", "tram", "journey", "cabin",
                "beach", "sunrise", "map"),
               ("travel", "trains", "hiking", "outdoors")),
    "photography": (("lens", "camera", "film", "exposure", "aperture", "portrait",
                     "landscape", "darkroom", "prints", "shutter", "tripod", "zoom",
                     "polaroid", "negatives", "bokeh", "lightroom", "streets", "monochrome",
                     "flash", "sensor", "grain", "frames", "composition", "slides"),
                    ("photography", "filmphotography", "35mm", "photo")),
    "science": (("physics", "telescope", "galaxy", "experiment", "paper", "dataset", "genome",
                 "neurons", "quantum", "fossils", "microscope", "chemistry", "evolution",
                 "orbit", "hypothesis", "statistics", "lab", "particles", "asteroid",
                 "proteins", "bacteria", "volcano", "equation", "preprint"),
                ("science", "astronomy", "biology", "research")),
    "books": (("novel", "poetry", "reading", "bookshop", "chapter", "fiction", "essay",
               "memoir", "publisher", "translation", "paperback", "review", "manuscript",
               "bookclub", "fantasy", "poems", "anthology", "writing", "draft", "characters",
               "prose", "zine", "shelf", "sequel"),
              ("books", "reading", "amreading", "writing")),
    "gardening": (("allotment", "seedlings", "compost", "pruning", "roses", "greenhouse",
                   "beans", "soil", "mulch", "weeds", "harvest", "orchard", "bulbs",
                   "hedgehog", "pollinators", "perennials", "herbs", "watering", "shed",
                   "potatoes", "lawn", "blossom", "squash", "courgettes"),
                  ("gardening", "garden", "allotment", "plants")),
}  # fmt: skip
FILLERS = ("notes", "thoughts", "week", "update", "quick", "today", "weekend", "part",
           "some", "about", "my", "on", "the", "a", "finally", "again", "first", "look",
           "trying", "small", "little", "why", "how", "more")  # fmt: skip
LIFE_TITLES = ("We got married!", "Our wedding, at last", "She said yes!", "We're engaged",
               "Starting a new job at {company}", "Some news: I'm joining {company}",
               "Got promoted today", "Moving to {city}", "We moved to {city}",
               "Our new home", "Our baby was born", "We welcomed our son on Sunday",
               "We're expecting!", "I graduated!", "Defended my PhD today",
               "Dad passed away", "In memoriam: my grandmother",
               "Retiring after {years} years", "Back home after surgery")  # fmt: skip
LIFE_WORDS = ("family", "friends", "grateful", "news", "thank", "everyone", "love", "kind",
              "words", "heart", "together", "years", "life", "home", "big", "day")  # fmt: skip
COMPANIES = ("Acme", "Lighthouse Labs", "Northwind", "Globex", "the city library")
CITIES = ("Berlin", "Lisbon", "Bergen", "Montreal", "Osaka", "Leeds")
SOURCE_KINDS = ("feed", "mastodon", "comments")
SOURCE_KIND_P = (0.5, 0.4, 0.1)
LINK_P = {"feed": 0.9, "mastodon": 0.3, "comments": 0.2}
CONTACT_KINDS = ("reply", "mention", "favourite", "boost")


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
class Bin:
    """One calibration bin: impressions, their summed probability and engagements."""

    count: int
    sum_p: float
    sum_y: float


@dataclass(frozen=True, slots=True)
class Metrics:
    """One run's figures; ``None`` where a figure does not apply or had nothing to count."""

    scenario: str
    seed: int
    sessions: int  # measured sessions
    feedback_events: int  # non-``seen`` events over the whole run
    ndcg10: float
    ndcg20: float
    # cold start: feedback events given before the first run of ROLLING_SESSIONS sessions
    # whose mean NDCG@10 reaches COLD_START_TARGET (None: never within the run)
    events_to_target: int | None
    ece: float | None
    calibration: tuple[Bin, ...] | None  # what the ECE was computed from
    close_cold_coverage: float | None
    life_event_recall: float | None
    flood_share: float | None


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
            - AGE_PER_DAY * age
        )

    def true_probability(self, item_ids: ArrayLike, now: datetime) -> NDArray[np.float64]:
        """Hidden P(engage | examined) for ``item_ids`` at ``now``."""
        index = np.asarray(item_ids, dtype=np.int64) - 1
        return _sigmoid(self.true_logit(index, _day(now)))


class Oracle:
    """Ranks by the hidden truth: the ceiling, and the noise floor of calibration."""

    def __init__(self, world: World) -> None:
        self.world = world

    def partial_fit(
        self,
        events: Sequence[Event],
        *,
        items: Sequence[ItemInfo],
        people: Sequence[PersonInfo],
        now: datetime,
    ) -> Oracle:
        return self

    def rank(
        self, items: Sequence[ItemInfo], people: Sequence[PersonInfo], *, now: datetime
    ) -> list[Ranked]:
        index = np.array([it.item_id - 1 for it in items], dtype=np.int64)
        logit = self.world.true_logit(index, _day(now))
        order = np.argsort(-logit, kind="stable")
        prob = _sigmoid(logit)
        return [
            Ranked(
                item_id=items[j].item_id,
                person_id=items[j].person_id,
                score=float(logit[j]),
                probability=float(prob[j]),
                why=(Reason("oracle", "the hidden truth", float(logit[j])),),
            )
            for j in order
        ]


def ndcg(gains: ArrayLike, k: int) -> float:
    """NDCG@k of ``gains`` listed in ranked order, against the same gains sorted (0.0 when
    every gain is 0)."""
    g = np.asarray(gains, dtype=np.float64)
    top = min(k, g.size)
    discounts = 1.0 / np.log2(np.arange(2, top + 2))
    ideal = float(np.sort(g)[::-1][:top] @ discounts)
    return float(g[:top] @ discounts) / ideal if ideal > 0 else 0.0


def calibration(
    probabilities: ArrayLike, outcomes: ArrayLike, bins: int = CALIBRATION_BINS
) -> tuple[Bin, ...]:
    """Impressions, summed probability and summed outcome per equal-width bin of [0, 1]."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(outcomes, dtype=np.float64)
    if p.shape != y.shape:
        raise ValueError("calibration needs as many outcomes as probabilities")
    b = np.clip((p * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(b, minlength=bins)
    sum_p = np.bincount(b, weights=p, minlength=bins)
    sum_y = np.bincount(b, weights=y, minlength=bins)
    return tuple(
        Bin(int(c), float(sp), float(sy)) for c, sp, sy in zip(counts, sum_p, sum_y, strict=True)
    )


def ece(probabilities: ArrayLike, outcomes: ArrayLike, bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error over ``bins`` equal-width bins of [0, 1]."""
    found = ece_of(calibration(probabilities, outcomes, bins))
    if found is None:
        raise ValueError("ece needs at least one probability")
    return found


def ece_of(bins: Iterable[Bin]) -> float | None:
    """ECE from calibration bins (None when they hold no impression)."""
    listed = list(bins)
    total = sum(b.count for b in listed)
    return sum(abs(b.sum_p - b.sum_y) for b in listed) / total if total else None


def pooled_ece(runs: Iterable[Metrics]) -> float | None:
    """ECE over the impressions of several runs in one set of bins: less inflated by
    sampling noise than the mean of per-run ECEs."""
    per_run = [r.calibration for r in runs if r.calibration is not None]
    if not per_run:
        return None
    return ece_of(
        Bin(sum(b.count for b in col), sum(b.sum_p for b in col), sum(b.sum_y for b in col))
        for col in zip(*per_run, strict=True)
    )


def build_world(scenario: str, *, seed: int, size: Size = FULL) -> World:
    """Generate the people, contacts and items of ``scenario`` (deterministic in ``seed``)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    rng = np.random.default_rng(seed)
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
    people = _relationships(rng, affinity, close_cold)

    flooder: int | None = None
    if scenario == "flood":
        strangers = np.array([not p.relationships for p in people])
        candidates = np.flatnonzero((affinity <= np.quantile(affinity, 0.25)) & strangers)
        flooder = int(rng.choice(candidates)) if candidates.size else int(np.argmin(affinity))
        rate[flooder] = FLOOD_PER_DAY
    life_rate = np.full(n, LIFE_EVENTS_PER_PERSON_DAY)
    if scenario == "life_events":
        low = (affinity < np.median(affinity)) & ~close_cold
        life_rate = np.where(low, LIFE_EVENTS_LOW_PER_DAY, LIFE_EVENTS_HIGH_PER_DAY)

    swap_day: float | None = None
    affinity_after = affinity
    if scenario == "drift":
        swap_day = float(warmup)
        affinity_after = affinity[rng.permutation(n)]

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
    bonus = LIFE_EVENT_BONUS * is_life + MENTION_BONUS * mentions
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
    )


def simulate(ranker: RankerLike, world: World, *, probabilities: bool = True) -> Metrics:
    """Run the reader's sessions on ``world`` with ``ranker`` and measure it. Pass
    ``probabilities=False`` for a ranker whose ``probability`` is no estimate (no ECE)."""
    rng = np.random.default_rng([world.seed, _READER_STREAM])
    spd = world.size.sessions_per_day
    removed = np.zeros(len(world.items), dtype=np.bool_)
    clock = _PeopleClock(world)
    ndcg10: list[float] = []
    ndcg20: list[float] = []
    flood: list[int] = []
    shown_p: list[float] = []
    shown_y: list[bool] = []
    cold_seen: set[int] = set()
    cold_top: set[int] = set()
    life_seen: set[int] = set()
    life_top: set[int] = set()
    said: dict[int, str] = {}  # person index -> last more/less
    feedback = 0
    feedback_before: list[int] = []  # per measured session
    events_to_target: int | None = None
    ranks = np.arange(1, SCROLL_DEPTH + 1)
    examine_p = 1.0 / np.log2(ranks + 1)

    for s in range(world.days * spd):
        day = (s + 0.5) / spd
        now = _at(day)
        lo, hi = np.searchsorted(world.item_day, [day - POOL_DAYS, day], side="right")
        pool = np.arange(lo, hi, dtype=np.int64)
        pool = pool[~removed[pool]]
        people = clock.at(day)
        draws = rng.random((4, SCROLL_DEPTH))  # drawn every session: common random numbers
        if pool.size == 0:
            continue
        ranked = ranker.rank([world.items[i] for i in pool], people, now=now)
        order = np.array([r.item_id - 1 for r in ranked], dtype=np.int64)
        if order.size != pool.size or not np.array_equal(np.sort(order), pool):
            raise ValueError("rank() must return every candidate exactly once")
        prob = _sigmoid(world.true_logit(order, day))
        affinity = world.affinity_on(day)
        depth = min(SCROLL_DEPTH, order.size)
        examined = draws[0, :depth] < examine_p[:depth]
        engaged = examined & (draws[1, :depth] < prob[:depth])

        measured = day >= world.measure_from
        if measured:
            ndcg10.append(ndcg(prob, 10))
            ndcg20.append(ndcg(prob, 20))
            if probabilities:
                shown_p.extend(ranked[j].probability for j in np.flatnonzero(examined))
                shown_y.extend(engaged[examined].tolist())
            fresh = day - world.item_day[order] <= FRESH_DAYS
            for mask, seen, top in (
                (world.close_cold[world.item_person[order]], cold_seen, cold_top),
                (world.item_life_event[order], life_seen, life_top),
            ):
                mask = mask & fresh
                seen.update(order[mask].tolist())
                top.update(order[:10][mask[:10]].tolist())
            if world.flooder is not None:
                flood.append(int(np.sum(world.item_person[order[:10]] == world.flooder)))
            feedback_before.append(feedback)
            if (
                world.scenario == "cold_start"
                and events_to_target is None
                and len(ndcg10) >= ROLLING_SESSIONS
                and np.mean(ndcg10[-ROLLING_SESSIONS:]) >= COLD_START_TARGET
            ):
                events_to_target = feedback_before[-ROLLING_SESSIONS]

        events: list[Event] = []
        # every item scrolled past is an impression ("seen", with its rank); whether it
        # was really looked at stays hidden, as it does in a real reader
        for j in range(depth):
            i = int(order[j])
            person = int(world.item_person[i])
            actions = ["seen"]
            u_follow, u_extra = draws[2, j], draws[3, j]
            if engaged[j]:
                actions.append("open")
                if u_follow < LIKE_RATE:
                    actions.append("like")
                elif u_follow > 1.0 - REPLY_RATE:
                    actions.append("reply")
                removed[i] = True
                if affinity[person] > MORE_ABOVE and u_extra < MORE_RATE:
                    actions.append("more")
            elif examined[j]:
                if prob[j] < HIDE_BELOW and u_follow < HIDE_RATE:
                    actions.append("hide")
                    removed[i] = True
                if affinity[person] < LESS_BELOW and u_extra < LESS_RATE:
                    actions.append("less")
            for action in actions:
                if action in ("more", "less"):
                    if said.get(person) == action:
                        continue
                    said[person] = action
                rank = int(j) + 1 if action == "seen" else None
                events.append(Event(i + 1, person + 1, action, now, rank))
        feedback += sum(e.action != "seen" for e in events)
        referenced = sorted({e.item_id for e in events})
        ranker.partial_fit(
            events, items=[world.items[k - 1] for k in referenced], people=people, now=now
        )

    bins = calibration(shown_p, shown_y) if shown_p else None
    return Metrics(
        scenario=world.scenario,
        seed=world.seed,
        sessions=len(ndcg10),
        feedback_events=feedback,
        ndcg10=float(np.mean(ndcg10)) if ndcg10 else math.nan,
        ndcg20=float(np.mean(ndcg20)) if ndcg20 else math.nan,
        events_to_target=events_to_target,
        ece=ece_of(bins) if bins else None,
        calibration=bins,
        close_cold_coverage=len(cold_top) / len(cold_seen) if cold_seen else None,
        life_event_recall=len(life_top) / len(life_seen) if life_seen else None,
        flood_share=float(np.mean(flood)) if flood else None,
    )


class _PeopleClock:
    """The people as known at a moment: contacts up to then, rebuilt only on change."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._next = 0
        self._counts = np.zeros(len(world.people), dtype=np.int64)
        self._people = list(world.people)

    def at(self, day: float) -> tuple[PersonInfo, ...]:
        w = self._world
        end = int(np.searchsorted(w.contact_day, day, side="right"))
        if end > self._next:
            changed = np.unique(w.contact_person[self._next : end])
            self._counts += np.bincount(
                w.contact_person[self._next : end], minlength=self._counts.size
            )
            for p in changed:
                self._people[p] = replace(w.people[p], contacts=w.contacts[p][: self._counts[p]])
            self._next = end
        return tuple(self._people)


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


def _items(
    rng: np.random.Generator,
    day: NDArray[np.float64],
    person: NDArray[np.int64],
    topic: NDArray[np.int64],
    is_life: NDArray[np.bool_],
    mentions: NDArray[np.bool_],
    kinds: NDArray[np.int64],
) -> tuple[ItemInfo, ...]:
    """Item text and tags from per-topic vocabularies (drawn in bulk, assembled here)."""
    n = day.size
    vocab = list(TOPICS.values())
    title_len = rng.integers(3, 7, n)
    text_len = rng.integers(12, 25, n)
    title_w = rng.integers(0, 24, (n, 6))
    title_f = rng.random((n, 6)) < 0.25
    fill_w = rng.integers(0, len(FILLERS), (n, 24))
    text_w = rng.integers(0, 24, (n, 24))
    text_t = np.where(
        rng.random((n, 24)) < 0.1, rng.integers(0, len(vocab), (n, 24)), topic[:, None]
    )
    text_f = rng.random((n, 24)) < 0.4
    tag_w = rng.integers(0, 4, (n, 2))
    tag_n = rng.choice(3, size=n, p=(0.2, 0.5, 0.3))
    life_t = rng.integers(0, len(LIFE_TITLES), n)
    life_x = rng.integers(0, len(LIFE_WORDS), (n, 24))
    life_c = rng.integers(0, 30, (n, 3))
    has_link = rng.random(n)
    has_media = rng.random(n) < 0.2
    congrats = np.where(
        is_life,
        (rng.random(n) < 0.7) * (1 + rng.poisson(3.0, n)),
        rng.random(n) < 0.002,
    )
    items = []
    for i in range(n):
        kind = SOURCE_KINDS[kinds[person[i]]]
        if is_life[i]:
            title = LIFE_TITLES[life_t[i]].format(
                company=COMPANIES[life_c[i, 0] % len(COMPANIES)],
                city=CITIES[life_c[i, 1] % len(CITIES)],
                years=10 + life_c[i, 2],
            )
            text = " ".join(LIFE_WORDS[w] for w in life_x[i, : text_len[i]]) + "."
            tags: tuple[str, ...] = ("personal",) if tag_n[i] else ()
        else:
            words, topic_tags = vocab[topic[i]]
            chosen = [
                FILLERS[fill_w[i, k]] if title_f[i, k] else words[title_w[i, k]]
                for k in range(title_len[i])
            ]
            title = " ".join(chosen).capitalize()
            text = (
                " ".join(
                    FILLERS[fill_w[i, k]] if text_f[i, k] else vocab[text_t[i, k]][0][text_w[i, k]]
                    for k in range(text_len[i])
                ).capitalize()
                + "."
            )
            tags = tuple(dict.fromkeys(topic_tags[t] for t in tag_w[i, : tag_n[i]]))
        items.append(
            ItemInfo(
                item_id=i + 1,
                person_id=int(person[i]) + 1,
                published=_at(float(day[i])),
                source_kind=kind,
                title=title,
                text=text,
                tags=tags,
                has_link=bool(has_link[i] < LINK_P[kind]),
                has_media=bool(has_media[i]),
                mentions_you=bool(mentions[i]),
                congratulations=int(congrats[i]),
            )
        )
    return tuple(items)


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


def _at(day: float) -> datetime:
    return START + timedelta(days=float(day))


def _day(at: datetime) -> float:
    return (at - START).total_seconds() / DAY
