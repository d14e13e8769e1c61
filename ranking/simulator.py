"""An offline simulator of one reader, to measure rankers without real users.

A seeded world (people, their contacts and posts; :mod:`ranking.worlds`) and a hidden
truth: the reader engages with an examined item with probability
``sigmoid(affinity[person] + preference[topic] + bonuses - age)``. Each session the ranker
orders the fresh pool, the reader scrolls with position-biased examination (the world's
examination model: position-based, cascade, or the whole page) and gives feedback, and
the ranker learns from it. Rankers see only events, contacts, relationships and item
text/tags, never the truth.

    world = build_world("steady", seed=1, size=QUICK)   # or family_world(seed)
    metrics = simulate(EdgeRankLike(), world)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ranking.sim_text import START, TOPICS, _at
from ranking.types import Event, ItemInfo, PersonInfo, Ranked, RankerLike, Reason
from ranking.worlds import (
    AGE_PER_DAY,
    FAMILY,
    FLOOD_PER_DAY,
    FULL,
    LIFE_EVENT_BONUS,
    MENTION_BONUS,
    POOL_DAYS,
    QUICK,
    SCENARIOS,
    Size,
    Spec,
    World,
    _day,
    _sigmoid,
    build_world,
    draw_spec,
    family_world,
)

__all__ = [
    "AGE_PER_DAY", "FAMILY", "FLOOD_PER_DAY", "FULL", "LIFE_EVENT_BONUS", "MENTION_BONUS",
    "POOL_DAYS", "QUICK", "SCENARIOS", "START", "SCROLL_DEPTH", "TOPICS", "Bin", "Metrics",
    "Oracle", "Size", "Spec", "World", "build_world", "calibration", "draw_spec", "ece",
    "ece_of", "examination_chances", "family_world", "ndcg", "pooled_ece", "simulate",
]  # fmt: skip

# the reader
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
CASCADE_GO_ON = 0.9  # cascade: the chance to look at the next item after skipping one
CASCADE_GO_ON_AFTER_CLICK = 0.6

# metrics
COLD_START_TARGET = 0.6
ROLLING_SESSIONS = 4
CALIBRATION_BINS = 10
_READER_STREAM = 1


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
    ndcg10_last: float = math.nan  # the last third of all sessions (the learned regime)
    spec: str = "classic"


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


def examination_chances(exam: str, depth: int) -> NDArray[np.float64]:
    """P(looked at) per rank for a position-based examination model (cascade: the chance
    to reach a rank when nothing above it was clicked)."""
    ranks = np.arange(1, depth + 1, dtype=np.float64)
    if exam == "pbm_steep":
        return np.asarray(ranks**-1.2, dtype=np.float64)
    if exam == "pbm_flat":
        return np.asarray(0.95 * ranks**-0.3, dtype=np.float64)
    if exam == "whole_page":
        return np.ones(depth)
    if exam == "cascade":
        return np.asarray(CASCADE_GO_ON ** (ranks - 1), dtype=np.float64)
    return np.asarray(1.0 / np.log2(ranks + 1), dtype=np.float64)


def _examine(
    spec: Spec, draws: NDArray[np.float64], prob: NDArray[np.float64], depth: int
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Which of the first ``depth`` items were looked at, and which engaged with."""
    if spec.exam != "cascade":
        examined = draws[0, :depth] < examination_chances(spec.exam, depth)
        return examined, examined & (draws[1, :depth] < prob[:depth])
    examined = np.zeros(depth, dtype=np.bool_)
    engaged = np.zeros(depth, dtype=np.bool_)
    for j in range(depth):
        examined[j] = True
        engaged[j] = draws[1, j] < prob[j]
        go_on = CASCADE_GO_ON_AFTER_CLICK if engaged[j] else CASCADE_GO_ON
        if draws[0, j] >= go_on:
            break
    return examined, engaged


def simulate(ranker: RankerLike, world: World, *, probabilities: bool = True) -> Metrics:
    """Run the reader's sessions on ``world`` with ``ranker`` and measure it. Pass
    ``probabilities=False`` for a ranker whose ``probability`` is no estimate (no ECE)."""
    rng = np.random.default_rng([world.seed, _READER_STREAM])
    spec = world.spec
    spd = world.size.sessions_per_day
    removed = np.zeros(len(world.items), dtype=np.bool_)
    clock = _PeopleClock(world)
    ndcg10: list[float] = []
    ndcg20: list[float] = []
    every10: list[float] = []  # every session, warm-up included
    flood: list[int] = []
    shown_p: list[float] = []
    shown_y: list[bool] = []
    cold_seen: set[int] = set()
    cold_top: set[int] = set()
    life_seen: set[int] = set()
    life_top: set[int] = set()
    said: dict[int, str] = {}  # person index -> last more/less
    feedback = 0
    feedback_before: list[int] = []  # per session
    events_to_target: int | None = None
    cold_start = world.scenario in ("cold_start", FAMILY)  # measured from the first session
    last: list[float] = []
    sessions = world.days * spd
    last_from = sessions - sessions // 3

    for s in range(sessions):
        day = (s + 0.5) / spd
        now = _at(day)
        lo, hi = np.searchsorted(world.item_day, [day - POOL_DAYS, day], side="right")
        pool = np.arange(lo, hi, dtype=np.int64)
        pool = pool[~removed[pool]]
        people = clock.at(day)
        draws = rng.random((4, spec.depth))  # drawn every session: common random numbers
        if pool.size == 0:
            continue
        ranked = ranker.rank([world.items[i] for i in pool], people, now=now)
        order = np.array([r.item_id - 1 for r in ranked], dtype=np.int64)
        if order.size != pool.size or not np.array_equal(np.sort(order), pool):
            raise ValueError("rank() must return every candidate exactly once")
        prob = _sigmoid(world.true_logit(order, day))
        affinity = world.affinity_on(day)
        depth = min(spec.depth, order.size)
        examined, engaged = _examine(spec, draws, prob, depth)

        every10.append(ndcg(prob, 10))
        feedback_before.append(feedback)
        last.extend(every10[-1:] if s >= last_from else [])
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
        if (
            cold_start
            and events_to_target is None
            and len(every10) >= ROLLING_SESSIONS
            and np.mean(every10[-ROLLING_SESSIONS:]) >= COLD_START_TARGET
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
                if spec.reader == "liker":
                    actions.append("like")  # likes from the list, never opens
                else:
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
        ndcg10_last=float(np.mean(last)) if last else math.nan,
        spec=spec.label() if world.scenario == FAMILY else world.scenario,
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
