"""The learned per-person weighting model: one ranker per user.

A score is a sum in log-odds, so it explains itself:

- **person affinity**: a posterior of P(engage | examined) per person, clicks over
  expected clicks (each impression counts by the chance its position was looked at),
  with a prior from how you know them (:func:`ranking.features.person_features`),
  refitted across people (empirical Bayes, scikit-learn logistic regression);
- **the item model**: scikit-learn ``SGDClassifier`` (log loss) trained online with
  ``partial_fit`` on hashed item features, the person's affinity among them, so it
  learns what you read *given* who wrote it; its probability is calibrated;
- **the manual weight**: an offset the learner never overrides; ``more`` as a boost and
  ``less`` as fatigue, both fading with time;
- **important stories**: a fixed boost (life events, congratulations, comment spikes),
  larger when the person is close; a mild age penalty, linear in days so that a stored
  key stays in order as time passes (:meth:`Ranker.storage_key`).

Then rules arrange a page: muted people left out, pinned people first, the k-th item of
one person on a page scaled down (a flood does not bury quiet people), and an
exploration slot in every block for people the model has barely seen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import SGDClassifier
from sklearn.utils import murmurhash3_32

from ranking import affinity as affinity_mod
from ranking import page
from ranking.constants import LearnedConstants
from ranking.features import (
    DAY,
    describe_feature,
    is_close,
    item_features,
    story_of,
)
from ranking.guard import FloorGuard
from ranking.learning import (
    DEFAULT_PRIOR,
    PRIOR_WORDS,
    PersonStat,
    PersonWeight,
    examination,
    logit,
    ordinal,
    sample,
    sigmoid,
)
from ranking.observe import observe_pages
from ranking.types import Event, ItemInfo, PersonInfo, Ranked, Reason

__all__ = [
    "AFFINITY", "AGE_PER_DAY", "DEFAULT_PRIOR", "EPOCH", "PRIOR_WORDS", "PersonStat",
    "PersonWeight", "Ranker", "examination", "logit", "ordinal", "provisional_key", "sigmoid",
]  # fmt: skip

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
AGE_PER_DAY = 0.3  # log-odds lost per day of age (mild): the prior of the learned slope
AFFINITY = "person:affinity"
TOLD = frozenset({"tag", "word", "mentions_you", "your_thread", "link", "media"})
STORY = "story"
LEARNED_CODES = frozenset({"relationship", "affinity", "item"})  # what the floor blends


class Ranker:
    """The per-user ranker (scikit-learn estimator contract: ``__init__`` stores the
    parameters, learned state ends in ``_``, ``fit``/``partial_fit`` return self)."""

    def __init__(
        self,
        *,
        n_features: int = 2**16,
        alpha: float = 1e-5,
        eta0: float = 0.05,
        base_rate: float = 0.1,
        prior_strength: float = 3.0,
        memory_half_life_days: float = 60.0,
        age_per_day: float = AGE_PER_DAY,
        story_boost: float = 2.5,
        close_story_boost: float = 1.0,
        manual_scale: float = 1.0,
        more_boost: float = 1.0,
        more_half_life_days: float = 30.0,
        less_penalty: float = 1.5,
        less_half_life_days: float = 7.0,
        share_decay: float = 0.66,
        share_floor: float = 0.05,
        explore_exposure: float = 3.0,
        explore_every: int = 10,
        pin_offset: float = 1000.0,
        refit_prior_every: int = 500,
        random_state: int = 0,
    ) -> None:
        self.n_features = n_features
        self.alpha = alpha
        self.eta0 = eta0
        self.base_rate = base_rate
        self.prior_strength = prior_strength
        self.memory_half_life_days = memory_half_life_days
        self.age_per_day = age_per_day
        self.story_boost = story_boost
        self.close_story_boost = close_story_boost
        self.manual_scale = manual_scale
        self.more_boost = more_boost
        self.more_half_life_days = more_half_life_days
        self.less_penalty = less_penalty
        self.less_half_life_days = less_half_life_days
        self.share_decay = share_decay
        self.share_floor = share_floor
        self.explore_exposure = explore_exposure
        self.explore_every = explore_every
        self.pin_offset = pin_offset
        self.refit_prior_every = refit_prior_every
        self.random_state = random_state

    # -- learning ---------------------------------------------------------------------

    def _init_state(self) -> None:
        self.item_model_: SGDClassifier | None = None
        self.people_: dict[int, PersonStat] = {}
        self.pos_ = 0.0
        self.exposure_ = 0.0
        self.prior_coef_: dict[str, float] = dict(DEFAULT_PRIOR)
        self.prior_intercept_: float | None = None  # None: the global base rate
        self.n_events_ = 0
        self.since_refit_ = 0
        self.trained_at_: datetime | None = None
        self.constants_ = LearnedConstants()
        self.constants_at_: datetime | None = None
        self.guard_ = FloorGuard()

    def fit(
        self,
        events: Sequence[Event],
        *,
        items: Sequence[ItemInfo],
        people: Sequence[PersonInfo],
        now: datetime,
        chunk_days: float = 1.0,
    ) -> Ranker:
        """Learn from scratch: replay the events in time order, a day at a time, so every
        step learns only from what came before it; then refit the prior."""
        self._init_state()
        ordered = sorted(events, key=lambda e: e.at)
        chunk: list[Event] = []
        for event in ordered:
            if chunk and (event.at - chunk[0].at).total_seconds() > chunk_days * DAY:
                self.partial_fit(chunk, items=items, people=people, now=chunk[-1].at)
                chunk = []
            chunk.append(event)
        if chunk:
            self.partial_fit(chunk, items=items, people=people, now=chunk[-1].at)
        self._refit_prior(people, now=now)
        self.trained_at_ = now
        return self

    def partial_fit(
        self,
        events: Sequence[Event],
        *,
        items: Sequence[ItemInfo],
        people: Sequence[PersonInfo],
        now: datetime,
    ) -> Ranker:
        """Learn from new feedback: the item model takes one SGD step on the items the
        events touch (with each person's affinity *before* these events, so nothing
        leaks), then the per-person counts move. First, each page in the batch moves the
        evidence of the learned constants and is judged by the floor (both with the model
        as it stood); the floor's own rule learns from the same events."""
        if not hasattr(self, "people_"):
            self._init_state()
        if not events:
            return self
        item_by_id = {i.item_id: i for i in items}
        person_by_id = {p.person_id: p for p in people}
        self._observe_pages(events, item_by_id, person_by_id, now=now)
        self._guard().rule.partial_fit(events, items=items, people=people, now=now)
        by_item: dict[int, list[Event]] = defaultdict(list)
        for event in events:
            by_item[event.item_id].append(event)
        rows: list[list[tuple[str, float]]] = []
        labels: list[int] = []
        weights: list[float] = []
        looked: dict[int, float] = {}
        for item_id, evs in by_item.items():
            info = item_by_id.get(item_id)
            feats = self._model_features(info, person_by_id, now=now) if info else None
            p = self._predict(feats) if feats is not None else self.global_rate()
            found = sample(evs, p)
            if found is None:
                continue
            label, weight = found
            looked[item_id] = weight
            if feats is not None:
                rows.append(feats)
                labels.append(label)
                weights.append(weight)
        if rows:
            model = self.item_model_ or self._new_item_model()
            model.partial_fit(
                self._matrix(rows),
                np.array(labels),
                classes=np.array([0, 1]),
                sample_weight=np.array(weights),
            )
            self.item_model_ = model
        for item_id, evs in by_item.items():
            self._count(evs, looked=looked.get(item_id, 0.0), now=now)
        self.n_events_ += len(events)
        self.since_refit_ += len(events)
        if self.since_refit_ >= self.refit_prior_every:
            self._refit_prior(people, now=now)
        self.trained_at_ = now
        return self

    def _new_item_model(self) -> SGDClassifier:
        """A logistic SGD model that starts where the untrained ranker stands: the base
        rate as intercept and the person's affinity counted once."""
        model = SGDClassifier(
            loss="log_loss",
            alpha=self.alpha,
            learning_rate="constant",
            eta0=self.eta0,
            random_state=self.random_state,
        )
        empty = sp.csr_matrix((1, self.n_features))
        model.partial_fit(empty, np.array([0]), classes=np.array([0, 1]), sample_weight=[1e-12])
        model.coef_[:] = 0.0
        model.coef_[0, self._index(AFFINITY)] = 1.0
        model.intercept_[:] = logit(self.global_rate())
        return model

    def _predict(self, feats: list[tuple[str, float]]) -> float:
        """The item model's P(engage | examined) for one row of features."""
        model = self.item_model_
        if model is None:
            aff = next((v for n, v in feats if n == AFFINITY), 0.0)
            return sigmoid(logit(self.global_rate()) + aff)
        coef = model.coef_[0]
        z = float(model.intercept_[0]) + sum(float(coef[self._index(n)]) * v for n, v in feats)
        return sigmoid(z)

    def _count(self, events: list[Event], *, looked: float, now: datetime) -> None:
        affinity_mod.count(self, events, looked=looked, now=now)

    def _refit_prior(self, people: Sequence[PersonInfo], *, now: datetime) -> None:
        affinity_mod.refit_prior(self, people, now=now)

    # -- scoring ----------------------------------------------------------------------

    def global_rate(self) -> float:
        pos, exposure = getattr(self, "pos_", 0.0), getattr(self, "exposure_", 0.0)
        return (pos + self.base_rate * 20.0) / (exposure + 20.0)

    def _prior(self, person: PersonInfo | None, *, now: datetime) -> tuple[float, list[Reason]]:
        return affinity_mod.prior(self, person, now=now)

    def affinity(self, person: PersonInfo | None, *, now: datetime) -> tuple[float, list[Reason]]:
        return affinity_mod.affinity(self, person, now=now)

    def weight(self, person: PersonInfo, *, now: datetime) -> PersonWeight:
        return affinity_mod.weight(self, person, now=now)

    def _recent(self, person: PersonInfo, *, now: datetime) -> list[Reason]:
        return affinity_mod.recent(self, person, now=now)

    def _item_view(self, item: ItemInfo) -> tuple[list[tuple[str, int, float]], str | None]:
        """An item's features with their hashed columns, and its story (cached: items are
        scored many times while they are fresh; the cache is not pickled)."""
        cache: dict[tuple[int, int, int], tuple[list[tuple[str, int, float]], str | None]]
        cache = self.__dict__.setdefault("_view_cache", {})
        key = (item.item_id, hash(item.title), hash(item.text))
        found = cache.get(key)
        if found is None:
            story = story_of(item)
            feats = item_features(item) + ([(STORY, 1.0)] if story else [])
            found = ([(n, self._index(n), v) for n, v in feats], story)
            if len(cache) > 100_000:
                cache.clear()
            cache[key] = found
        return found

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "_view_cache"}

    def _model_features(
        self, item: ItemInfo, people: dict[int, PersonInfo], *, now: datetime
    ) -> list[tuple[str, float]]:
        person = people.get(item.person_id) if item.person_id is not None else None
        feats = [(n, v) for n, _, v in self._item_view(item)[0]]
        feats.append((AFFINITY, self.affinity(person, now=now)[0]))
        return feats

    def _index(self, name: str) -> int:
        return int(murmurhash3_32(name, seed=17, positive=True)) % self.n_features

    def _matrix(self, rows: list[list[tuple[str, float]]]) -> sp.csr_matrix:
        data: list[float] = []
        indices: list[int] = []
        indptr = [0]
        for row in rows:
            merged: dict[int, float] = {}
            for name, value in row:
                i = self._index(name)
                merged[i] = merged.get(i, 0.0) + value
            indices.extend(merged)
            data.extend(merged.values())
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.array(data, dtype=np.float64), np.array(indices), np.array(indptr)),
            shape=(len(rows), self.n_features),
        )

    def _person_part(
        self, person: PersonInfo | None, *, now: datetime
    ) -> tuple[float, list[Reason], list[Reason]]:
        return affinity_mod.person_part(self, person, now=now)

    def score(
        self,
        item: ItemInfo,
        person: PersonInfo | None,
        *,
        now: datetime,
        person_part: tuple[float, list[Reason], list[Reason]] | None = None,
        floor: bool = True,
        constants: tuple[float, float, float] | None = None,
    ) -> Ranked:
        """One item's score before the page rules: the sum of its reasons. The story boost
        and the age slope are the learned ones (``constants``: story boost, age slope and
        the floor's lean, when computed once for many items); ``floor=False`` leaves the
        floor's lean toward EdgeRank-like out."""
        if not hasattr(self, "people_"):
            self._init_state()
        boost, slope, lean = constants or (
            self.learned_story_boost(),
            self.learned_age_per_day(),
            self.floor_lean(),
        )
        affinity, person_reasons, offsets = person_part or self._person_part(person, now=now)
        model = self.item_model_
        coef: np.ndarray | None = None
        if model is not None:
            coef = model.coef_[0]
            intercept = float(model.intercept_[0])
            w_aff = float(coef[self._index(AFFINITY)])
        else:
            intercept, w_aff = logit(self.global_rate()), 1.0
        reasons = [Reason(r.code, r.text, r.value * w_aff) for r in person_reasons]
        item_parts: list[tuple[str, float]] = []
        view, story = self._item_view(item)
        if coef is not None:
            item_parts = [(name, float(coef[i]) * value) for name, i, value in view]
        item_parts.sort(key=lambda p: -abs(p[1]))
        rest = 0.0
        for name, value in item_parts:
            if abs(value) >= 0.15 and name.split(":")[0] in TOLD and len(reasons) < 6:
                reasons.append(Reason("item", describe_feature(name), value))
            else:
                rest += value
        if abs(rest) >= 0.005:
            reasons.append(Reason("item", "other features of this post", rest))
        probability = sigmoid(intercept + w_aff * affinity + sum(v for _, v in item_parts))
        if floor and lean > 0:
            learned = sum(r.value for r in reasons if r.code in LEARNED_CODES)
            rule, _ = self._guard().rule.parts(item, person, now=now)
            text = "lately your interactions alone rank better for you"
            reasons.append(Reason("floor", text, lean * (rule - learned)))
        reasons.extend(offsets)
        if story is not None:
            close = person is not None and is_close(person.relationships)
            reasons.append(Reason("story", story, max(boost, self.story_boost) if close else boost))
            if close:
                reasons.append(
                    Reason("story", "big news from someone close to you", self.close_story_boost)
                )
        reasons.append(self.age_reason(item.published, now=now))
        fresh = self.freshness_reason(item.published, now=now, slope=slope)
        if fresh is not None:
            reasons.append(fresh)
        return Ranked(
            item_id=item.item_id,
            person_id=item.person_id,
            score=sum(r.value for r in reasons),
            probability=probability,
            why=tuple(reasons),
            pinned=bool(person is not None and person.pinned),
        )

    def age_reason(self, published: datetime, *, now: datetime) -> Reason:
        days = max((now - published).total_seconds(), 0.0) / DAY
        if days < 1:
            text = f"posted {max(int(days * 24), 0)} h ago"
        else:
            text = f"posted {days:.0f} days ago" if days >= 1.5 else "posted a day ago"
        return Reason("age", text, -self.age_per_day * days)

    def freshness_reason(
        self, published: datetime, *, now: datetime, slope: float | None = None
    ) -> Reason | None:
        """The learned age slope's difference from the stored key's (``age_per_day``),
        frozen at scoring time so stored keys keep their order (rescoring refreshes it)."""
        slope = self.learned_age_per_day() if slope is None else slope
        days = max((now - published).total_seconds(), 0.0) / DAY
        value = -(slope - self.age_per_day) * days
        if abs(value) < 0.005:
            return None
        text = "you read fresh posts first" if value < 0 else "you catch up on older posts"
        return Reason("freshness", text, value)

    def rank(
        self,
        items: Sequence[ItemInfo],
        people: Sequence[PersonInfo],
        *,
        now: datetime,
        read: Collection[int] = (),
    ) -> list[Ranked]:
        """A ranked page, best first: scores, then the rules (mute, pin, shares of a
        page, exploration slots; the ids in ``read`` after the unread items)."""
        by_id = {p.person_id: p for p in people}
        scored = self.score_all(items, by_id, now=now)
        return self.arrange(scored, by_id, read=read)

    def score_all(
        self,
        items: Sequence[ItemInfo],
        people: dict[int, PersonInfo],
        *,
        now: datetime,
        floor: bool = True,
    ) -> list[Ranked]:
        """Score many items, each person's part (and the learned constants) computed once."""
        if not hasattr(self, "people_"):
            self._init_state()
        constants = (self.learned_story_boost(), self.learned_age_per_day(), self.floor_lean())
        parts = {
            pid: self._person_part(people.get(pid) if pid is not None else None, now=now)
            for pid in {i.person_id for i in items}
        }
        return [
            self.score(
                i,
                people.get(i.person_id) if i.person_id is not None else None,
                now=now,
                person_part=parts[i.person_id],
                floor=floor,
                constants=constants,
            )
            for i in items
        ]

    def arrange(
        self,
        scored: Sequence[Ranked],
        people: dict[int, PersonInfo],
        *,
        explore: bool = True,
        read: Collection[int] = (),
    ) -> list[Ranked]:
        """The page rules on scored items (:func:`ranking.page.arrange`): muted people out;
        the k-th item of a person scaled by their learned share ``**(k-1)``; pinned people
        first; then one slot in every (learned) ``explore_every`` for a person the model
        has barely seen (``explore=False`` when only some people's items are rescored: the
        slots need the whole page); items in ``read`` after the unread ones."""
        if not hasattr(self, "people_"):
            self._init_state()
        user_share = self.learned_share()
        constants = self._constants()
        return page.arrange(
            scored,
            people,
            share_of=lambda pid: constants.share_of(pid, user_share),
            share_floor=self.share_floor,
            pin_offset=self.pin_offset,
            barely_seen=self._barely_seen,
            explore_every=self.learned_explore_every(),
            explore=explore,
            read=read,
        )

    def _key(self, r: Ranked) -> float:
        return page.key(r, self.pin_offset)

    def _barely_seen(self, r: Ranked) -> bool:
        if r.person_id is None:
            return False
        stat = self.people_.get(r.person_id)
        return stat is None or stat.exposure < self.explore_exposure

    # -- the learned constants and the floor ------------------------------------------

    def _constants(self) -> LearnedConstants:
        found = self.__dict__.get("constants_")
        if not isinstance(found, LearnedConstants):
            found = self.constants_ = LearnedConstants()
        return found

    def _guard(self) -> FloorGuard:
        found = self.__dict__.get("guard_")
        if not isinstance(found, FloorGuard):
            found = self.guard_ = FloorGuard()
        return found

    def learned_share(self) -> float:
        """The share of a person's k-th item on a page, per step (prior ``share_decay``)."""
        return self._constants().share(self.share_decay)

    def learned_story_boost(self) -> float:
        """The story boost (prior ``story_boost``; never below it for close people)."""
        return self._constants().story_boost(self.story_boost)

    def learned_age_per_day(self) -> float:
        """Log-odds lost per day of age (prior ``age_per_day``)."""
        return self._constants().age_slope(self.age_per_day)

    def learned_explore_every(self) -> int:
        """One exploration slot in every N (prior ``explore_every``)."""
        if self.explore_every < 2:
            return self.explore_every
        return self._constants().explore_every(self.explore_every)

    def floor_lean(self) -> float:
        """How far the learned part of each score leans toward EdgeRank-like (0..1)."""
        return self._guard().lean

    def floor_stats(self) -> tuple[int, int]:
        """(pages judged, pages after which the floor leaned toward the rule)."""
        guard = self._guard()
        return guard.checks, guard.triggered

    def _observe_pages(
        self,
        events: Sequence[Event],
        item_by_id: dict[int, ItemInfo],
        person_by_id: dict[int, PersonInfo],
        *,
        now: datetime,
    ) -> None:
        observe_pages(self, events, item_by_id, person_by_id, now=now)

    # -- storage helpers --------------------------------------------------------------

    def storage_key(self, r: Ranked, *, published: datetime, now: datetime) -> float:
        """A sort key that stays in order as time passes: the score without its age
        term, plus the age slope times the publication time (and the pin offset)."""
        age = next((x.value for x in r.why if x.code == "age"), 0.0)
        days = (published - EPOCH).total_seconds() / DAY
        return self._key(r) - age + self.age_per_day * days

    def display_score(self, key: float, *, pinned: bool, now: datetime) -> float:
        """The score at ``now`` of an item stored with ``key`` (the inverse of
        :meth:`storage_key`)."""
        days = (now - EPOCH).total_seconds() / DAY
        return key - (self.pin_offset if pinned else 0.0) - self.age_per_day * days


def provisional_key(published: datetime, *, age_per_day: float = AGE_PER_DAY) -> float:
    """The storage key of an item not scored yet: a score of zero at its age."""
    return age_per_day * (published - EPOCH).total_seconds() / DAY
