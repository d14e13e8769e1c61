"""The page rules, applied to scored items: muted people out, the k-th item of one
person scaled by that person's learned share, pinned people first, exploration slots
for people barely seen, and items already read below the unread ones."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence

from ranking.learning import ordinal, with_reason
from ranking.types import PersonInfo, Ranked, Reason


def key(r: Ranked, pin_offset: float) -> float:
    return r.score + (pin_offset if r.pinned else 0.0)


def arrange(
    scored: Sequence[Ranked],
    people: dict[int, PersonInfo],
    *,
    share_of: Callable[[int], float],
    share_floor: float,
    pin_offset: float,
    barely_seen: Callable[[Ranked], bool],
    explore_every: int,
    explore: bool = True,
    read: Collection[int] = (),
) -> list[Ranked]:
    """Muted out; the k-th item of a person scaled by ``share_of(person)**(k-1)`` (floor
    ``share_floor``); pinned first; one slot in every ``explore_every`` for someone barely
    seen; then every item in ``read`` after the unread ones (in the same order)."""
    muted = {pid for pid, p in people.items() if p.muted}
    kept = sorted(
        (r for r in scored if r.person_id not in muted), key=lambda r: (-r.score, r.item_id)
    )
    count: dict[int, int] = defaultdict(int)
    shared: list[Ranked] = []
    floor = math.log(share_floor)
    for r in kept:
        if r.person_id is None:
            shared.append(r)
            continue
        count[r.person_id] += 1
        k = count[r.person_id]
        if k == 1:
            shared.append(r)
            continue
        share = min(max(share_of(r.person_id), share_floor), 1.0)
        value = max((k - 1) * math.log(share), floor)
        if value == 0.0:
            shared.append(r)
            continue
        name = people[r.person_id].name if r.person_id in people else "them"
        reason = Reason(
            "share", f"{ordinal(k)} item from {name or 'them'} here x{math.exp(value):.2f}", value
        )
        shared.append(with_reason(r, reason))
    ordered = sorted(shared, key=lambda r: (-key(r, pin_offset), r.item_id))
    if explore:
        ordered = _explore(ordered, people, barely_seen, explore_every, pin_offset)
    if read:
        done = set(read)
        ordered = [r for r in ordered if r.item_id not in done] + [
            r for r in ordered if r.item_id in done
        ]
    return ordered


def _explore(
    ordered: list[Ranked],
    people: dict[int, PersonInfo],
    barely_seen: Callable[[Ranked], bool],
    every: int,
    pin_offset: float,
) -> list[Ranked]:
    if every < 2 or not any(barely_seen(r) for r in ordered):
        return ordered
    out = list(ordered)
    for start in range(0, len(out), every):
        block = out[start : start + every]
        if len(block) < every or any(barely_seen(r) for r in block):
            continue
        slot = start + every - 1
        pick = next((j for j in range(slot + 1, len(out)) if barely_seen(out[j])), None)
        if pick is None or out[slot].pinned:
            break
        chosen = out.pop(pick)
        target = key(out[slot], pin_offset) + 1e-6
        person = people.get(chosen.person_id) if chosen.person_id is not None else None
        name = person.name if person is not None and person.name else "someone new"
        bump = Reason(
            "explore", f"Kith is still learning about {name}", target - key(chosen, pin_offset)
        )
        out.insert(slot, with_reason(chosen, bump))
    return out
