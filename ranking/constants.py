"""The ranker's constants, learned per user: the share of a person's k-th item on a
page, the story boost, the age penalty and the exploration rate.

Each starts at today's hand-set value (the prior) and moves with evidence, by the same
empirical-Bayes step the person affinity uses: a tally of engagements seen against
engagements expected (the item model's P(engage | examined) times the chance the rank
was looked at) for a group of impressions, and a posterior that weighs the prior as
``strength`` expected engagements. With no feedback every constant is its prior, so cold
start ranks exactly as before; a reader who contradicts a prior is followed.

- **share**: impressions of a person's 2nd, 3rd ... item on one page against their
  first; a reader who opens the later ones as readily moves the share toward 1 (per
  person too, shrunk toward the user's share: a loved prolific friend keeps their posts
  near the top while a flood stays down);
- **story boost**: stories against ordinary posts, with the story feature's own weight
  taken out; hides count as strong skips. For people close to you the boost never goes
  below its prior (a rule, like pinning);
- **age**: engagement against expectation by the age at impression (a weighted slope of
  the log ratio over age bins); the prior is the stored key's own slope;
- **exploration**: items of people barely seen against the rest: explore more when new
  people turn out well, less when they do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

AGE_BINS = (0.5, 1.5, 3.0)  # upper bounds (days) of the age bins; the last is open


@dataclass(slots=True)
class Tally:
    """Engagements seen and expected for one group of impressions."""

    seen: float = 0.0
    expected: float = 0.0

    def add(self, y: float, expected: float) -> None:
        self.seen += y
        self.expected += expected

    def fade(self, factor: float) -> None:
        self.seen *= factor
        self.expected *= factor

    def ratio(self, smoothing: float = 0.5) -> float:
        return (self.seen + smoothing) / (self.expected + smoothing)


def shrink(prior: float, target: float, evidence: float, strength: float) -> float:
    """The posterior of a constant: ``prior`` weighing ``strength`` against ``evidence``."""
    if evidence <= 0:
        return prior
    return (strength * prior + evidence * target) / (strength + evidence)


@dataclass(slots=True)
class LearnedConstants:
    """The evidence behind the learned constants (mutable learned state of a Ranker)."""

    first: Tally = field(default_factory=Tally)  # a person's first item on a page
    later: Tally = field(default_factory=Tally)  # their 2nd, 3rd ...
    first_by: dict[int, Tally] = field(default_factory=dict)
    later_by: dict[int, Tally] = field(default_factory=dict)
    story: Tally = field(default_factory=Tally)
    plain: Tally = field(default_factory=Tally)
    ages: list[Tally] = field(default_factory=lambda: [Tally() for _ in range(len(AGE_BINS) + 1)])
    age_sum: list[float] = field(default_factory=lambda: [0.0] * (len(AGE_BINS) + 1))
    new: Tally = field(default_factory=Tally)  # people barely seen
    known: Tally = field(default_factory=Tally)

    def fade(self, factor: float) -> None:
        """Older evidence counts less (the person memory's half-life)."""
        for t in (self.first, self.later, self.story, self.plain, self.new, self.known):
            t.fade(factor)
        for by in (self.first_by, self.later_by):
            for t in by.values():
                t.fade(factor)
        for t in self.ages:
            t.fade(factor)
        self.age_sum = [a * factor for a in self.age_sum]

    def observe(
        self,
        *,
        y: float,
        exam: float,
        p: float,
        p_plain: float,
        k: int,
        person_id: int | None,
        story: bool,
        hidden: bool,
        age_days: float,
        barely_seen: bool,
    ) -> None:
        """One impression: engaged ``y`` (0/1), looked-at chance ``exam``, the model's
        ``p`` (``p_plain``: without the story feature), ``k``-th item of its person on
        the page, its story flag, whether it was hidden and its age."""
        e = 1.0 if hidden else exam
        expected = e * p
        if person_id is not None:
            group, by = (self.first, self.first_by) if k <= 1 else (self.later, self.later_by)
            group.add(y, expected)
            by.setdefault(person_id, Tally()).add(y, expected)
        weight = 3.0 if hidden else 1.0  # a hide says more than a skip
        if story:
            self.story.add(y, weight * e * p_plain)
        else:
            self.plain.add(y, e * p)
        b = next((i for i, top in enumerate(AGE_BINS) if age_days < top), len(AGE_BINS))
        self.ages[b].add(y, expected)
        self.age_sum[b] += expected * age_days
        (self.new if barely_seen else self.known).add(y, expected)

    # -- the constants ----------------------------------------------------------------

    def share(self, prior: float, strength: float = 6.0) -> float:
        """The user's share of a person's k-th item (per step), from the prior."""
        return _share(self.later, self.first, prior, strength)

    def share_of(self, person_id: int, user_share: float, strength: float = 3.0) -> float:
        """One person's share, shrunk toward the user's."""
        later = self.later_by.get(person_id)
        if later is None:
            return user_share
        return _share(later, self.first_by.get(person_id, Tally()), user_share, strength)

    def story_boost(self, prior: float, strength: float = 6.0) -> float:
        """The story boost: log of how much more than an ordinary post a story engages."""
        if self.story.expected <= 0 or self.plain.expected < 1.0:
            return prior
        target = math.log(self.story.ratio() / self.plain.ratio())
        return shrink(prior, min(max(target, -2.0), 5.0), self.story.expected, strength)

    def age_slope(self, prior: float, strength: float = 10.0) -> float:
        """Log-odds lost per day of age: the weighted slope of log(seen/expected)."""
        pts = [
            (self.age_sum[i] / t.expected, math.log(t.ratio()), t.expected)
            for i, t in enumerate(self.ages)
            if t.expected > 0.5
        ]
        if len(pts) < 2:
            return prior
        wsum = sum(w for _, _, w in pts)
        mx = sum(x * w for x, _, w in pts) / wsum
        my = sum(y * w for _, y, w in pts) / wsum
        sxx = sum(w * (x - mx) ** 2 for x, _, w in pts)
        if sxx <= 1e-9:
            return prior
        slope = -sum(w * (x - mx) * (y - my) for x, y, w in pts) / sxx
        old = sum(t.expected for t in self.ages[1:])
        return shrink(prior, min(max(slope, 0.0), 2.0), old, strength)

    def explore_every(self, prior: int, strength: float = 4.0) -> int:
        """One exploration slot in every N: more often when barely-seen people engage."""
        if self.new.expected < 1.0 or self.known.expected < 1.0:
            return prior
        ratio = min(max(self.new.ratio() / self.known.ratio(), 0.25), 3.0)
        rate = shrink(1.0 / prior, ratio / prior, self.new.expected, strength)
        return int(min(max(round(1.0 / rate), 3), 40))


def _share(later: Tally, first: Tally, prior: float, strength: float) -> float:
    if later.expected <= 0 or first.expected < 0.5:
        return prior
    target = min(max(later.ratio() / first.ratio(), 0.05), 1.0)
    return math.exp(shrink(math.log(prior), math.log(target), later.expected, strength))
