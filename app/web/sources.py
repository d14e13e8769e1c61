"""The Sources page: the user's subscriptions with their health (last success, last
error, next check), and the forms to add one or import an OPML file. The page reads
through the API's own helpers; its script (static/sources.js) changes things by calling
the API (``/api/v1/sources...``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import SessionDep
from app.schemas import SourceOut
from app.storage import sources as source_store
from app.web.common import WebUser, ago, page

router = APIRouter(include_in_schema=False)


def web_link(url: str | None) -> str | None:
    """A URL fit for an ``href``: http(s) only (a feed names its own site link)."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


MONTH = timedelta(days=30)


def last_text(when: datetime | None, now: datetime) -> str:
    """ "never", "3 h ago", or the date when longer ago than a month."""
    if when is None:
        return "never"
    return ago(when, now) if now - when >= MONTH else f"{ago(when, now)} ago"


def next_text(source: SourceOut, now: datetime) -> str:
    """When the scheduler checks the source next: "due now", "in 3 h", "on 2026-05-01"."""
    if source.paused:
        return "none while paused"
    if source.next_check_at <= now:
        return "due now"
    if source.next_check_at - now >= MONTH:
        return source.next_check_at.strftime("on %Y-%m-%d")
    return ago(source.next_check_at, now)


@dataclass(frozen=True, slots=True)
class SourceView:
    """One source as the page shows it."""

    source: SourceOut
    site: str | None  # the site link, when it is a web address
    last_success: str
    next_check: str

    @property
    def name(self) -> str:
        return self.source.title or self.source.url


def source_views(sources: list[SourceOut], *, now: datetime) -> list[SourceView]:
    """By folder (none first), then by name."""
    views = [
        SourceView(
            source=s,
            site=web_link(s.site_url),
            last_success=last_text(s.last_success_at, now),
            next_check=next_text(s, now),
        )
        for s in sources
    ]
    return sorted(views, key=lambda v: ((v.source.folder or "").casefold(), v.name.casefold()))


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, session: SessionDep, user: WebUser) -> Response:
    """Every source of the user, with what went wrong and when it is checked next."""
    assert user.id is not None
    now = datetime.now(UTC)
    sources = [SourceOut.from_row(s) for s in source_store.all_sources(session, user_id=user.id)]
    views = source_views(sources, now=now)
    return page(
        request,
        "sources.html",
        user,
        sources=views,
        folders=sorted({s.folder for s in sources if s.folder}, key=str.casefold),
        failing=sum(1 for s in sources if s.error_message or s.error_code),
        paused=sum(1 for s in sources if s.paused),
        now=now,
    )
