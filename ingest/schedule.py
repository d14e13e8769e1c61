"""When to check a source next: pure functions of ``now``, the outcome and plain limits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

MINIMUM = timedelta(minutes=5)
MAXIMUM = timedelta(hours=24)
WEEK = timedelta(days=7)


def posting_interval(
    published: Iterable[datetime | None], *, now: datetime, fallback: timedelta
) -> timedelta:
    """A week divided by the entries of the last week (Miniflux's entry-frequency rule).

    No dated entries: ``fallback``; dated but none in the last week: the maximum gap.
    """
    dated = [p for p in published if p is not None]
    if not dated:
        return fallback
    recent = sum(1 for p in dated if timedelta(0) <= now - p <= WEEK)
    return WEEK / recent if recent else MAXIMUM


def next_check_after_success(
    now: datetime,
    *,
    interval: timedelta,
    ttl_minutes: int | None = None,
    fresh_for_seconds: float | None = None,
    priority: float = 1.0,
    minimum: timedelta = MINIMUM,
    maximum: timedelta = MAXIMUM,
) -> datetime:
    """The next check after a fetch that worked, clamped to [minimum, maximum].

    ``priority`` > 1 checks sooner (sources of people the user values highly; the
    ranking issue supplies it); the feed's TTL and the server's Cache-Control/Expires
    freshness are floors that priority never undercuts.
    """
    wait = interval / max(priority, 0.1)
    if ttl_minutes is not None:
        wait = max(wait, timedelta(minutes=ttl_minutes))
    if fresh_for_seconds is not None:
        wait = max(wait, timedelta(seconds=fresh_for_seconds))
    return now + min(max(wait, minimum), maximum)


def next_check_after_failure(
    now: datetime,
    *,
    error_count: int,
    jitter: float,
    base: timedelta = MINIMUM,
    cap: timedelta = MAXIMUM,
    retry_after_seconds: float | None = None,
) -> datetime:
    """Exponential backoff with jitter and a cap; Retry-After honoured within the cap.

    ``error_count`` counts this failure (1 for the first); ``jitter`` is in [0, 1) and
    spreads up to a quarter of the wait, so failing sources do not retry in lockstep.
    """
    exponent = min(max(error_count, 1) - 1, 20)
    wait = min(base * (1 << exponent), cap)
    wait = wait + timedelta(seconds=wait.total_seconds() * 0.25 * jitter)
    if retry_after_seconds is not None:
        wait = max(wait, timedelta(seconds=retry_after_seconds))
    return now + min(wait, cap)
