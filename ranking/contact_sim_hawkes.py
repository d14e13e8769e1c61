"""A second family of simulated contact worlds, built on other assumptions than
:mod:`ranking.contact_sim`: pure, seeded, no app imports.

Contact is a point process, not a renewal of gaps: a baseline rate that wanders (a
log-normal random walk, so people's pace drifts by itself) plus self-excitation (a
Hawkes process: every contact raises the rate for a few days, so bursts come from the
process, not from an episode generator), or a renewal process with heavy-tailed
(log-logistic) gaps. Contact is mostly inbound for some people, and the record is
damaged in ways of its own: a user who logs contact in batches days later (the logged
time is the batch's), windows of weeks when nothing was recorded (the server was down,
a feed broke), contact never recorded at all. Faded relationships decay (the rate falls
with a half-life) rather than stop.

The truth is the process's own: the relationship has faded, they are valued and still
posting, and a silence this long (since the last true contact) would have had less than
``TAIL`` = 1% chance under their *usual* process (a continuing process is never "should
be told", however long its silence): the silence is past the point where the integrated
un-faded intensity since the last contact reaches ``log(1 / TAIL)`` (point processes), or
where the gap survival falls to ``TAIL`` (the renewal one).
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from ranking.contact_sim import Contact, SimPerson

CLASSES = (
    "poisson",  # a wandering baseline rate, no bursts
    "hawkes",  # the same with self-excitation: bursts
    "heavy",  # log-logistic gaps: mostly regular, now and then a very long pause
    "inbound",  # a Hawkes process, nearly all of it started by them
    "batched",  # a Hawkes process the user logs in batches days later
    "fading",  # any of the above whose rate decays from some point on
    "moved_on",  # fading, and they stopped posting too
    "stranger",
)
HISTORY_DAYS = 730.0
TAIL = 0.01
STEP = 0.25  # days: the grid the intensity is integrated on


def _baseline(rng: random.Random, mean_gap: float) -> list[float]:
    """A rate per grid step (contacts a day) wandering around 1 / mean_gap: a log random
    walk pulled back towards its centre (an Ornstein-Uhlenbeck process, sd ~0.4)."""
    steps = int(HISTORY_DAYS / STEP) + 1
    theta = STEP / 120.0  # pulled back over about four months
    noise = 0.4 * math.sqrt(2 * theta)
    x, out = rng.gauss(0, 0.4), []
    for _ in range(steps):
        x += -theta * x + noise * rng.gauss(0, 1)
        out.append(math.exp(x) / mean_gap)
    return out


def _hawkes(
    rng: random.Random,
    base: list[float],
    *,
    branching: float,
    decay_days: float,
    fade_at: float | None,
    half_life: float,
) -> tuple[list[float], float]:
    """Event times (days) of a Hawkes process on the baseline (on the grid), and the
    limit (days after the last event) the usual process would pass only with TAIL."""
    alpha = branching / decay_days  # each event adds alpha * exp(-(t - ti) / decay)
    times: list[float] = []
    excite = 0.0
    for k, rate in enumerate(base):
        t = k * STEP
        fade = 1.0
        if fade_at is not None and t > fade_at:
            fade = 0.5 ** ((t - fade_at) / half_life)
        lam = (rate + excite) * fade
        if rng.random() < 1 - math.exp(-lam * STEP):
            at = t + rng.uniform(0, STEP)
            if at < HISTORY_DAYS:  # the grid's last step reaches past now
                times.append(at)
                excite += alpha
        excite *= math.exp(-STEP / decay_days)
    # the limit: how long after the last event the usual (un-faded) process would have
    # gone without contact with probability TAIL (the integrated intensity reaching
    # log(1 / TAIL); past the history's end the baseline stays where it was)
    if not times:
        return times, 0.0
    last = times[-1]
    excite_last = sum(alpha * math.exp(-(last - ti) / decay_days) for ti in times[-50:])
    need, integral, t = math.log(1 / TAIL), 0.0, last
    k = int(last / STEP)
    while integral < need:
        rate = base[min(k, len(base) - 1)]
        integral += (rate + excite_last * math.exp(-(t - last) / decay_days)) * STEP
        t += STEP
        k += 1
    return times, t - last


def _loglogistic(rng: random.Random, scale: float, shape: float) -> float:
    u = rng.random()
    return float(scale * (u / (1 - u)) ** (1 / shape))


def person(rng: random.Random, *, name: str, klass: str, now: datetime) -> SimPerson:
    """One person of a class, their true and recorded contact up to ``now`` and the truth."""
    origin = now - timedelta(days=HISTORY_DAYS)
    horizon = HISTORY_DAYS
    fading = klass in ("fading", "moved_on")
    fade_at = horizon - rng.uniform(60, 360) if fading else None
    half_life = rng.uniform(10, 60)
    inbound_share = 0.92 if klass == "inbound" else rng.uniform(0.2, 0.8)
    never = rng.uniform(0.0, 0.15)  # contact never recorded
    times: list[float]
    limit = math.inf
    valued = klass != "stranger"
    base_kind = klass
    if fading:
        base_kind = rng.choice(("poisson", "hawkes", "heavy", "inbound"))
    if klass == "stranger":
        t = rng.uniform(0, horizon)
        times = sorted(t + rng.uniform(0, 0.3) for _ in range(rng.randint(1, 3)))
    elif base_kind == "heavy":
        scale, shape = rng.uniform(7, 60), rng.uniform(2.0, 4.0)
        times, t = [], rng.uniform(0, 30)
        while t < horizon:
            if fade_at is not None and t > fade_at and len(times) >= 6:
                break  # a renewal process fades by stopping
            times.append(t)
            t += _loglogistic(rng, scale, shape)
        limit = scale * ((1 - TAIL) / TAIL) ** (1 / shape)  # survival = TAIL there
    else:
        mean_gap = rng.uniform(4, 90)
        base = _baseline(rng, mean_gap)
        bursts = base_kind in ("hawkes", "inbound", "batched")
        times, limit = _hawkes(
            rng,
            base,
            branching=rng.uniform(0.3, 0.75) if bursts else 0.0,
            decay_days=rng.uniform(0.5, 4.0),
            fade_at=fade_at,
            half_life=half_life,
        )
        if len(times) < 4:  # too slow to be anybody's rhythm: a stranger after all
            valued = False
    # the record: never recorded, a blind window or two, batched logging
    blind = []
    for _ in range(rng.choice((0, 0, 1, 2))):  # outages in the past (one now would show)
        start = rng.uniform(0, horizon - 150)
        blind.append((start, start + rng.uniform(14, 60)))
    batch = rng.uniform(3, 10) if klass == "batched" else 0.0
    contacts = []
    for x in sorted(times):
        recorded = rng.random() >= never and not any(a <= x < b for a, b in blind)
        at = x
        if batch and recorded:
            at = math.ceil(x / batch) * batch + rng.uniform(0, 0.1)
            if at > horizon:  # the batch is not written down yet
                at, recorded = x, False
        direction = (
            "in" if rng.random() < inbound_share else ("out" if rng.random() < 0.85 else "both")
        )
        contacts.append(
            Contact(at=origin + timedelta(days=at), direction=direction, recorded=recorded)
        )
    contacts.sort(key=lambda c: c.at)
    # posting: a Poisson process over the last year, some of it in bursts of its own
    post_gap = rng.uniform(1, 15)
    end = horizon
    if klass == "moved_on" and fade_at is not None:
        end = fade_at + rng.uniform(0, 30)
    posts, p = [], horizon - 365 + rng.expovariate(1 / post_gap)
    while p < min(end, horizon):
        posts.append(origin + timedelta(days=p))
        p += rng.expovariate(1 / post_gap) * (0.2 if rng.random() < 0.2 else 1.0)
    active = klass != "moved_on"
    silence = horizon - times[-1] if times else math.inf
    # only a relationship that has faded is news: a continuing process in one of its long
    # silences comes back by itself (and for heavy-tailed renewal gaps the silence seen at
    # any moment is length-biased: past the 1% gap survival 3-6% of the time)
    tell = valued and active and fading and silence > limit
    return SimPerson(
        name=name,
        klass=klass,
        contacts=tuple(contacts),
        posts=tuple(posts),
        valued=valued,
        tell=tell,
        limit_days=limit,
        silence_days=silence,
    )


def world(seed: int, *, people: int, now: datetime) -> list[SimPerson]:
    """``people`` people spread over the classes (strangers twice as common)."""
    rng = random.Random(10_000 + seed)
    weights = [2 if k == "stranger" else 1 for k in CLASSES]
    out = []
    for n in range(people):
        klass = (
            CLASSES[n % len(CLASSES)] if n < len(CLASSES) * 2 else rng.choices(CLASSES, weights)[0]
        )
        out.append(
            person(rng, name=f"{klass.title().replace('_', ' ')} h{seed}-{n}", klass=klass, now=now)
        )
    return out
