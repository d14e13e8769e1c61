"""Small parts of the learned ranker: the log-odds helpers, the examination model, the
per-person learned state, the hand-set prior, and the label an item's events give."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from ranking.types import ENGAGEMENTS, Event, Ranked, Reason

# hand-set prior weights (log-odds over the base rate) until there is data to refit them
DEFAULT_PRIOR = {
    "contact_out": 0.5,
    "contact_in": 0.3,
    "reciprocity": 0.5,
    "recent_contact": 0.5,
    "close": 1.2,
    "known": 0.3,
    "mutual_follow": 0.3,
    "endorsed": 0.8,
    "note": 0.3,
    "identities": 0.2,
}
PRIOR_WORDS = {
    "contact_out": "you write to {name}",
    "contact_in": "{name} writes to you",
    "reciprocity": "you and {name} talk both ways",
    "recent_contact": "you were in touch lately",
    "close": "{name} is close to you",
    "known": "you know {name}",
    "mutual_follow": "you follow each other",
    "endorsed": "you featured {name}",
    "note": "you keep a note on {name}",
    "identities": "{name} is in several of your sources",
}
# read in the reader without a click: neither engaged nor a skip (never a negative)
READ = "read"


def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def examination(rank: int | None) -> float:
    """The chance an item shown at ``rank`` (1-based) was looked at: 1/log2(rank + 1)."""
    if rank is None or rank < 1:
        return 1.0
    return 1.0 / math.log2(rank + 1)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(slots=True)
class PersonStat:
    """What the learner has seen of one person (mutable learned state)."""

    pos: float = 0.0  # engagements, with like/reply/more counting extra
    exposure: float = 0.0  # expected examinations (clicks over expected clicks)
    opens: int = 0
    likes: int = 0
    replies: int = 0
    hides: int = 0
    more: list[datetime] = field(default_factory=list)
    less: list[datetime] = field(default_factory=list)
    at: datetime | None = None  # when the counts were last moved (they fade from there)


@dataclass(frozen=True, slots=True)
class PersonWeight:
    """A person's weight, in log-odds: learned (affinity), manual, the fading more/less,
    and the effective sum the ranking uses."""

    learned: float
    manual: float | None
    recent: float
    effective: float
    pinned: bool
    muted: bool
    exposure: float


def sample(events: list[Event], p: float) -> tuple[int, float] | None:
    """The label and weight an item's events give the learners. Engaged is 1 and hidden
    is 0, both surely looked at; shown without a reaction is 0 weighted by the chance it
    was looked at *given* no reaction: e(1 - p) / (1 - e p), with e the examination
    chance of its rank and p the current P(engage | examined) (position-bias EM). Read
    without a reaction is no label at all."""
    actions = {e.action for e in events}
    if actions & set(ENGAGEMENTS):
        return 1, 1.0
    if "hide" in actions:
        return 0, 1.0
    if READ in actions:
        return None
    if "seen" in actions:
        rank = min((e.rank for e in events if e.action == "seen" and e.rank), default=None)
        e = examination(rank)
        return 0, e * (1 - p) / max(1 - e * p, 1e-6)
    return None


def with_reason(r: Ranked, reason: Reason) -> Ranked:
    return Ranked(
        item_id=r.item_id,
        person_id=r.person_id,
        score=r.score + reason.value,
        probability=r.probability,
        why=(*r.why, reason),
        pinned=r.pinned,
    )
