"""The vocabulary of ranking: what the app (or the simulator) hands the model, and what
the model hands back. Frozen dataclasses only; no database, no clock (``now`` is always
an argument)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

ACTIONS = ("seen", "open", "like", "reply", "hide", "more", "less")
ENGAGEMENTS = ("open", "like", "reply")
CLOSE_RELATIONSHIPS = frozenset(
    {"family", "partner", "spouse", "child", "parent", "sibling", "kin", "sweetheart",
     "friend", "date", "crush", "muse"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Contact:
    """One interaction with a person, either way (``in``: they to you)."""

    at: datetime
    direction: str  # in | out
    kind: str  # reply | mention | favourite | boost | comment ...


@dataclass(frozen=True, slots=True)
class PersonInfo:
    """What ranking knows of one person: how you know them and the contact between you."""

    person_id: int
    name: str = ""
    relationships: tuple[str, ...] = ()  # XFN-style: family, friend, colleague ...
    manual_weight: float | None = None  # -2..2, set by the user; never learned over
    pinned: bool = False
    muted: bool = False
    identity_count: int = 1
    contacts: tuple[Contact, ...] = ()
    mutual_follow: bool = False
    endorsed: bool = False  # Mastodon "feature on profile" / notify bell
    has_note: bool = False  # the user wrote a private note on them


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """One candidate item, reduced to what the ranker looks at."""

    item_id: int
    person_id: int | None
    published: datetime
    source_kind: str = "feed"  # feed | comments | mastodon
    title: str = ""
    text: str = ""  # plain text (no markup), may be cut
    tags: tuple[str, ...] = ()
    has_link: bool = False
    has_media: bool = False
    mentions_you: bool = False  # a reply to you or a mention of you
    your_thread: bool = False  # a thread you took part in
    congratulations: int = 0  # replies to it that congratulate or console
    comment_count: int | None = None
    author_usual_comments: float | None = None  # the author's own baseline (median)


@dataclass(frozen=True, slots=True)
class Event:
    """One piece of feedback: ``seen`` carries the 1-based rank it was shown at."""

    item_id: int
    person_id: int | None
    action: str  # one of ACTIONS
    at: datetime
    rank: int | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """One additive contribution to a score, in log-odds, with its words."""

    code: str  # stable: affinity, relationship, manual, more, less, item, story, age, ...
    text: str
    value: float


@dataclass(frozen=True, slots=True)
class Ranked:
    """An item as ranked: ``score`` is the sum of ``why`` (log-odds); ``probability`` is
    the model's P(engage | examined), without the rule offsets (pin, page shares)."""

    item_id: int
    person_id: int | None
    score: float
    probability: float
    why: tuple[Reason, ...]
    pinned: bool = False


class RankerLike(Protocol):
    """What the simulator drives: the learned ranker and the baselines alike."""

    def partial_fit(
        self,
        events: Sequence[Event],
        *,
        items: Sequence[ItemInfo],
        people: Sequence[PersonInfo],
        now: datetime,
    ) -> RankerLike: ...

    def rank(
        self, items: Sequence[ItemInfo], people: Sequence[PersonInfo], *, now: datetime
    ) -> list[Ranked]: ...
