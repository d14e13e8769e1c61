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

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.utils import murmurhash3_32

from ranking.features import (
    DAY,
    describe_feature,
    is_close,
    item_features,
    person_features,
    story_of,
)
from ranking.types import ENGAGEMENTS, Event, ItemInfo, PersonInfo, Ranked, Reason

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
AGE_PER_DAY = 0.3  # log-odds lost per day of age (mild)
AFFINITY = "person:affinity"
TOLD = frozenset({"tag", "word", "mentions_you", "your_thread", "link", "media"})
STORY = "story"
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
        leaks), then the per-person counts move."""
        if not hasattr(self, "people_"):
            self._init_state()
        if not events:
            return self
        item_by_id = {i.item_id: i for i in items}
        person_by_id = {p.person_id: p for p in people}
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
            sample = _sample(evs, p)
            if sample is None:
                continue
            label, weight = sample
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
        """Move a person's counts; older counts fade (``memory_half_life_days``) so the
        model follows people you are drifting towards or away from."""
        person_id = next((e.person_id for e in events if e.person_id is not None), None)
        if person_id is None:
            return
        stat = self.people_.setdefault(person_id, PersonStat())
        if stat.at is not None and now > stat.at:
            fade = 0.5 ** ((now - stat.at).total_seconds() / DAY / self.memory_half_life_days)
            stat.pos, stat.exposure = stat.pos * fade, stat.exposure * fade
        stat.at = max(now, stat.at) if stat.at is not None else now
        actions = {e.action for e in events}
        pos = exposure = 0.0
        if actions & set(ENGAGEMENTS):
            pos, exposure = 1.0, 1.0
            stat.opens += 1
        elif "hide" in actions:
            exposure = 2.0
        elif "seen" in actions:
            exposure = looked
        if "like" in actions:
            pos, exposure, stat.likes = pos + 0.5, exposure + 0.5, stat.likes + 1
        if "reply" in actions:
            pos, exposure, stat.replies = pos + 0.5, exposure + 0.5, stat.replies + 1
        stat.hides += "hide" in actions
        for e in events:
            if e.action == "more":
                pos, exposure = pos + 2.0, exposure + 2.0
                stat.more = [*stat.more[-4:], e.at]
            elif e.action == "less":
                exposure += 2.0
                stat.less = [*stat.less[-4:], e.at]
        stat.pos += pos
        stat.exposure += exposure
        self.pos_ += pos
        self.exposure_ += exposure

    def _refit_prior(self, people: Sequence[PersonInfo], *, now: datetime) -> None:
        """Empirical Bayes: fit the prior's weights on people seen often enough."""
        self.since_refit_ = 0
        rows, ys, ws = [], [], []
        for p in people:
            stat = self.people_.get(p.person_id)
            if stat is None or stat.exposure < 2.0:
                continue
            feats = person_features(p, now=now)
            pos = min(stat.pos, stat.exposure)
            rows += [feats, feats]
            ys += [1, 0]
            ws += [pos + 1e-6, stat.exposure - pos + 1e-6]
        if len(rows) < 20:
            return
        names = sorted(DEFAULT_PRIOR)
        x = np.array([[r.get(n, 0.0) for n in names] for r in rows])
        model = LogisticRegression(C=1.0)
        model.fit(x, np.array(ys), sample_weight=np.array(ws))
        self.prior_coef_ = {n: float(c) for n, c in zip(names, model.coef_[0], strict=True)}
        self.prior_intercept_ = float(model.intercept_[0])

    # -- scoring ----------------------------------------------------------------------

    def global_rate(self) -> float:
        pos, exposure = getattr(self, "pos_", 0.0), getattr(self, "exposure_", 0.0)
        return (pos + self.base_rate * 20.0) / (exposure + 20.0)

    def _prior(self, person: PersonInfo | None, *, now: datetime) -> tuple[float, list[Reason]]:
        """The prior log-odds of engaging with a person, and its words."""
        if not hasattr(self, "people_"):
            self._init_state()
        intercept = self.prior_intercept_
        base = logit(self.global_rate())
        if person is None:
            return (intercept if intercept is not None else base), []
        parts = [
            (name, self.prior_coef_.get(name, 0.0) * value)
            for name, value in person_features(person, now=now).items()
        ]
        total = (intercept if intercept is not None else base) + sum(v for _, v in parts)
        name = person.name or "them"
        words = [
            PRIOR_WORDS[n].format(name=name) for n, v in sorted(parts, key=lambda p: -abs(p[1]))
        ]
        text = "; ".join(words[:2]) if words else f"little is known of {name} yet"
        return total, [Reason("relationship", text, total - base)]

    def affinity(self, person: PersonInfo | None, *, now: datetime) -> tuple[float, list[Reason]]:
        """A person's learned affinity over the base rate (log-odds), and its words: the
        relationship prior, then what your feedback says."""
        prior, reasons = self._prior(person, now=now)
        base = logit(self.global_rate())
        stat = self.people_.get(person.person_id) if person is not None else None
        if stat is None or stat.exposure <= 0:
            return prior - base, reasons
        p0 = 1 / (1 + math.exp(-prior))
        m = self.prior_strength
        posterior = logit((stat.pos + m * p0) / (stat.exposure + m))
        name = person.name if person is not None and person.name else "them"
        evidence = posterior - prior
        if evidence >= 0:
            verbs = (
                ["open"] + (["like"] if stat.likes else []) + (["reply to"] if stat.replies else [])
            )
            how = ", ".join(verbs[:-1]) + (" and " if len(verbs) > 1 else "") + verbs[-1]
            text = f"you often {how} {name}’s posts"
        elif stat.hides:
            text = f"you seldom open {name}’s posts and hid some"
        else:
            text = f"you seldom open {name}’s posts"
        return posterior - base, [*reasons, Reason("affinity", text, evidence)]

    def weight(self, person: PersonInfo, *, now: datetime) -> PersonWeight:
        """A person's weight as the weights API shows it."""
        learned, _ = self.affinity(person, now=now)
        recent = sum(r.value for r in self._recent(person, now=now))
        manual = person.manual_weight
        return PersonWeight(
            learned=round(learned, 4),
            manual=manual,
            recent=round(recent, 4),
            effective=round(learned + (manual or 0.0) * self.manual_scale + recent, 4),
            pinned=person.pinned,
            muted=person.muted,
            exposure=round(self.people_.get(person.person_id, PersonStat()).exposure, 3),
        )

    def _recent(self, person: PersonInfo, *, now: datetime) -> list[Reason]:
        stat = self.people_.get(person.person_id)
        if stat is None:
            return []
        out = []
        name = person.name or "them"
        more = sum(
            0.5 ** (max((now - at).total_seconds(), 0.0) / DAY / self.more_half_life_days)
            for at in stat.more
        )
        if more > 0.05:
            value = self.more_boost * min(more, 2.0)
            out.append(Reason("more", f"you asked for more from {name}", value))
        less = sum(
            0.5 ** (max((now - at).total_seconds(), 0.0) / DAY / self.less_half_life_days)
            for at in stat.less
        )
        if less > 0.05:
            value = -self.less_penalty * min(less, 2.0)
            out.append(Reason("less", f"you asked for less from {name} (fading)", value))
        return out

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
        """A person's affinity and its reasons, then their manual and recent reasons."""
        affinity, reasons = self.affinity(person, now=now)
        offsets: list[Reason] = []
        if person is not None:
            if person.manual_weight:
                value = person.manual_weight * self.manual_scale
                verb = "more" if value > 0 else "less"
                name = person.name or "them"
                offsets.append(Reason("manual", f"you set: listen {verb} to {name}", value))
            offsets.extend(self._recent(person, now=now))
        return affinity, reasons, offsets

    def score(
        self,
        item: ItemInfo,
        person: PersonInfo | None,
        *,
        now: datetime,
        person_part: tuple[float, list[Reason], list[Reason]] | None = None,
    ) -> Ranked:
        """One item's score before the page rules: the sum of its reasons."""
        if not hasattr(self, "people_"):
            self._init_state()
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
        reasons.extend(offsets)
        if story is not None:
            reasons.append(Reason("story", story, self.story_boost))
            if person is not None and is_close(person.relationships):
                reasons.append(
                    Reason("story", "big news from someone close to you", self.close_story_boost)
                )
        reasons.append(self.age_reason(item.published, now=now))
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

    def rank(
        self, items: Sequence[ItemInfo], people: Sequence[PersonInfo], *, now: datetime
    ) -> list[Ranked]:
        """A ranked page, best first: scores, then the rules (mute, pin, shares of a
        page, exploration slots)."""
        by_id = {p.person_id: p for p in people}
        scored = self.score_all(items, by_id, now=now)
        return self.arrange(scored, by_id)

    def score_all(
        self, items: Sequence[ItemInfo], people: dict[int, PersonInfo], *, now: datetime
    ) -> list[Ranked]:
        """Score many items, each person's part computed once."""
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
            )
            for i in items
        ]

    def arrange(
        self, scored: Sequence[Ranked], people: dict[int, PersonInfo], *, explore: bool = True
    ) -> list[Ranked]:
        """The page rules on scored items: muted people out; the k-th item of a person
        scaled by ``share_decay**(k-1)``; pinned people first; then one slot in every
        ``explore_every`` for a person the model has barely seen (``explore=False`` when
        only some people's items are rescored: the slots need the whole page)."""
        muted = {pid for pid, p in people.items() if p.muted}
        kept = sorted(
            (r for r in scored if r.person_id not in muted), key=lambda r: (-r.score, r.item_id)
        )
        count: dict[int, int] = defaultdict(int)
        shared: list[Ranked] = []
        floor = math.log(self.share_floor)
        for r in kept:
            if r.person_id is None:
                shared.append(r)
                continue
            count[r.person_id] += 1
            k = count[r.person_id]
            if k == 1:
                shared.append(r)
                continue
            value = max((k - 1) * math.log(self.share_decay), floor)
            name = people[r.person_id].name if r.person_id in people else "them"
            reason = Reason(
                "share",
                f"{ordinal(k)} item from {name or 'them'} here x{math.exp(value):.2f}",
                value,
            )
            shared.append(_with(r, reason))
        ordered = sorted(shared, key=lambda r: (-self._key(r), r.item_id))
        return self._explore(ordered, people) if explore else ordered

    def _key(self, r: Ranked) -> float:
        return r.score + (self.pin_offset if r.pinned else 0.0)

    def _barely_seen(self, r: Ranked) -> bool:
        if r.person_id is None:
            return False
        stat = self.people_.get(r.person_id)
        return stat is None or stat.exposure < self.explore_exposure

    def _explore(self, ordered: list[Ranked], people: dict[int, PersonInfo]) -> list[Ranked]:
        every = self.explore_every
        if every < 2 or not any(self._barely_seen(r) for r in ordered):
            return ordered
        out = list(ordered)
        for start in range(0, len(out), every):
            block = out[start : start + every]
            if len(block) < every or any(self._barely_seen(r) for r in block):
                continue
            slot = start + every - 1
            pick = next((j for j in range(slot + 1, len(out)) if self._barely_seen(out[j])), None)
            if pick is None or out[slot].pinned:
                break
            chosen = out.pop(pick)
            target = self._key(out[slot]) + 1e-6
            person = people.get(chosen.person_id) if chosen.person_id is not None else None
            name = person.name if person is not None and person.name else "someone new"
            bump = Reason(
                "explore", f"Kith is still learning about {name}", target - self._key(chosen)
            )
            out.insert(slot, _with(chosen, bump))
        return out

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


def _sample(events: list[Event], p: float) -> tuple[int, float] | None:
    """The label and weight an item's events give the learners. Engaged is 1 and hidden
    is 0, both surely looked at; shown without a reaction is 0 weighted by the chance it
    was looked at *given* no reaction: e(1 - p) / (1 - e p), with e the examination
    chance of its rank and p the current P(engage | examined) (position-bias EM)."""
    actions = {e.action for e in events}
    if actions & set(ENGAGEMENTS):
        return 1, 1.0
    if "hide" in actions:
        return 0, 1.0
    if "seen" in actions:
        rank = min((e.rank for e in events if e.action == "seen" and e.rank), default=None)
        e = examination(rank)
        return 0, e * (1 - p) / max(1 - e * p, 1e-6)
    return None


def _with(r: Ranked, reason: Reason) -> Ranked:
    return Ranked(
        item_id=r.item_id,
        person_id=r.person_id,
        score=r.score + reason.value,
        probability=r.probability,
        why=(*r.why, reason),
        pinned=r.pinned,
    )
