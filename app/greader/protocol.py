"""The Google Reader API's own forms: its error answers (plain text, never Kith's JSON
envelope), its parameters (repeated keys, query and form body merged), its
``GoogleLogin auth=`` header, and the JSON shape of an item."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute

from app.api.deps import EngineDep
from app.apps import mapping
from app.apps import passwords as app_passwords
from app.apps.mapping import AppFeed
from app.db import session_scope
from app.errors import AppError, RateLimited
from app.greader import streams
from app.greader.streams import ItemRow
from ingest.errors import IngestError

MAX_PARAM_VALUES = 10_000  # repeated i= in one request (the reference servers take ~10k)
MAX_BODY = 2 * 1024 * 1024


class GReaderError(Exception):
    """An answer in the protocol's form: ``status`` and a plain-text body."""

    def __init__(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(body)
        self.status, self.body, self.headers = status, body, headers or {}


def unauthorized() -> GReaderError:
    return GReaderError(401, "Unauthorized", {"WWW-Authenticate": "GoogleLogin"})


class GReaderRoute(APIRoute):
    """Every failure under the protocol's prefix answers in its plain-text form: a bad
    parameter 400, a missing item 404, Kith's coded errors with their status, and never
    Kith's JSON envelope, which no reader app understands."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except GReaderError as exc:
                return PlainTextResponse(exc.body, status_code=exc.status, headers=exc.headers)
            except RateLimited as exc:
                return PlainTextResponse(
                    f"Error={exc.message}",
                    status_code=429,
                    headers={"Retry-After": str(exc.retry_after)},
                )
            except AppError as exc:  # the protocol's bad request is a 400, not a 422
                status = 400 if exc.status == 422 else exc.status
                return PlainTextResponse(exc.message, status_code=status)
            except IngestError as exc:  # a feed URL the guard refuses (quickadd)
                return PlainTextResponse(f"{exc.code}: {exc.message}", status_code=400)
            except RequestValidationError:
                return PlainTextResponse("Bad Request", status_code=400)

        return guarded


@dataclass(frozen=True, slots=True)
class Params:
    """Query and form parameters together (clients put them in either)."""

    values: dict[str, list[str]]

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self.values.get(name)
        return found[0] if found else default

    def getlist(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        """An integer parameter clamped to ``[low, high]`` (the reference servers cap
        ``n`` rather than refuse it); not a number is a 400."""
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise GReaderError(400, f"Bad Request: {name} is not a number") from None
        return max(low, min(high, value))

    def timestamp(self, name: str) -> datetime | None:
        """A Unix time in seconds (or micro/milliseconds, which some clients send)."""
        raw = self.get(name)
        if not raw:
            return None
        try:
            value = float(raw.strip())
        except ValueError:
            raise GReaderError(400, f"Bad Request: {name} is not a time") from None
        for scale in (1e15, 1e12):  # microseconds, milliseconds
            if abs(value) >= scale * 0.9:
                value /= 1e6 if scale == 1e15 else 1e3
                break
        try:
            return datetime.fromtimestamp(max(0.0, min(value, 253402214400.0)), UTC)
        except (OverflowError, ValueError, OSError):
            raise GReaderError(400, f"Bad Request: {name} is out of range") from None


async def read_params(request: Request) -> Params:
    values: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        values.setdefault(key, []).append(value)
    if request.method == "POST":
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            raise GReaderError(413, "Request Entity Too Large")
        try:
            form = await request.form(max_files=0, max_fields=MAX_PARAM_VALUES + 100)
        except Exception:  # a body that is not a form: the query is all there is
            form = None
        if form is not None:
            for key, field in form.multi_items():
                if isinstance(field, str):
                    values.setdefault(key, []).append(field)
    if sum(len(v) for v in values.values()) > MAX_PARAM_VALUES + 100:
        raise GReaderError(400, "Bad Request: too many parameters")
    return Params(values)


ParamsDep = Annotated[Params, Depends(read_params)]


def auth_token(request: Request) -> str | None:
    """The token of ``Authorization: GoogleLogin auth=<token>``."""
    header = request.headers.get("authorization", "")
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "googlelogin":
        return None
    rest = rest.strip()
    return rest[5:].strip() if rest.lower().startswith("auth=") else None


def current_app_user(request: Request, engine: EngineDep) -> app_passwords.Verified:
    """The owner of the request's auth token; a bad or revoked one is a plain 401. Its
    own short session: the hourly last-use write commits before a handler's writes."""
    token = auth_token(request)
    if not token or len(token) > 300:
        raise unauthorized()
    with session_scope(engine) as session:
        who = app_passwords.session_owner(session, token=token, now=datetime.now(UTC))
    if who is None:
        raise unauthorized()
    return who


AppUser = Annotated[app_passwords.Verified, Depends(current_app_user)]


def usec(at: datetime) -> str:
    return str(int(at.timestamp() * 1_000_000))


def feed_stream_id(number: int) -> str:
    return f"{streams.FEED}{number}"


def label_id(label: str) -> str:
    return f"{streams.LABEL}{label}"


def feed_json(feed: AppFeed, *, base_url: str) -> dict[str, object]:
    page = f"{base_url}/people/{feed.person_id}" if feed.person_id else (feed.site_url or "")
    return {
        "id": feed_stream_id(feed.number),
        "title": feed.title,
        "categories": [{"id": label_id(f), "label": f} for f in feed.folders],
        "url": feed.url,
        "htmlUrl": page,
        "iconUrl": "",
        "firstitemmsec": "0",
        "sortid": f"{feed.number:08X}",
    }


def origin_of(row: ItemRow) -> tuple[int, str, str]:
    """(feed number, title, site) of an item: its person, else its unclaimed source."""
    if row.person is not None and row.person.id is not None:
        return row.person.id, row.person.name, row.source.site_url or row.source.url
    assert row.source.id is not None
    title = row.source.title or row.source.url
    return mapping.SOURCE_FEED_BASE + row.source.id, title, row.source.site_url or row.source.url


def item_json(row: ItemRow) -> dict[str, object]:
    item = row.item
    assert item.id is not None
    number, title, site = origin_of(row)
    categories = [streams.READING_LIST]
    if item.read_at is not None:
        categories.append(streams.READ)
    if item.saved_at is not None:
        categories.append(streams.STARRED)
    relationships = (row.person.relationships or []) if row.person else []
    categories.extend(label_id(f) for f in mapping.folders_of(None, relationships))
    links = [{"href": item.url, "type": "text/html"}] if item.url else []
    out: dict[str, object] = {
        "id": mapping.long_item_id(item.id),
        "crawlTimeMsec": str(int(item.fetched_at.timestamp() * 1000)),
        "timestampUsec": usec(item.published),
        "published": int(item.published.timestamp()),
        "updated": int((item.updated or item.published).timestamp()),
        "title": item.title or "",
        "canonical": [{"href": item.url}] if item.url else [],
        "alternate": links,
        "summary": {"direction": "ltr", "content": item.content or ""},
        "author": item.author_name or (row.person.name if row.person else ""),
        "categories": categories,
        "origin": {"streamId": feed_stream_id(number), "title": title, "htmlUrl": site},
    }
    enclosures = [
        {"href": e["url"], "type": str(e.get("type") or ""), **_length(e)}
        for e in item.enclosures or []
        if isinstance(e, dict) and isinstance(e.get("url"), str)
    ]
    if enclosures:
        out["enclosure"] = enclosures
    return out


def _length(enclosure: dict[str, object]) -> dict[str, str]:
    value = enclosure.get("length")
    return {"length": str(value)} if isinstance(value, int | str) and str(value) else {}


def item_ids(params: Params, name: str = "i") -> list[int]:
    """The item ids of a request (either form); a malformed one is a 400."""
    raw = params.getlist(name)
    if len(raw) > MAX_PARAM_VALUES:
        raise GReaderError(400, "Bad Request: too many items")
    try:
        return [mapping.parse_item_id(v) for v in raw if v.strip()]
    except AppError as exc:
        raise GReaderError(400, f"Bad Request: {exc.message}") from None


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
