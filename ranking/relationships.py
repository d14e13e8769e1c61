"""Relationship stats and drifting: pure functions of contact histories and ``now``.

A person is *drifting* when the time since the last contact with them (either way)
exceeds ``k`` times their own usual gap between contacts (or an explicit cadence), while
they are still active (posting). Any contact resets the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class History:
    """What is known of the contact with one person, oldest contact first."""

    person_id: int
    contacts: Sequence[datetime]  # interactions either way, sorted ascending
    posts: Sequence[datetime] = ()  # their recent items, any order
    valued: bool = False
    cadence_days: float | None = None  # the user's own "every N days", overrides learning
    snoozed_until: datetime | None = None
    dismissed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Drift:
    person_id: int
    days_since_contact: float
    usual_gap_days: float
    why: str


def usual_gap_days(times: Sequence[datetime], *, default: float) -> float:
    """The median gap between consecutive contacts, in days; ``default`` with fewer than
    three contacts (two gaps) to learn from."""
    if len(times) < 3:
        return default
    gaps = [(b - a).total_seconds() / DAY for a, b in zip(times, times[1:], strict=False)]
    return max(median(gaps), 0.5)


def is_active(posts: Iterable[datetime], *, now: datetime, within_days: float) -> bool:
    """Still posting: something within ``within_days`` (or three of their usual post gaps)."""
    ordered = sorted(posts)
    if not ordered:
        return False
    window = within_days
    if len(ordered) >= 3:
        window = max(window, 3 * usual_gap_days(ordered, default=within_days))
    return (now - ordered[-1]).total_seconds() / DAY <= window


def drifting(
    histories: Iterable[History],
    *,
    now: datetime,
    k: float = 3.0,
    default_gap_days: float = 14.0,
    active_within_days: float = 30.0,
) -> list[Drift]:
    """The valued people the user is drifting away from, most overdue first."""
    found: list[tuple[float, Drift]] = []
    for h in histories:
        if not h.valued or not h.contacts:
            continue
        if h.snoozed_until is not None and h.snoozed_until > now:
            continue
        last = h.contacts[-1]
        if h.dismissed_at is not None and h.dismissed_at >= last:
            continue  # dismissed for this silence; a new contact starts a new one
        since = (now - last).total_seconds() / DAY
        gap = h.cadence_days or usual_gap_days(h.contacts, default=default_gap_days)
        threshold = gap if h.cadence_days else k * gap
        if since <= threshold or not is_active(h.posts, now=now, within_days=active_within_days):
            continue
        basis = (
            f"your cadence for them is every {gap:.0f} days"
            if h.cadence_days
            else f"you usually are in touch every {gap:.1f} days"
        )
        latest = (now - max(h.posts)).total_seconds() / DAY
        why = (
            f"no contact for {since:.0f} days; {basis}; "
            f"they are still active (last post {latest:.0f} days ago)"
        )
        found.append((since / threshold, Drift(h.person_id, round(since, 1), round(gap, 1), why)))
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [d for _, d in found]


def contacts_by_kind(
    contacts: Iterable[tuple[datetime, str, str]], *, now: datetime, days: float = 365
) -> dict[str, dict[str, int]]:
    """{direction: {kind: count}} over the last ``days`` (out = proactive, in = reactive)."""
    since = now - timedelta(days=days)
    out: dict[str, dict[str, int]] = {"out": {}, "in": {}}
    for at, direction, kind in contacts:
        if at >= since and direction in out:
            out[direction][kind] = out[direction].get(kind, 0) + 1
    return out
