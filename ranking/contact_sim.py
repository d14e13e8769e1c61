"""Simulated worlds of contact for judging drifting: pure, seeded, no app imports.

Each person follows one rhythm class, drawn from generators chosen to be unlike the
rhythm model's own assumptions (gamma and Weibull gaps, skipped contacts, episodes of
1..15 contacts spread over up to a week, calendar-bound seasonal contact, a slowing
rate, off-rhythm single contacts). The truth "the user should be told now" comes from
the generative process: the relationship has faded (class ``drifting``: it simply stops
producing contact), the person is valued and still posting, and the silence since their
last *true* contact (recorded or not) is longer than 1.2 x the 97th percentile of their
own gap process from their last episode (drawn by Monte Carlo from the same generator):
the fade is past the point where their usual rhythm could still explain the silence. A
continuing rhythm is never "should be told", however long the gap it is in (it comes
back by itself).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

CLASSES = (
    "steady",
    "bursty",
    "slow",
    "slowing",
    "seasonal",
    "drifting",
    "gone_quiet",
    "stranger",
)
HISTORY_DAYS = 730.0
MARGIN = 1.2
QUANTILE = 0.97


@dataclass(frozen=True, slots=True)
class Contact:
    at: datetime
    direction: str  # in | out | both
    recorded: bool  # False: it happened but Kith never saw or was told of it


@dataclass(frozen=True, slots=True)
class SimPerson:
    name: str
    klass: str
    contacts: tuple[Contact, ...]  # sorted
    posts: tuple[datetime, ...]  # sorted
    valued: bool
    tell: bool  # the truth: the user should be told now
    limit_days: float  # the generative return limit the truth used
    silence_days: float  # since the last true contact


# a gap process: (rng, episode start in days since the history began) -> next gap (days)
Gaps = Callable[[random.Random, float], float]


def _gamma_gaps(mean: float, shape: float, skip: float) -> Gaps:
    def draw(rng: random.Random, _t: float) -> float:
        gap = rng.gammavariate(shape, mean / shape)
        while rng.random() < skip:  # a missed call: the next one is a whole gap later
            gap += rng.gammavariate(shape, mean / shape)
        return max(gap, 0.05)

    return draw


def _weibull_gaps(scale: float, shape: float) -> Gaps:
    return lambda rng, _t: max(rng.weibullvariate(scale, shape), 0.5)


def _slowing_gaps(mean0: float, growth: float, shape: float) -> Gaps:
    def draw(rng: random.Random, t: float) -> float:
        mean = mean0 * math.exp(growth * t / HISTORY_DAYS)
        return max(rng.gammavariate(shape, mean / shape), 0.05)

    return draw


def _seasonal_gaps(dates: tuple[float, ...], jitter: float, keep: float) -> Gaps:
    """Contact near fixed days of the year (a birthday, the holidays, a summer visit)."""

    def draw(rng: random.Random, t: float) -> float:
        year = math.floor(t / 365.25)
        candidates = sorted(
            (year + k) * 365.25 + d + rng.gauss(0, jitter) for k in range(0, 4) for d in dates
        )
        for c in candidates:
            if c > t + 3 * jitter + 5 and rng.random() < keep:
                return c - t
        return candidates[-1] - t

    return draw


def _episode(rng: random.Random, start: float, size: int, spread: float) -> list[float]:
    return sorted([start] + [start + rng.uniform(0, spread) for _ in range(size - 1)])


def _limit(rng: random.Random, gaps: Gaps, t: float) -> float:
    draws = sorted(gaps(rng, t) for _ in range(300))
    return MARGIN * draws[int(QUANTILE * len(draws))]


def _rhythm(rng: random.Random, klass: str) -> tuple[Gaps, Callable[[], tuple[int, float]]]:
    """The gap process and the episode shape (size, spread in days) of a class."""

    def single() -> tuple[int, float]:
        return (1 if rng.random() < 0.75 else rng.randint(2, 3), 0.3)

    if klass in ("drifting", "gone_quiet"):
        klass = rng.choice(("steady", "bursty", "slow", "slowing"))
    if klass == "steady":
        return _gamma_gaps(rng.uniform(4, 30), rng.uniform(3, 9), rng.uniform(0, 0.1)), single
    if klass == "bursty":

        def burst() -> tuple[int, float]:
            return rng.randint(2, 15), rng.choice((0.3, 1.0, 3.0, 7.0))

        return _weibull_gaps(rng.uniform(25, 90), rng.uniform(1.6, 3.5)), burst
    if klass == "slow":
        return _gamma_gaps(rng.uniform(60, 150), rng.uniform(3, 6), 0.0), single
    if klass == "slowing":
        return _slowing_gaps(rng.uniform(4, 15), math.log(rng.uniform(2.5, 4)), 5.0), single
    if klass == "seasonal":
        dates = tuple(sorted(rng.uniform(0, 365) for _ in range(rng.randint(2, 3))))

        def visit() -> tuple[int, float]:
            return rng.randint(1, 6), rng.uniform(0.2, 5)

        return _seasonal_gaps(dates, rng.uniform(2, 8), 0.95), visit
    raise ValueError(klass)


def person(rng: random.Random, *, name: str, klass: str, now: datetime) -> SimPerson:
    """One person of a class, their true contact up to ``now`` and the truth."""
    origin = now - timedelta(days=HISTORY_DAYS)
    horizon = HISTORY_DAYS
    fade = None
    if klass in ("drifting", "gone_quiet"):
        fade = HISTORY_DAYS - rng.uniform(90, 400)  # contact stops there
    lean = rng.random()  # who reaches out: 0 = always them, 1 = always the user
    missing = rng.uniform(0.0, 0.2)  # contact that was never recorded
    times: list[float] = []
    limit = math.inf
    last_start = 0.0
    if klass == "stranger":
        t = rng.uniform(0, horizon)
        times = _episode(rng, t, rng.randint(1, 3), 0.2)
        valued = False
    else:
        valued = True
        gaps, shape = _rhythm(rng, klass)
        t = rng.uniform(0, 60)
        episodes = 0
        # a relationship fades only once there is one: after five episodes at least
        while t < horizon and (fade is None or t < fade or episodes < 5):
            episodes += 1
            size, spread = shape()
            times.extend(x for x in _episode(rng, t, size, spread) if x < horizon)
            last_start = t
            t += gaps(rng, t)
        limit = max(_limit(rng, gaps, last_start) - (max(times) - last_start if times else 0), 1.0)
        # off-rhythm contact now and then (a like, a chance meeting), while it lasts
        until = min(horizon, fade if fade is not None else horizon, max(times))
        x = rng.expovariate(1 / rng.uniform(120, 400))
        while x < until:
            times.append(x)
            x += rng.expovariate(1 / rng.uniform(120, 400))
    times.sort()
    contacts = tuple(
        Contact(
            at=origin + timedelta(days=x),
            direction=("both" if rng.random() < 0.15 else ("out" if rng.random() < lean else "in")),
            recorded=rng.random() >= missing,
        )
        for x in times
    )
    if fade is not None and times:
        fade = max(fade, times[-1])
    # posting: every few days, for the last year; someone gone quiet stops with the contact
    post_gap = rng.uniform(2, 20)
    end = fade - rng.uniform(0, 30) if klass == "gone_quiet" and fade is not None else horizon
    posts = []
    p = HISTORY_DAYS - 365 + rng.uniform(0, post_gap)
    while p < end:
        posts.append(origin + timedelta(days=p))
        p += rng.expovariate(1 / post_gap)
    active = klass != "gone_quiet"
    silence = horizon - times[-1] if times else math.inf
    return SimPerson(
        name=name,
        klass=klass,
        contacts=contacts,
        posts=tuple(posts),
        valued=valued,
        # only a relationship that has faded is news: a continuing rhythm in one of its
        # long gaps comes back by itself, however rare the gap
        tell=valued and active and fade is not None and silence > limit,
        limit_days=limit,
        silence_days=silence,
    )


def world(seed: int, *, people: int, now: datetime) -> list[SimPerson]:
    """``people`` people spread over the classes (strangers twice as common)."""
    rng = random.Random(seed)
    weights = [2 if k == "stranger" else 1 for k in CLASSES]
    out = []
    for n in range(people):
        klass = (
            CLASSES[n % len(CLASSES)] if n < len(CLASSES) * 2 else rng.choices(CLASSES, weights)[0]
        )
        out.append(
            person(rng, name=f"{klass.title().replace('_', ' ')} {seed}-{n}", klass=klass, now=now)
        )
    return out
