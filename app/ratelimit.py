"""Rate limits on what attackers guess at: logins and token creation.

Built on the `limits` library (moving windows). The storage is in memory by default (one
process: `kith serve`); ``KITH_RATE_LIMIT_STORAGE=redis://host:6379`` shares the counts
between API processes when scaled out.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.errors import RateLimited


class RateLimiter:
    """Named limits (``"10/minute"``) checked per key (an IP address, a user)."""

    def __init__(self, storage_uri: str, limits: dict[str, str]) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._limits: dict[str, RateLimitItem] = {name: parse(v) for name, v in limits.items()}

    def hit(self, name: str, *keys: str) -> None:
        """Count one attempt against ``name`` for each key; raise :class:`RateLimited`
        (with the seconds to wait) when any key is over its limit."""
        item = self._limits[name]
        for key in keys:
            if not self._limiter.hit(item, name, key):
                reset, _ = self._limiter.get_window_stats(item, name, key)
                wait = max(1, math.ceil(reset - time.time()))
                raise RateLimited(
                    f"too many attempts ({item}); try again in {wait} s", retry_after=wait
                )
