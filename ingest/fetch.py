"""Fetching: one async function per request, every hop through the network guard.

httpx errors are wrapped into :mod:`ingest.errors` here and nowhere else.
Limits enforced on every request: a whole-request deadline (httpx timeouts are per
read, which a one-byte-per-second drip never trips), a cap on *decoded* body bytes
(a gzip bomb is small on the wire), and a redirect hop limit.
"""

from __future__ import annotations

import asyncio
import email.utils
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

import httpcore
import httpx

from ingest.errors import (
    ConnectionFailed,
    FetchTimeout,
    HTTPStatusError,
    IngestError,
    InvalidURL,
    ResponseTooLarge,
    TooManyRedirects,
)
from ingest.guard import GuardedNetworkBackend, GuardPolicy, check_url
from ingest.types import FetchResult, NotModified

USER_AGENT = "Kith/0.1 (+https://github.com/kith-app/kith; people-centred feed reader)"
FEED_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})


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


def make_client(policy: FetchPolicy) -> httpx.AsyncClient:
    """An AsyncClient whose every connection goes through :class:`GuardedNetworkBackend`.

    Environment proxies are ignored (``trust_env=False``): a proxy would connect on our
    behalf and bypass the connect-time address check.
    """
    limits = httpx.Limits(
        max_connections=policy.max_connections,
        max_keepalive_connections=policy.max_connections,
    )
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    # httpx does not expose httpcore's network_backend; build the pool it would build,
    # with the guarded backend, and put it in place.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedNetworkBackend(policy.guard),
    )
    timeout = httpx.Timeout(policy.deadline_seconds, connect=policy.connect_timeout)
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": policy.user_agent, "Accept": FEED_ACCEPT},
    )


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
    client: httpx.AsyncClient,
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


async def _fetch(
    client: httpx.AsyncClient,
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
            request = client.build_request("GET", current, headers=headers)
            response = await client.send(request, stream=True)
        except IngestError:
            raise
        except httpx.TimeoutException as exc:
            raise FetchTimeout(f"timed out: {exc}", url=current) from exc
        except httpx.InvalidURL as exc:
            raise InvalidURL(str(exc), url=current) from exc
        except (httpx.TransportError, httpcore.ConnectError) as exc:
            cause = exc.__context__ or exc.__cause__
            if isinstance(cause, IngestError):
                raise cause from exc
            raise ConnectionFailed(
                f"connection failed: {exc or type(exc).__name__}", url=current
            ) from exc
        try:
            if response.status_code in REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise HTTPStatusError(
                        f"redirect {response.status_code} without a Location",
                        url=current,
                        status=response.status_code,
                    )
                all_permanent = all_permanent and response.status_code in PERMANENT_REDIRECTS
                current = urljoin(current, location.strip())
                continue
            if response.status_code == 304:
                return NotModified(
                    url=current,
                    etag=response.headers.get("etag") or etag,
                    last_modified=response.headers.get("last-modified") or last_modified,
                )
            if response.status_code >= 400 or response.status_code < 200:
                retry_after = parse_retry_after(
                    response.headers.get("retry-after"), datetime.now(UTC)
                )
                raise HTTPStatusError(
                    f"HTTP {response.status_code} {response.reason_phrase}".strip(),
                    url=current,
                    status=response.status_code,
                    retry_after=retry_after,
                )
            content = await _read_capped(response, policy.max_body_bytes, current)
            return FetchResult(
                url=current,
                content=content,
                status=response.status_code,
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                permanent_url=current if (current != url and all_permanent) else None,
                headers=tuple(response.headers.items()),
            )
        finally:
            await response.aclose()
    raise TooManyRedirects(f"more than {policy.max_redirects} redirects", url=url)


async def _read_capped(response: httpx.Response, cap: int, url: str) -> bytes:
    declared = response.headers.get("content-length")
    if (
        declared
        and declared.isdigit()
        and int(declared) > cap
        and not response.headers.get("content-encoding")
    ):
        raise ResponseTooLarge(f"the body is {declared} bytes, over the {cap} byte cap", url=url)
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in response.aiter_bytes():  # decoded bytes: gzip bombs count
            total += len(chunk)
            if total > cap:
                raise ResponseTooLarge(f"the body is over the {cap} byte cap", url=url)
            chunks.append(chunk)
    except httpx.DecodingError as exc:
        raise ConnectionFailed(f"undecodable body: {exc}", url=url) from exc
    except httpx.TimeoutException as exc:
        raise FetchTimeout(f"timed out reading the body: {exc}", url=url) from exc
    except httpx.TransportError as exc:
        raise ConnectionFailed(f"connection broke while reading: {exc}", url=url) from exc
    return b"".join(chunks)
