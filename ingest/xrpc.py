"""XRPC over the guarded aiohttp session: calls to one origin paced by its
``ratelimit-*`` headers, an app-password session that refreshes itself, and the
cursor walk every Bluesky stream uses (gap-free across syncs)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from ingest.errors import HTTPStatusError, IngestError, ParseError, ResponseTooLarge
from ingest.fetch import FetchPolicy, _wrap
from ingest.guard import check_url

MAX_JSON_BYTES = 8 * 1024 * 1024


class RateLimited(HTTPStatusError):
    def __init__(self, message: str, *, url: str, retry_after: float) -> None:
        super().__init__(message, url=url, status=429, retry_after=retry_after)


class XrpcError(HTTPStatusError):
    """An error answer; ``error`` is the XRPC error name (``ExpiredToken`` ...)."""

    def __init__(self, message: str, *, url: str, status: int, error: str) -> None:
        super().__init__(message, url=url, status=status)
        self.error = error
        if error in (
            "ExpiredToken",
            "InvalidToken",
            "AuthenticationRequired",
            "AuthFactorTokenRequired",
        ):
            self.code = "auth_failed"


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


async def _read_all(resp: aiohttp.ClientResponse, url: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):  # decoded bytes
        total += len(chunk)
        if total > MAX_JSON_BYTES:
            raise ResponseTooLarge("the XRPC answer is too large", url=url)
        chunks.append(chunk)
    return b"".join(chunks)


def _reset_in(value: str | None, now: float) -> float | None:
    """``ratelimit-reset`` as seconds from now (Bluesky sends epoch seconds)."""
    if not value or not value.strip().isdigit():
        return None
    reset = float(value)
    return max(0.0, reset - now) if reset > 1e9 else reset


class Xrpc:
    """XRPC calls to one origin, pacing by its rate-limit headers."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: FetchPolicy,
        base: str,
        *,
        min_remaining: int = 5,
        max_pause: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session, self.policy, self.base = session, policy, base.rstrip("/")
        self.min_remaining, self.max_pause = min_remaining, max_pause
        self.sleep = sleep
        self.requests = 0
        self.paused_until = 0.0  # time.time() before which no request is sent
        self.left = 0

    async def call(
        self,
        nsid: str,
        params: dict[str, Any] | None = None,
        *,
        body: dict[str, Any] | None = None,
        bearer: str | None = None,
    ) -> Any:
        url = f"{self.base}/xrpc/{nsid}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if query:
            url += "?" + urlencode(query, doseq=True)
        check_url(url, self.policy.guard)
        await self._wait_for_limit(url)
        headers = {"Accept": "application/json"}
        if bearer and origin(url) == origin(self.base):
            headers["Authorization"] = f"Bearer {bearer}"
        self.requests += 1
        try:
            async with asyncio.timeout(self.policy.deadline_seconds):
                async with self.session.request(
                    "GET" if body is None else "POST",
                    url,
                    headers=headers,
                    json=body,
                    allow_redirects=False,
                ) as resp:
                    data = await _read_all(resp, url)
                    await self._pace(resp.headers, resp.status, url, data)
        except IngestError:
            raise
        except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
            raise _wrap(exc, url) from exc
        try:
            return json.loads(data) if data else {}
        except ValueError as exc:
            raise ParseError(f"the XRPC answer is not JSON: {exc}", url=url) from exc

    async def _pace(self, headers: Any, status: int, url: str, body: bytes) -> None:
        reset_in = _reset_in(headers.get("ratelimit-reset"), time.time())
        if status == 429:
            raise RateLimited("rate limited by the server", url=url, retry_after=reset_in or 300.0)
        if status >= 300:
            try:
                data = json.loads(body)
                name, message = str(data.get("error") or ""), str(data.get("message") or "")
            except (ValueError, AttributeError):
                name, message = "", body[:200].decode("utf-8", "replace")
            text = f"HTTP {status}: {name} {message}".strip()[:300]
            raise XrpcError(text, url=url.split("?", 1)[0], status=status, error=name)
        remaining = headers.get("ratelimit-remaining")
        if remaining is not None and remaining.isdigit() and int(remaining) <= self.min_remaining:
            # this answer is kept; the *next* request waits for the reset (or stops)
            self.paused_until = time.time() + (reset_in or 0.0)
            self.left = int(remaining)

    async def _wait_for_limit(self, url: str) -> None:
        wait = self.paused_until - time.time()
        if wait <= 0:
            return
        if wait > self.max_pause:
            raise RateLimited(
                f"only {self.left} requests left until the limit resets", url=url, retry_after=wait
            )
        await self.sleep(wait)
        self.paused_until = 0.0


class Account:
    """The user's own session on their PDS; the app password goes nowhere else."""

    def __init__(self, pds: Xrpc, identifier: str, password: str, cache: dict[str, Any]) -> None:
        self.pds, self.identifier, self.password = pds, identifier, password
        # a cache from another password (or PDS) is not this session's
        self.key = hashlib.sha256(f"{pds.base}\n{identifier}\n{password}".encode()).hexdigest()
        if cache.get("key") != self.key:
            cache.clear()
        self.cache = cache

    @property
    def did(self) -> str:
        return str(self.cache.get("did") or "")

    async def login(self) -> None:
        data = await self.pds.call(
            "com.atproto.server.createSession",
            body={"identifier": self.identifier, "password": self.password},
        )
        self._keep(data)

    def _keep(self, data: Any) -> None:
        if not isinstance(data, dict) or not data.get("accessJwt") or not data.get("did"):
            raise ParseError("the PDS did not answer with a session", url=self.pds.base)
        self.cache.update(
            key=self.key,
            access=data["accessJwt"],
            refresh=data.get("refreshJwt"),
            did=str(data["did"]).lower(),
            handle=data.get("handle"),
        )

    async def call(self, nsid: str, params: dict[str, Any] | None = None) -> Any:
        if not self.cache.get("access"):
            await self.login()
        try:
            return await self.pds.call(nsid, params, bearer=self.cache["access"])
        except XrpcError as exc:
            if exc.error not in ("ExpiredToken", "InvalidToken"):
                raise
        try:  # the access JWT expired: refresh the session, then retry once
            data = await self.pds.call(
                "com.atproto.server.refreshSession", body={}, bearer=self.cache.get("refresh")
            )
            self._keep(data)
        except XrpcError:
            self.cache.clear()
            self.cache["key"] = self.key
            await self.login()
        return await self.pds.call(nsid, params, bearer=self.cache["access"])


Page = Callable[[str | None], Awaitable[tuple[list[dict[str, Any]], str | None]]]


async def walk(
    page: Page, key: Callable[[dict[str, Any]], str], st: dict[str, Any], cap: int
) -> tuple[list[dict[str, Any]], dict[str, Any], IngestError | None]:
    """Everything newer than ``st["seen"]`` (newest first, by cursor), finishing a cut
    short walk first; returns (items, the stream's new state, the error that cut it)."""
    st = dict(st)
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    top: str | None = None
    phase = "resume" if st.get("resume") else "top"
    try:
        if phase == "resume":
            floor = st.get("floor") or ""
            cursor = st["resume"]
            while cursor:
                items, nxt = await page(cursor)
                fresh = [i for i in items if key(i) >= floor]
                out.extend(fresh)
                if len(fresh) < len(items) or not nxt or not items:
                    break
                st["resume"] = cursor = nxt
                if len(out) >= cap:
                    return out, st, None
            seen = max(st.get("top") or "", st.get("seen") or "") or None
            st.update(seen=seen, resume=None, floor=None, top=None)
            phase, cursor = "top", None
        seen = st.get("seen")
        while True:
            items, nxt = await page(cursor)
            keys = [key(i) for i in items]
            if keys and top is None:
                top = max(keys)
            fresh = [i for i, k in zip(items, keys, strict=True) if seen is None or k >= seen]
            out.extend(fresh)
            if len(fresh) < len(items) or not nxt or not items:
                break
            cursor = nxt
            if len(out) >= cap:
                if seen is not None:  # caught up only partly: the rest next time
                    st.update(resume=cursor, floor=seen, top=top)
                    return out, st, None
                break  # a first sync: older history is left out (the backfill cap)
        if top:
            st["seen"] = max(top, seen or "")
        return out, st, None
    except IngestError as exc:
        if phase == "top" and top is not None and cursor is not None:
            st.update(resume=cursor, floor=st.get("seen"), top=top)
        return out, st, exc
