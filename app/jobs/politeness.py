"""Per-host politeness where fetches happen: at most ``in_flight`` requests open to one
host and at most ``rate`` requests a second to it (a token bucket holding ``burst``),
and a host that answers 429 (or 503 with ``Retry-After``) paused for everyone.

Two backends with the same semantics. :class:`LocalGate` keeps the counts in this
process (the embedded default: every fetch happens here). :class:`RedisGate` keeps them
in Redis (``KITH_BROKER_URL``), so every worker of a cluster shares one bucket, one
in-flight count and one "paused until" per host; each decision is one Lua script, run
atomically, on Redis's clock. An in-flight slot is a member of a sorted set scored by
its expiry, so the slots of a worker killed mid-fetch come back by themselves.

A source's fetch takes a slot and a token before its first request
(:meth:`Gate.slot`, outside the fetch's deadline); further requests of that fetch
(redirect hops, Mastodon and Bluesky API pages) are charged to the host's bucket as
they go out (:func:`trace_config`), so they slow the next source down rather than time
out this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ingest.fetch import parse_retry_after

log = logging.getLogger("kith.politeness")

DEFAULT_PAUSE = {429: 60.0, 503: 30.0}  # seconds, when the answer names no Retry-After
MAX_PAUSE = 3600.0
POLL = 0.05  # seconds between looks at a full host


@dataclass(frozen=True, slots=True)
class Politeness:
    """Plain values: per host, ``in_flight`` requests at once, ``rate`` per second with a
    ``burst``; ``redis_url`` shares them across processes; ``wait_seconds`` is how long
    a source waits for its host before the fetch gives it back (None: as long as it
    takes); ``slot_seconds`` is when the slot of a fetch that never ended comes back."""

    in_flight: int = 4
    rate: float = 2.0
    burst: int = 8
    redis_url: str | None = None
    prefix: str = "kith"
    wait_seconds: float | None = None
    slot_seconds: float = 120.0


def host_key(url: str) -> str:
    """``host:port`` of a URL (the default port spelled out), lower-cased."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = 443 if parts.scheme == "https" else 80
    return f"{(parts.hostname or '').lower()}:{port or default}"


# the host whose token this task's source already took (its first request is paid for)
_PREPAID: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "kith_prepaid", default=None
)


class Gate:
    """Shared interface: ``async with gate.slot(host) as ok`` (False: waited too long)."""

    def __init__(self, limits: Politeness) -> None:
        self.limits = limits

    async def _try(self, host: str, token: str) -> float:  # 0 = taken, else wait this long
        raise NotImplementedError

    async def _release(self, host: str, token: str) -> None:
        raise NotImplementedError

    async def charge(self, host: str) -> None:
        """One more request to ``host`` (no wait: the bucket goes into debt)."""
        raise NotImplementedError

    async def pause(self, host: str, seconds: float) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[bool]:
        token = uuid.uuid4().hex
        limit = self.limits.wait_seconds
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            wait = await self._try(host, token)
            if wait <= 0:
                break
            if deadline is not None and time.monotonic() + wait > deadline:
                yield False
                return
            # jitter: waiters on one host do not all wake at once
            await asyncio.sleep(max(wait, 0.01) * (1 + 0.25 * random.random()))
        mark = _PREPAID.set([host])
        try:
            yield True
        finally:
            _PREPAID.reset(mark)
            await self._release(host, token)


@dataclass
class _Host:
    tokens: float
    stamp: float
    open: int = 0
    paused_until: float = 0.0


@dataclass
class _LocalState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    hosts: dict[str, _Host] = field(default_factory=dict)


class LocalGate(Gate):
    """In this process (thread-safe: each worker thread runs its own event loop)."""

    def __init__(self, limits: Politeness, state: _LocalState) -> None:
        super().__init__(limits)
        self.state = state

    def _host(self, host: str, now: float) -> _Host:
        h = self.state.hosts.get(host)
        if h is None:
            h = self.state.hosts[host] = _Host(tokens=float(self.limits.burst), stamp=now)
        rate = self.limits.rate
        if rate > 0:
            h.tokens = min(float(self.limits.burst), h.tokens + (now - h.stamp) * rate)
        h.stamp = now
        return h

    async def _try(self, host: str, token: str) -> float:
        now = time.monotonic()
        with self.state.lock:
            h = self._host(host, now)
            if h.paused_until > now:
                return h.paused_until - now
            if h.open >= max(self.limits.in_flight, 1):
                return POLL
            if self.limits.rate > 0 and h.tokens < 1:
                return (1 - h.tokens) / self.limits.rate
            h.tokens -= 1 if self.limits.rate > 0 else 0
            h.open += 1
            return 0.0

    async def _release(self, host: str, token: str) -> None:
        with self.state.lock:
            h = self.state.hosts.get(host)
            if h is not None:
                h.open = max(h.open - 1, 0)

    async def charge(self, host: str) -> None:
        with self.state.lock:
            h = self._host(host, time.monotonic())
            if self.limits.rate > 0:
                h.tokens = max(h.tokens - 1, -float(self.limits.burst))

    async def pause(self, host: str, seconds: float) -> None:
        with self.state.lock:
            h = self._host(host, time.monotonic())
            h.paused_until = max(h.paused_until, time.monotonic() + seconds)


# KEYS: bucket hash, in-flight zset, pause key. ARGV: token, in_flight, rate, burst, slot ms.
# Returns 0 when a slot and a token were taken, else milliseconds to wait.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then return paused - now end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return -1 end
local rate = tonumber(ARGV[3]) / 1000
local burst = tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(b[1] or burst)
local stamp = tonumber(b[2] or now)
if rate > 0 then
  tokens = math.min(burst, tokens + (now - stamp) * rate)
  if tokens < 1 then
    redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now)
    redis.call('PEXPIRE', KEYS[1], 3600000)
    return math.max(1, math.ceil((1 - tokens) / rate))
  end
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now)
redis.call('PEXPIRE', KEYS[1], 3600000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]) * 2)
return 0
"""

# KEYS: bucket hash. ARGV: rate, burst. One request more: the bucket may go into debt.
_CHARGE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
if rate <= 0 then return 0 end
local b = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(b[1] or burst)
local stamp = tonumber(b[2] or now)
tokens = math.max(-burst, math.min(burst, tokens + (now - stamp) * rate) - 1)
redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now)
redis.call('PEXPIRE', KEYS[1], 3600000)
return 0
"""

# KEYS: pause key. ARGV: milliseconds. The pause only ever grows.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untils = now + tonumber(ARGV[1])
local old = tonumber(redis.call('GET', KEYS[1]) or '0')
if untils > old then redis.call('SET', KEYS[1], untils, 'PX', tonumber(ARGV[1])) end
return 0
"""


class RedisGate(Gate):
    """Shared by every process that points at the same Redis and prefix. If Redis does
    not answer, this process falls back to its local counts (fetching goes on; the
    cluster-wide limit holds again once Redis is back)."""

    def __init__(self, limits: Politeness, fallback: LocalGate) -> None:
        super().__init__(limits)
        from redis.asyncio import Redis

        assert limits.redis_url
        self.redis = Redis.from_url(limits.redis_url, socket_timeout=5, socket_connect_timeout=2)
        self.fallback = fallback
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._charge = self.redis.register_script(_CHARGE)
        self._pause = self.redis.register_script(_PAUSE)
        self._local: set[str] = set()  # tokens the fallback handed out

    def _keys(self, host: str) -> list[str]:
        base = f"{self.limits.prefix}:host:{host}"
        return [f"{base}:bucket", f"{base}:open", f"{base}:paused"]

    def _down(self, exc: Exception) -> None:
        log.warning("politeness: Redis does not answer (%s); counting in this process", exc)

    async def _try(self, host: str, token: str) -> float:
        lim = self.limits
        try:
            ms = await self._acquire(
                keys=self._keys(host),
                args=[
                    token,
                    max(lim.in_flight, 1),
                    lim.rate,
                    lim.burst,
                    int(lim.slot_seconds * 1000),
                ],
            )
        except Exception as exc:  # noqa: BLE001 - Redis away: be polite locally
            self._down(exc)
            wait = await self.fallback._try(host, token)
            if wait <= 0:
                self._local.add(token)
            return wait
        ms = int(ms)
        return POLL if ms < 0 else ms / 1000

    async def _release(self, host: str, token: str) -> None:
        if token in self._local:
            self._local.discard(token)
            await self.fallback._release(host, token)
            return
        with contextlib.suppress(Exception):  # the slot expires by itself
            await self.redis.zrem(self._keys(host)[1], token)

    async def charge(self, host: str) -> None:
        try:
            await self._charge(
                keys=self._keys(host)[:1], args=[self.limits.rate, self.limits.burst]
            )
        except Exception:  # noqa: BLE001
            await self.fallback.charge(host)

    async def pause(self, host: str, seconds: float) -> None:
        await self.fallback.pause(host, seconds)
        with contextlib.suppress(Exception):
            await self._pause(keys=self._keys(host)[2:], args=[int(seconds * 1000)])

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.redis.aclose()


_STATES: dict[tuple[int, float, int], _LocalState] = {}
_STATES_LOCK = threading.Lock()


def make_gate(limits: Politeness, *, shared: bool = True) -> Gate:
    """A gate for one event loop. Local counts live as long as the process (one per set
    of limits), so consecutive runs of ``kith serve`` share them; ``shared=False`` keeps
    them for this gate alone (a library call that brings no politeness settings)."""
    with _STATES_LOCK:
        key = (limits.in_flight, limits.rate, limits.burst)
        state = _STATES.setdefault(key, _LocalState()) if shared else _LocalState()
    local = LocalGate(limits, state)
    return RedisGate(limits, local) if limits.redis_url else local


def pause_for(status: int, headers: Any) -> float | None:
    """How long a host that answered ``status`` should be left alone (None: not at all)."""
    if status not in DEFAULT_PAUSE:
        return None
    from datetime import UTC, datetime

    after = parse_retry_after(headers.get("retry-after"), datetime.now(UTC))
    if status == 503 and after is None:
        return None  # a plain outage: the source's own backoff handles it
    return min(after if after is not None else DEFAULT_PAUSE[status], MAX_PAUSE)


def trace_config(gate: Gate) -> aiohttp.TraceConfig:
    """aiohttp hooks: every request but a slot's first is charged to its host's bucket;
    a 429 (or 503 with Retry-After) pauses its host for every fetcher."""
    trace = aiohttp.TraceConfig()

    async def on_start(_s: Any, _ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        host = host_key(str(params.url))
        prepaid = _PREPAID.get()
        if prepaid and prepaid[0] == host:
            prepaid.clear()  # the slot's token pays for this one
            return
        await gate.charge(host)

    async def on_end(_s: Any, _ctx: Any, params: aiohttp.TraceRequestEndParams) -> None:
        seconds = pause_for(params.response.status, params.response.headers)
        if seconds:
            host = host_key(str(params.url))
            log.warning(
                "%s answered %d: pausing it for %.0f s", host, params.response.status, seconds
            )
            await gate.pause(host, seconds)

    trace.on_request_start.append(on_start)
    trace.on_request_end.append(on_end)
    return trace
