"""Mastodon's HTTP side: one instance's API through the guarded session (GET pages with
their ``Link`` rels, JSON bodies, rate-limit pacing), and the writing calls (the token's
scopes, resolving a status, posting a reply).

Every request goes through :func:`ingest.guard.check_url`; the token is only ever sent
to the instance's own origin, and a ``Link`` to another origin is not followed. Rate
limits are read from ``X-RateLimit-Remaining/Reset``: Kith pauses before reaching zero
(briefly) or stops and reports when it may come back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp

from ingest.errors import HTTPStatusError, IngestError, ParseError, ResponseTooLarge
from ingest.fetch import FetchPolicy, _wrap
from ingest.guard import check_url

PAGE = 40
MAX_JSON_BYTES = 8 * 1024 * 1024


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class RateLimited(HTTPStatusError):
    def __init__(self, message: str, *, url: str, retry_after: float) -> None:
        super().__init__(message, url=url, status=429, retry_after=retry_after)


class InstanceError(HTTPStatusError):
    """An error status from the instance; ``detail`` is its own words (its ``error``)."""

    def __init__(self, message: str, *, url: str, status: int, detail: str) -> None:
        super().__init__(message, url=url, status=status)
        self.detail = detail


class MastodonAPI:
    """GET JSON from one instance, with its token, pacing by its rate-limit headers."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: FetchPolicy,
        instance: str,
        token: str | None = None,
        *,
        min_remaining: int = 5,
        max_pause: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session = session
        self.policy = policy
        self.instance = instance.rstrip("/")
        self.token = token
        self.min_remaining = min_remaining
        self.max_pause = max_pause
        self.sleep = sleep
        self.requests = 0

    def same_origin(self, url: str) -> bool:
        return origin(url) == origin(self.instance)

    async def get(
        self, path_or_url: str, params: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, str]]:
        """(decoded JSON, links by rel) for one GET; raises coded errors."""
        return await self.send("GET", path_or_url, params)

    async def send(
        self,
        method: str,
        path_or_url: str,
        params: dict[str, Any] | None = None,
        *,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Any, dict[str, str]]:
        """(decoded JSON, links by rel) for one request (a JSON ``body`` for a POST)."""
        url = urljoin(self.instance + "/", path_or_url)
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        check_url(url, self.policy.guard)
        headers = {"Accept": "application/json"}
        if self.token and self.same_origin(url):  # never to another host
            headers["Authorization"] = f"Bearer {self.token}"
        if idempotency_key:  # Mastodon posts a status once per key, however often it is sent
            headers["Idempotency-Key"] = idempotency_key
        self.requests += 1
        try:
            async with asyncio.timeout(self.policy.deadline_seconds):
                async with self.session.request(
                    method, url, headers=headers, json=body, allow_redirects=False
                ) as resp:
                    data = await _read_all(resp, url)
                    links = {
                        str(rel): str(value.get("url"))
                        for rel, value in resp.links.items()
                        if value.get("url") is not None
                    }
                    await self._pace(resp.headers, resp.status, url, data)
        except IngestError:
            raise
        except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
            raise _wrap(exc, url) from exc
        try:
            return json.loads(data), links
        except ValueError as exc:
            raise ParseError(f"the instance answered with invalid JSON: {exc}", url=url) from exc

    async def _pace(self, headers: Any, status: int, url: str, body: bytes) -> None:
        reset_in = _seconds_until(headers.get("X-RateLimit-Reset"))
        if status == 429:
            raise RateLimited(
                "rate limited by the instance", url=url, retry_after=reset_in or 300.0
            )
        if status >= 300:
            detail = _error_text(body)
            raise InstanceError(f"HTTP {status}: {detail}", url=url, status=status, detail=detail)
        remaining = headers.get("X-RateLimit-Remaining")
        if remaining is not None and remaining.isdigit() and int(remaining) <= self.min_remaining:
            wait = reset_in or 0.0
            if wait > self.max_pause:
                raise RateLimited(
                    f"only {remaining} requests left until the limit resets",
                    url=url,
                    retry_after=wait,
                )
            await self.sleep(wait)


async def _read_all(resp: aiohttp.ClientResponse, url: str) -> bytes:
    """The whole body, to the last chunk (``read(n)`` returns what has arrived so far),
    within MAX_JSON_BYTES."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > MAX_JSON_BYTES:
            raise ResponseTooLarge("the API answer is too large", url=url)
        chunks.append(chunk)
    return b"".join(chunks)


def _error_text(body: bytes) -> str:
    try:
        data = json.loads(body)
        return str(data.get("error") or data)[:300]
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")


def _seconds_until(reset: str | None) -> float | None:
    if not reset:
        return None
    try:
        when = datetime.fromisoformat(reset.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _id_key(value: str) -> tuple[int, str]:
    return (len(value), value)  # Mastodon ids are numeric strings of growing length


async def collect(
    api: MastodonAPI,
    path: str,
    *,
    min_id: str | None,
    cap: int,
    params: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Everything newer than ``min_id`` (or the newest ``cap`` on a first sync), and the
    new cursor. Gap-free: ``min_id`` then ``Link: prev`` until an empty page."""
    params = dict(params or {}, limit=PAGE)
    collected: list[dict[str, Any]] = []
    newest = min_id
    # first sync: newest first, older pages by Link: next; later: what follows the
    # cursor (min_id), newer pages by Link: prev
    rel = "next" if min_id is None else "prev"
    page, links = await api.get(path, params if min_id is None else dict(params, min_id=min_id))
    while isinstance(page, list) and page:
        collected.extend(page)
        follow = links.get(rel)
        # a short page is the last one: asking again would only return []
        if len(page) < PAGE or len(collected) >= cap or not follow or not api.same_origin(follow):
            break
        page, links = await api.get(follow)
    for item in collected:
        ident = str(item.get("id", ""))
        if ident and (newest is None or _id_key(ident) > _id_key(newest)):
            newest = ident
    return collected, newest


# --- writing: the user's own account replies ------------------------------------------

WRITE_SCOPES = frozenset({"write", "write:statuses"})  # "write" includes every write:*


@dataclass(frozen=True, slots=True)
class TokenScopes:
    """What the instance says the token may do: ``scopes`` is None when it says nothing
    (then ``reason`` says why); ``via`` names the endpoint that answered."""

    scopes: tuple[str, ...] | None
    via: str | None = None
    reason: str | None = None

    @property
    def can_post(self) -> bool:
        return bool(self.scopes and WRITE_SCOPES.intersection(self.scopes))

    def state(self) -> dict[str, Any]:
        """The keys cached in the source's state."""
        return {
            "scopes": list(self.scopes) if self.scopes is not None else None,
            "scopes_via": self.via,
            "scopes_reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class PostedStatus:
    id: str
    uri: str
    url: str
    in_reply_to_id: str | None
    in_reply_to_account_id: str | None


def _scope_list(value: Any) -> tuple[str, ...] | None:
    """``"read write"`` or ``["read", "write"]`` -> a tuple; anything else -> None."""
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


async def token_scopes(api: MastodonAPI) -> TokenScopes:
    """The token's scopes: Doorkeeper's ``GET /oauth/token/info`` (``scope``: the token's
    own) first, then ``GET /api/v1/apps/verify_credentials`` (``scopes``: its app's, on
    Mastodon 4.3+). An instance that answers neither gives no scopes and a reason; an
    invalid token raises ``auth_failed``."""
    tried: list[str] = []
    for path, key, via in (
        ("/oauth/token/info", "scope", "token_info"),
        ("/api/v1/apps/verify_credentials", "scopes", "apps"),
    ):
        try:
            data, _ = await api.get(path)
        except HTTPStatusError as exc:
            if exc.status == 401:
                raise
            tried.append(f"{path}: HTTP {exc.status}")
            continue
        except ParseError:
            tried.append(f"{path}: not JSON")
            continue
        found = _scope_list(data.get(key)) if isinstance(data, dict) else None
        if found is not None:
            return TokenScopes(scopes=found, via=via)
        tried.append(f"{path}: no {key}")
    return TokenScopes(
        scopes=None,
        reason="the instance does not say what the token may do (" + "; ".join(tried) + ")",
    )


async def resolve_status(api: MastodonAPI, url: str) -> dict[str, Any] | None:
    """The status at ``url`` as the user's own instance knows it (its id there), through
    ``GET /api/v2/search?resolve=true``; None when the instance finds nothing."""
    data, _ = await api.get(
        "/api/v2/search", {"q": url, "resolve": "true", "type": "statuses", "limit": 5}
    )
    statuses = data.get("statuses") if isinstance(data, dict) else None
    if not isinstance(statuses, list):
        return None
    found = [s for s in statuses if isinstance(s, dict) and s.get("id")]
    exact = [s for s in found if url in (s.get("url"), s.get("uri"))]
    chosen = exact or found
    return chosen[0] if chosen else None


async def post_status(
    api: MastodonAPI,
    *,
    text: str,
    in_reply_to_id: str | None = None,
    visibility: str | None = None,
    idempotency_key: str | None = None,
) -> PostedStatus:
    """``POST /api/v1/statuses`` with the user's token; the instance's refusal raises an
    :class:`InstanceError` (``invalid_request`` for a 422, with its words in ``detail``)."""
    body: dict[str, Any] = {"status": text}
    if in_reply_to_id:
        body["in_reply_to_id"] = in_reply_to_id
    if visibility:
        body["visibility"] = visibility
    data, _ = await api.send("POST", "/api/v1/statuses", body=body, idempotency_key=idempotency_key)
    if not isinstance(data, dict) or not data.get("id"):
        raise ParseError("the instance did not answer with a status", url=api.instance)
    return PostedStatus(
        id=str(data["id"]),
        uri=str(data.get("uri") or data.get("url") or ""),
        url=str(data.get("url") or data.get("uri") or ""),
        in_reply_to_id=str(data["in_reply_to_id"]) if data.get("in_reply_to_id") else None,
        in_reply_to_account_id=str(data["in_reply_to_account_id"])
        if data.get("in_reply_to_account_id")
        else None,
    )
