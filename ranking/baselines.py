"""Baseline rankers to measure the learned one against (see ``bench/ranking.py``).

Each follows the scikit-learn contract (``__init__`` only stores parameters, learned
state ends in ``_``) and the :class:`ranking.types.RankerLike` protocol.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from ranking.types import Event, ItemInfo, PersonInfo, Ranked, Reason

DAY = 86400.0
EDGE_WEIGHTS: Mapping[str, float] = {
    "open": 1.0, "like": 2.0, "reply": 4.0, "hide": -3.0, "more": 5.0, "less": -5.0,
}  # fmt: skip
CONTACT_WEIGHTS: Mapping[str, float] = {"in": 1.0, "out": 2.0}
VOTES: Mapping[str, int] = {"like": 1, "more": 1, "hide": -1, "less": -1}
CLASS_TEXT: Mapping[int, str] = {
    1: "you liked its author, tags or title words",
    0: "not trained on",
    -1: "you disliked its author, tags or title words",
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _age_days(item: ItemInfo, now: datetime) -> float:
    return max((now - item.published).total_seconds() / DAY, 0.0)


class ReverseChronological:
    """Newest first; learns nothing (``probability`` is a flat 0.5)."""

    def partial_fit(
        self,
        events: Sequence[Event],
        *,
        items: Sequence[ItemInfo],
        people: Sequence[PersonInfo],
        now: datetime,
    ) -> ReverseChronological:
        return self

    def rank(
        self, items: Sequence[ItemInfo], people: Sequence[PersonInfo], *, now: datetime
    ) -> list[Ranked]:
        ranked = []
        for it in items:
            score = -_age_days(it, now)
            why = (Reason("age", "newest first", score),)
            ranked.append(Ranked(it.item_id, it.person_id, score, 0.5, why))
        ranked.sort(key=lambda r: r.score, reverse=True)
        return ranked


class EdgeRankLike:
    """Facebook's EdgeRank: affinity x edge weight x time decay.

    Affinity is 1 plus a time-decayed sum of feedback (``EDGE_WEIGHTS``) and contacts
    either way (``CONTACT_WEIGHTS``), floored at ``min_affinity``; the edge weight favours
    mentions and media; the post decays with ``post_half_life_days``. ``score`` is the log
    of the product; ``probability`` is a flat 0.5 (EdgeRank estimates no probability).
    """

    def __init__(
        self,
        *,
        affinity_half_life_days: float = 30.0,
        post_half_life_days: float = 1.0,
        min_affinity: float = 0.1,
        mention_weight: float = 3.0,
        media_weight: float = 1.5,
    ) -> None:
        self.affinity_half_life_days = affinity_half_life_days
        self.post_half_life_days = post_half_life_days
        self.min_affinity = min_affinity
        self.mention_weight = mention_weight
        self.media_weight = media_weight

    def partial_fit(
        self,
        events: Sequence[Event],
        *,
        items: Sequence[ItemInfo],
        people: Sequence[PersonInfo],
        now: datetime,
    ) -> EdgeRankLike:
        if not hasattr(self, "feedback_"):
            self.feedback_: dict[int, tuple[float, datetime]] = {}
        for e in events:
            weight = EDGE_WEIGHTS.get(e.action)
            if weight is None or e.person_id is None:
                continue
            self.feedback_[e.person_id] = (self._decayed(e.person_id, e.at) + weight, e.at)
        return self

    def rank(
        self, items: Sequence[ItemInfo], people: Sequence[PersonInfo], *, now: datetime
    ) -> list[Ranked]:
        by_id = {p.person_id: p for p in people}
        affinity: dict[int | None, float] = {}
        scored = []
        for it in items:
            if it.person_id not in affinity:
                affinity[it.person_id] = self._affinity(it.person_id, by_id, now)
            u = affinity[it.person_id]
            w = 1.0
            if it.mentions_you:
                w *= self.mention_weight
            if it.has_media:
                w *= self.media_weight
            age = -math.log(2.0) * _age_days(it, now) / self.post_half_life_days
            why = (
                Reason("affinity", "your interactions with them", math.log(u)),
                Reason("item", "kind of post", math.log(w)),
                Reason("age", "time decay", age),
            )
            score = sum(r.value for r in why)
            scored.append(Ranked(it.item_id, it.person_id, score, 0.5, why))
        scored.sort(key=lambda r: r.score, reverse=True)
        return scored

    def parts(
        self, item: ItemInfo, person: PersonInfo | None, *, now: datetime
    ) -> tuple[float, float]:
        """One item's score in two parts: log affinity + log edge weight, and the time
        decay (the floor of :mod:`ranking.guard` blends the first, scores with both)."""
        people = {person.person_id: person} if person is not None else {}
        u = self._affinity(item.person_id, people, now)
        w = (self.mention_weight if item.mentions_you else 1.0) * (
            self.media_weight if item.has_media else 1.0
        )
        age = -math.log(2.0) * _age_days(item, now) / self.post_half_life_days
        return math.log(u) + math.log(w), age

    def _decayed(self, person_id: int, at: datetime) -> float:
        """The person's feedback sum, decayed to ``at``."""
        if not hasattr(self, "feedback_") or person_id not in self.feedback_:
            return 0.0
        value, since = self.feedback_[person_id]
        days = (at - since).total_seconds() / DAY
        return value * math.pow(0.5, days / self.affinity_half_life_days)

    def _affinity(
        self, person_id: int | None, people: Mapping[int, PersonInfo], now: datetime
    ) -> float:
        if person_id is None:
            return 1.0
        total = 1.0 + self._decayed(person_id, now)
        person = people.get(person_id)
        for c in person.contacts if person else ():
            days = max((now - c.at).total_seconds() / DAY, 0.0)
            total += CONTACT_WEIGHTS.get(c.direction, 1.0) * 0.5 ** (
                days / self.affinity_half_life_days
            )
        return max(total, self.min_affinity)


class NewsBlurLike:
    """NewsBlur's intelligence trainer: thumbs up/down on authors, tags and title words.

    ``like``/``more`` count up and ``hide``/``less`` down (``more``/``less`` on the author
    only). An item is +1 if any of its author, tags or title words is liked on balance
    (a word needs ``min_word_votes``), else -1 if any is disliked, else 0; newest first
    within a class. ``probability`` is
    the engagement rate seen so far in the item's class (Laplace-smoothed).
    """

    def __init__(self, *, min_word_votes: int = 2, min_word_length: int = 4) -> None:
        self.min_word_votes = min_word_votes
        self.min_word_length = min_word_length

    def partial_fit(
        self,
        events: Sequence[Event],
        *,
        items: Sequence[ItemInfo],
        people: Sequence[PersonInfo],
        now: datetime,
    ) -> NewsBlurLike:
        if not hasattr(self, "authors_"):
            self.authors_: dict[int, int] = {}
            self.tags_: dict[str, int] = {}
            self.words_: dict[str, int] = {}
            self.class_seen_: dict[int, int] = {-1: 0, 0: 0, 1: 0}
            self.class_opened_: dict[int, int] = {-1: 0, 0: 0, 1: 0}
        by_id = {it.item_id: it for it in items}
        opened = {e.item_id for e in events if e.action == "open"}
        for e in events:
            it = by_id.get(e.item_id)
            if it is not None and e.action == "seen":
                cls = self._classify(it)
                self.class_seen_[cls] += 1
                self.class_opened_[cls] += e.item_id in opened
        for e in events:
            vote = VOTES.get(e.action)
            it = by_id.get(e.item_id)
            if vote is None or it is None:
                continue
            if it.person_id is not None:
                self.authors_[it.person_id] = self.authors_.get(it.person_id, 0) + vote
            if e.action in ("like", "hide"):
                for tag in it.tags:
                    self.tags_[tag.lower()] = self.tags_.get(tag.lower(), 0) + vote
                for word in self._words(it.title):
                    self.words_[word] = self.words_.get(word, 0) + vote
        return self

    def rank(
        self, items: Sequence[ItemInfo], people: Sequence[PersonInfo], *, now: datetime
    ) -> list[Ranked]:
        classes = [(self._classify(it), it) for it in items]
        classes.sort(key=lambda c: (c[0], c[1].published), reverse=True)
        ranked = []
        for cls, it in classes:
            p = self._rate(cls)
            logit = math.log(p / (1 - p))
            why = (Reason("class", CLASS_TEXT[cls], logit),)
            ranked.append(Ranked(it.item_id, it.person_id, logit, p, why))
        return ranked

    def _words(self, title: str) -> set[str]:
        return {w for w in _WORD.findall(title.lower()) if len(w) >= self.min_word_length}

    def _classify(self, item: ItemInfo) -> int:
        if not hasattr(self, "authors_"):
            return 0
        author = self.authors_.get(item.person_id, 0) if item.person_id is not None else 0
        tags = [self.tags_.get(t.lower(), 0) for t in item.tags]
        words = [
            v
            for v in (self.words_.get(w, 0) for w in self._words(item.title))
            if abs(v) >= self.min_word_votes
        ]
        votes = [author, *tags, *words]
        if any(v > 0 for v in votes):
            return 1
        if any(v < 0 for v in votes):
            return -1
        return 0

    def _rate(self, cls: int) -> float:
        if not hasattr(self, "class_seen_"):
            return 0.5
        return (self.class_opened_[cls] + 1) / (self.class_seen_[cls] + 2)
