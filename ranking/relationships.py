"""Relationship stats and drifting: pure functions of contact histories and ``now``.

A person is *drifting* when the silence since the last contact with them (either way)
is unusual for their own rhythm of contact (:mod:`ranking.rhythm`: episodes, a
recency-weighted log-normal of the gaps between them, a prior pooled over the user's
people) or longer than the cadence the user set, while they are still active (posting).
Any contact resets the clock. :func:`drifting_median_rule` keeps the old rule (k times
the median gap between contacts) as the baseline the benchmark compares against.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from ranking.rhythm import (
    DAY,
    Assessment,
    GapStats,
    assess,
    epoch_days,
    gap_stats,
    pooled_prior,
    span,
)
from ranking.types import CLOSE_RELATIONSHIPS

MIN_OVERDUE = 0.988  # flagged when a gap of theirs would have ended by now 83 times in 84


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
    importance: float = 1.0  # how much they matter (1 = an ordinary valued person)


@dataclass(frozen=True, slots=True)
class Drift:
    person_id: int
    days_since_contact: float
    usual_gap_days: float
    why: str
    overdue: float = 0.0  # 0..1: how unusual the silence is for them
    importance: float = 1.0


def importance_of(
    *,
    pinned: bool = False,
    manual_weight: float | None = None,
    relationships: Iterable[str] = (),
    contacts_last_year: int = 0,
    inbound: int = 0,
    outbound: int = 0,
) -> float:
    """How much a person matters, from what is cheap and known: 1 for an ordinary valued
    person; pinned, a close relationship (family, friend ...), much contact and contact
    both ways raise it; the user's manual weight (-2..2) scales it by 0.5..1.5."""
    value = 1.0 + (1.0 if pinned else 0.0)
    kinds = {r.lower() for r in relationships}
    if kinds & CLOSE_RELATIONSHIPS:
        value += 0.6
    elif kinds:
        value += 0.25
    value += 0.3 * min(math.log1p(max(contacts_last_year, 0)) / math.log(51.0), 1.0)
    if inbound and outbound:
        value += 0.2 * min(inbound, outbound) / max(inbound, outbound)
    if manual_weight is not None:
        value *= 1.0 + 0.25 * max(min(manual_weight, 2.0), -2.0)
    return round(min(max(value, 0.1), 4.0), 3)


def usual_gap_days(times: Sequence[datetime], *, default: float) -> float:
    """The median gap between consecutive contacts, in days; ``default`` with fewer than
    three contacts (two gaps) to learn from."""
    if len(times) < 3:
        return default
    gaps = [(b - a).total_seconds() / DAY for a, b in zip(times, times[1:], strict=False)]
    return max(median(gaps), 0.5)


def is_active(posts: Iterable[datetime], *, now: datetime, within_days: float) -> bool:
    """Still posting: something within ``within_days``, or within three of their usual
    post gaps, or within the longest pause they have already taken (and come back from)."""
    ordered = sorted(p for p in posts if p <= now)
    if not ordered:
        return False
    window = within_days
    if len(ordered) >= 3:
        window = max(window, 3 * usual_gap_days(ordered, default=within_days))
        longest = max((b - a).total_seconds() for a, b in zip(ordered, ordered[1:], strict=False))
        window = max(window, longest / DAY)
    return (now - ordered[-1]).total_seconds() / DAY <= window


def _candidate(h: History, *, now: datetime) -> bool:
    """Valued, not snoozed, not dismissed for this silence (a new contact starts a new one)."""
    if not h.valued or not h.contacts:
        return False
    if h.snoozed_until is not None and h.snoozed_until > now:
        return False
    last = h.contacts[-1]
    if last > now:  # future times (clock skew) are ignored
        earlier = [t for t in h.contacts if t <= now]
        if not earlier:
            return False
        last = max(earlier)
    return h.dismissed_at is None or h.dismissed_at < last


def _active_note(h: History, *, now: datetime) -> str:
    latest = (now - max(p for p in h.posts if p <= now)).total_seconds() / DAY
    return f"they are still active (last post {span(latest)} ago)"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why one person is or is not flagged: ``reason`` is ``flagged`` or the first test
    they fail (``not_valued``, ``snoozed``, ``dismissed``, ``no_contact``,
    ``not_overdue``, ``too_soon`` (under k/2 usual gaps, or within a silence they
    recently came back from), ``not_active``)."""

    history: History
    reason: str
    assessment: Assessment | None = None


def _reject(h: History, *, now: datetime) -> str | None:
    if not h.valued:
        return "not_valued"
    if not any(t <= now for t in h.contacts):
        return "no_contact"
    if not _candidate(h, now=now):
        return "snoozed" if h.snoozed_until is not None and h.snoozed_until > now else "dismissed"
    return None


def verdicts(
    histories: Iterable[History],
    *,
    now: datetime,
    k: float = 3.0,
    active_within_days: float = 30.0,
    min_overdue: float = MIN_OVERDUE,
) -> list[Verdict]:
    """Every person's verdict, in the order given (what :func:`drifting` decides, with the
    reason; for diagnostics and the benchmark's ``--explain``)."""
    people = list(histories)
    now_days = now.timestamp() / DAY
    stats: list[GapStats] = [gap_stats(epoch_days(h.contacts, now=now)) for h in people]
    prior = pooled_prior(stats)
    out = []
    for h, st in zip(people, stats, strict=True):
        rejected = _reject(h, now=now)
        if rejected is not None:
            out.append(Verdict(h, rejected))
            continue
        a = assess(st, prior=prior, now_days=now_days, cadence_days=h.cadence_days)
        # never within k/2 usual gaps, nor within a silence they recently came back from
        if a.from_cadence:
            floor = a.usual_gap_days
        else:
            floor = max(k / 2 * a.usual_gap_days, a.had_before_days)
        # a cadence the user set is a rule, not evidence: past it is overdue, whatever
        # the learned threshold (so tuning min_overdue never moves the user's goal)
        if (a.silence_days <= a.usual_gap_days) if a.from_cadence else a.overdue < min_overdue:
            reason = "not_overdue"
        elif a.silence_days < floor:
            reason = "too_soon"
        elif not is_active(h.posts, now=now, within_days=active_within_days):
            reason = "not_active"
        else:
            reason = "flagged"
        out.append(Verdict(h, reason, a))
    return out


def drifting(
    histories: Iterable[History],
    *,
    now: datetime,
    k: float = 3.0,
    active_within_days: float = 30.0,
    min_overdue: float = MIN_OVERDUE,
) -> list[Drift]:
    """The valued people the user is drifting away from, by overdue x importance.

    Flagged: the silence is past ``min_overdue`` of their own (or the pooled) gap
    distribution, or past the cadence the user set; at least ``k / 2`` usual gaps long
    (the median rule's ``k``, so a stricter ``k`` is stricter here too) and longer than
    any of their recent gaps (a silence they came back from is not unusual for them);
    and they are still active."""
    found: list[tuple[float, Drift]] = []
    for v in verdicts(
        histories, now=now, k=k, active_within_days=active_within_days, min_overdue=min_overdue
    ):
        a, h = v.assessment, v.history
        if v.reason != "flagged" or a is None:
            continue
        why = f"{a.explain()}; {_active_note(h, now=now)}"
        drift = Drift(
            person_id=h.person_id,
            days_since_contact=round(a.silence_days, 1),
            usual_gap_days=round(a.usual_gap_days, 1),
            why=why,
            overdue=round(a.overdue, 4),
            importance=h.importance,
        )
        found.append((a.overdue * h.importance, drift))
    found.sort(key=lambda pair: (-pair[0], -pair[1].days_since_contact, pair[1].person_id))
    return [d for _, d in found]


def drifting_median_rule(
    histories: Iterable[History],
    *,
    now: datetime,
    k: float = 3.0,
    default_gap_days: float = 14.0,
    active_within_days: float = 30.0,
) -> list[Drift]:
    """The baseline: silent for more than ``k`` median gaps between contacts (or the
    cadence), most overdue first."""
    found: list[tuple[float, Drift]] = []
    for h in histories:
        if not _candidate(h, now=now):
            continue
        contacts = [t for t in h.contacts if t <= now]
        since = (now - contacts[-1]).total_seconds() / DAY
        gap = h.cadence_days or usual_gap_days(contacts, default=default_gap_days)
        threshold = gap if h.cadence_days else k * gap
        if since <= threshold or not is_active(h.posts, now=now, within_days=active_within_days):
            continue
        basis = (
            f"your cadence for them is every {gap:.0f} days"
            if h.cadence_days
            else f"you usually are in touch every {gap:.1f} days"
        )
        why = f"no contact for {since:.0f} days; {basis}; {_active_note(h, now=now)}"
        ratio = since / threshold
        found.append(
            (
                ratio,
                Drift(
                    h.person_id,
                    round(since, 1),
                    round(gap, 1),
                    why,
                    overdue=min(ratio / 2, 1.0),
                    importance=h.importance,
                ),
            )
        )
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
