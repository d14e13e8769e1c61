"""What one batch of feedback says about the learned constants and the floor: the
batch is cut into pages (impressions close in time), each impression is tallied against
the model's expectation (:mod:`ranking.constants`), and each page is judged for the floor
(:mod:`ranking.guard`), all with the model as it stood before the batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ranking.features import DAY
from ranking.learning import READ, examination, logit, sigmoid
from ranking.types import ENGAGEMENTS, Event, ItemInfo, PersonInfo

if TYPE_CHECKING:
    from ranking.model import Ranker

PAGE_SECONDS = 600.0  # impressions this close in time are one page
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
STORY = "story"  # the item model's story feature (ranking.model.STORY)


def observe_pages(
    ranker: Ranker,
    events: Sequence[Event],
    item_by_id: dict[int, ItemInfo],
    person_by_id: dict[int, PersonInfo],
    *,
    now: datetime,
) -> None:
    """Before learning from a batch: every page in it (impressions close in time)
    moves the constants' evidence and is judged by the floor, with the model as it
    stood before the batch."""
    pages: dict[int, dict[int, list[Event]]] = defaultdict(lambda: defaultdict(list))
    for e in events:
        pages[int((e.at - EPOCH).total_seconds() // PAGE_SECONDS)][e.item_id].append(e)
    constants, guard = ranker._constants(), ranker._guard()
    last = ranker.__dict__.get("constants_at_")
    if isinstance(last, datetime) and now > last:
        days = (now - last).total_seconds() / DAY
        constants.fade(0.5 ** (days / ranker.memory_half_life_days))
    ranker.constants_at_ = now
    story_col = ranker._index(STORY)
    for by_item in pages.values():
        shown: list[tuple[int, ItemInfo, set[str]]] = []
        for item_id, evs in by_item.items():
            rank = min((e.rank for e in evs if e.action == "seen" and e.rank), default=None)
            info = item_by_id.get(item_id)
            actions = {e.action for e in evs}
            if rank is None or info is None or (READ in actions and not actions - {"seen", READ}):
                continue
            shown.append((rank, info, actions))
        if not shown:
            continue
        shown.sort(key=lambda t: t[0])
        scored = {
            r.item_id: r
            for r in ranker.score_all([i for _, i, _ in shown], person_by_id, now=now, floor=False)
        }
        k_of: dict[int | None, int] = defaultdict(int)
        judged: list[tuple[int, float, float, float]] = []
        coef = ranker.item_model_.coef_[0] if ranker.item_model_ is not None else None
        for rank, info, actions in shown:
            k_of[info.person_id] += 1
            y = 1.0 if actions & set(ENGAGEMENTS) else 0.0
            r = scored[info.item_id]
            p = r.probability
            story = ranker._item_view(info)[1] is not None
            p_plain = p
            if story and coef is not None:
                p_plain = sigmoid(logit(p) - float(coef[story_col]))
            stat = ranker.people_.get(info.person_id) if info.person_id is not None else None
            constants.observe(
                y=y,
                exam=examination(rank),
                p=p,
                p_plain=p_plain,
                k=k_of[info.person_id],
                person_id=info.person_id,
                story=story,
                hidden="hide" in actions,
                age_days=max((now - info.published).total_seconds(), 0.0) / DAY,
                barely_seen=stat is None or stat.exposure < ranker.explore_exposure,
            )
            person = person_by_id.get(info.person_id) if info.person_id is not None else None
            learned_part, decay = guard.rule.parts(info, person, now=now)
            judged.append((rank, y, r.score, learned_part + decay))
        guard.judge(judged)
