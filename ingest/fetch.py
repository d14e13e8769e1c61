"""Fetching: one async function per request, every hop through the network guard.

aiohttp does the HTTP (its C parser costs a tenth of a pure-Python client per request;
see docs/design-notes.md). Its errors are wrapped into :mod:`ingest.errors` here and
nowhere else. Limits enforced on every request: a whole-request deadline (per-read
timeouts never trip on a one-byte-per-second drip), a cap on *decoded* body bytes
(a gzip bomb is small on the wire; aiohttp also bounds each decompression step), a
redirect hop limit and aiohttp's header line/field caps.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver

from ingest.errors import (
    ConnectionFailed,
    FetchTimeout,
    HTTPStatusError,
    IngestError,
    InvalidURL,
    ProtocolError,
    ResponseTooLarge,
    TooManyRedirects,
)
from ingest.guard import GuardedResolver, GuardPolicy, check_url
from ingest.types import FetchResult, NotModified

USER_AGENT = "Kith/0.1 (people-centred feed reader; +https://kith.invalid/bot)"
FEED_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
MAX_HEADER_BYTES = 16 * 1024  # per header line / field


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits and guard settings for one client. Plain values, no settings object."""

    guard: GuardPolicy = field(default_factory=GuardPolicy)
    deadline_seconds: float = 30.0
    connect_timeout: float = 10.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    max_connections: int = 20
    user_agent: str = USER_AGENT


def make_client(
    policy: FetchPolicy,
    *,
    dns: AbstractResolver | None = None,
    trace_configs: list[aiohttp.TraceConfig] | None = None,
) -> aiohttp.ClientSession:
    """A session whose every connection goes through :class:`GuardedResolver`.

    Call it inside a running event loop. ``dns`` replaces the system resolver (tests use
    a stub). ``trace_configs`` see every request before it goes out (the caller's
    per-host politeness hooks in there). Environment proxies are ignored
    (``trust_env=False``): a proxy would connect on our behalf and bypass the
    connect-time address check. No cookies are kept.
    """
    connector = aiohttp.TCPConnector(
        limit=policy.max_connections,
        resolver=GuardedResolver(policy.guard, dns),
        ttl_dns_cache=60,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=policy.connect_timeout, sock_read=policy.deadline_seconds
        ),
        headers={"User-Agent": policy.user_agent, "Accept": FEED_ACCEPT},
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=True,
        max_line_size=MAX_HEADER_BYTES,
        max_field_size=MAX_HEADER_BYTES,
        trace_configs=trace_configs,
    )


def freshness_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """How long the server says the response stays fresh (Cache-Control, else Expires)."""
    cache_control = (headers.get("cache-control") or "").lower()
    if "no-cache" in cache_control or "no-store" in cache_control:
        return 0.0
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        value = value.strip().strip('"')
        if name == "max-age" and value.isdigit():
            return float(value)
    expires = headers.get("expires")
    if expires:
        try:
            when = email.utils.parsedate_to_datetime(expires)
        except (TypeError, ValueError, IndexError):
            return 0.0
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    return None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


async def fetch(
    client: aiohttp.ClientSession,
    url: str,
    policy: FetchPolicy,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult | NotModified:
    """GET ``url`` conditionally, following redirects hop by hop through the guard."""
    try:
        async with asyncio.timeout(policy.deadline_seconds):
            return await _fetch(client, url, policy, etag=etag, last_modified=last_modified)
    except TimeoutError as exc:
        raise FetchTimeout(
            f"no complete response within {policy.deadline_seconds:g} s", url=url
        ) from exc


def _wrap(exc: Exception, url: str) -> IngestError:
    """The one place aiohttp's errors become ours."""
    cause: BaseException | None = exc
    while cause is not None:  # a guard refusal raised inside the connector
        if isinstance(cause, IngestError):
            return cause
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, aiohttp.InvalidURL | ValueError):
        return InvalidURL(f"malformed URL: {exc}", url=url)
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        return FetchTimeout(f"timed out: {exc}", url=url)
    if isinstance(exc, aiohttp.ClientResponseError):
        return ProtocolError(f"the server broke HTTP: {exc.message}", url=url)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ProtocolError(f"the body could not be read: {exc}", url=url)
    return ConnectionFailed(f"connection failed: {exc or type(exc).__name__}", url=url)


async def _fetch(
    client: aiohttp.ClientSession,
    url: str,
    policy: FetchPolicy,
    *,
    etag: str | None,
    last_modified: str | None,
) -> FetchResult | NotModified:
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    all_permanent = True
    for _hop in range(policy.max_redirects + 1):
        check_url(current, policy.guard)
        try:
            async with client.get(current, headers=headers, allow_redirects=False) as response:
                status = response.status
                if status in REDIRECT_STATUSES:
                    location = response.headers.get("location")
                    if not location:
                        raise HTTPStatusError(
                            f"redirect {status} without a Location", url=current, status=status
                        )
                    all_permanent = all_permanent and status in PERMANENT_REDIRECTS
                    await _drain(response)
                    current = urljoin(current, location.strip())
                    continue
                if status == 304:
                    return NotModified(
                        url=current,
                        etag=response.headers.get("etag") or etag,
                        last_modified=response.headers.get("last-modified") or last_modified,
                        fresh_for_seconds=freshness_seconds(response.headers, datetime.now(UTC)),
                    )
                if status >= 400 or status < 200:
                    await _drain(response)
                    raise HTTPStatusError(
                        f"HTTP {status} {response.reason or ''}".strip(),
                        url=current,
                        status=status,
                        retry_after=parse_retry_after(
                            response.headers.get("retry-after"), datetime.now(UTC)
                        ),
                    )
                content = await _read_capped(response, policy.max_body_bytes, current)
                return FetchResult(
                    url=current,
                    content=content,
                    status=status,
                    content_type=response.headers.get("content-type"),
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    permanent_url=current if (current != url and all_permanent) else None,
                    fresh_for_seconds=freshness_seconds(response.headers, datetime.now(UTC)),
                )
        except IngestError:
            raise
        except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
            raise _wrap(exc, current) from exc
    raise TooManyRedirects(f"more than {policy.max_redirects} redirects", url=url)


async def _drain(response: aiohttp.ClientResponse, limit: int = 64 * 1024) -> None:
    """Read a small body we do not need, so the connection can be reused (keep-alive);
    a large or unknown one is left and the connection is closed instead."""
    if response.content_length is not None and response.content_length <= limit:
        try:
            while await response.content.read(limit):  # read() returns what has arrived
                pass
        except aiohttp.ClientError:
            return


async def _read_capped(response: aiohttp.ClientResponse, cap: int, url: str) -> bytes:
    declared = response.content_length
    if declared is not None and declared > cap and not response.headers.get("content-encoding"):
        raise ResponseTooLarge(f"the body is {declared} bytes, over the {cap} byte cap", url=url)
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(64 * 1024):  # decoded bytes
        total += len(chunk)
        if total > cap:
            raise ResponseTooLarge(f"the body is over the {cap} byte cap", url=url)
        chunks.append(chunk)
    return b"".join(chunks)
