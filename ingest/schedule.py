"""When to check a source next: pure functions of ``now``, the outcome and plain limits."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_check_after_success(
    now: datetime,
    *,
    interval: timedelta,
    ttl_minutes: int | None = None,
    minimum: timedelta = timedelta(minutes=5),
    maximum: timedelta = timedelta(hours=24),
) -> datetime:
    """The next check after a fetch that worked; a feed's TTL can only lengthen it."""
    wait = interval
    if ttl_minutes is not None:
        wait = max(wait, timedelta(minutes=ttl_minutes))
    return now + min(max(wait, minimum), maximum)


def next_check_after_failure(
    now: datetime,
    *,
    error_count: int,
    jitter: float,
    base: timedelta = timedelta(minutes=5),
    cap: timedelta = timedelta(hours=24),
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
