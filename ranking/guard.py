"""A floor against a simple rule: the learned order must beat EdgeRank-like on recent
feedback, or lean toward it.

The guard keeps an :class:`ranking.baselines.EdgeRankLike` fed with the same events.
On every batch of impressions (a page the reader scrolled) both orders are scored on
those same impressions: each ranker's order of the shown items, with every engagement
counted by the inverse of the chance its rank was looked at (so the order that was
shown earns no credit for having been shown), as NDCG@10. A running mean of the
difference decides the lean: when the rule has been doing better, the learned part of
each score (relationship, affinity, item features) moves a step toward the rule's
(log affinity + log edge weight); when the learned order is better again, it steps
back. Manual weights, pins, mutes, more/less and stories are never blended.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ranking.baselines import EdgeRankLike
from ranking.learning import examination

MEMORY = 0.15  # weight of the newest batch in the running mean
MARGIN = 0.01  # NDCG the rule must be ahead by before the lean grows
STEP_UP = 0.25
STEP_DOWN = 0.1


@dataclass(slots=True)
class FloorGuard:
    """The rule, the running difference (rule minus learned) and the lean (0..1)."""

    rule: EdgeRankLike = field(default_factory=EdgeRankLike)
    gap: float = 0.0
    lean: float = 0.0
    checks: int = 0
    triggered: int = 0  # batches after which the lean was above 0

    def judge(
        self,
        shown: Sequence[tuple[int, float, float, float]],
    ) -> None:
        """Score both orders on one page's impressions: (rank, engaged, learned score,
        rule score) per item; then move the lean."""
        if len(shown) < 3 or not any(y > 0 for _, y, _, _ in shown):
            return
        gains = [y / examination(rank) for rank, y, _, _ in shown]
        learned = _ndcg(gains, [s for _, _, s, _ in shown])
        rule = _ndcg(gains, [r for _, _, _, r in shown])
        self.gap = (1 - MEMORY) * self.gap + MEMORY * (rule - learned)
        self.checks += 1
        if self.gap > MARGIN:
            self.lean = min(self.lean + STEP_UP, 1.0)
        elif self.gap < -MARGIN:
            self.lean = max(self.lean - STEP_DOWN, 0.0)
        self.triggered += self.lean > 0

    def share_triggered(self) -> float:
        return self.triggered / self.checks if self.checks else 0.0


def _ndcg(gains: list[float], scores: list[float], k: int = 10) -> float:
    order = sorted(range(len(gains)), key=lambda i: -scores[i])
    dcg = sum(gains[i] / math.log2(pos + 2) for pos, i in enumerate(order[:k]))
    ideal = sum(g / math.log2(pos + 2) for pos, g in enumerate(sorted(gains, reverse=True)[:k]))
    return dcg / ideal if ideal > 0 else 0.0
