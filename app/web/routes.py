"""Pages of the web reader: the timeline, logging in and out. Jinja2 autoescapes
everything; item content is the HTML sanitized at ingest and is the only thing rendered
unescaped."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import LimiterDep, SessionDep
from app.errors import RateLimited
from app.jobs.scoring import explain
from app.storage import reading
from app.storage.items import TimelineRow, read_timeline
from app.storage.users import authenticate
from app.web.common import (
    TEMPLATES,
    WebUser,
    csrf_ok,
    csrf_token,
    current_web_user,
    page,
    safe_next,
)
from ingest.sanitize import plain_text

__all__ = ["TEMPLATES", "router"]

STATES = (("unread", "Unread"), ("all", "All"), ("saved", "Saved"), ("read", "Read"))
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 30
SUMMARY_CHARS = 280


@dataclass(frozen=True, slots=True)
class Card:
    """One timeline item as the reader shows it."""

    row: TimelineRow
    rank: int
    score: float
    why: list[tuple[str, float]]
    summary: str
    more: bool  # the summary is shorter than the content

    @property
    def name(self) -> str:
        return self.row.person.name if self.row.person else (self.row.item.author_name or "")


def cards(rows: list[TimelineRow], *, first_rank: int, now: datetime) -> list[Card]:
    out = []
    for n, row in enumerate(rows):
        score, why = explain(row.item, pinned=bool(row.person and row.person.pinned), now=now)
        text = plain_text(row.item.content, limit=4000)
        summary = text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS].rsplit(" ", 1)[0]
        out.append(
            Card(
                row=row,
                rank=first_rank + n,
                score=score,
                why=why,
                summary=summary,
                more=len(summary) < len(text) or "<img" in row.item.content,
            )
        )
    return out


@router.get("/", response_class=HTMLResponse)
def timeline_page(
    request: Request,
    session: SessionDep,
    user: WebUser,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    start: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    state: Annotated[Literal["unread", "all", "saved", "read"], Query()] = "unread",
) -> Response:
    """The ranked timeline, unread first by default (the catch-up view); ``start`` is the
    rank of the page's first item (for ``seen``)."""
    assert user.id is not None
    rows, next_cursor = read_timeline(
        session, user_id=user.id, limit=PAGE_SIZE, cursor=cursor, state=state
    )
    return page(
        request,
        "timeline.html",
        user,
        cards=cards(rows, first_rank=start, now=datetime.now(UTC)),
        next_cursor=next_cursor,
        next_start=start + len(rows),
        first_page=cursor is None,
        state=state,
        states=STATES,
        newest=reading.newest_id(session, user_id=user.id),
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, session: SessionDep, next: str = "/") -> Response:
    if current_web_user(request, session) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return page(request, "login.html", None, next=safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    limiter: LimiterDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    def again(error: str, status: int, headers: dict[str, str] | None = None) -> Response:
        response = page(
            request, "login.html", None, status_code=status, next=safe_next(next), error=error
        )
        response.headers.update(headers or {})
        return response

    if not csrf_ok(request, csrf):
        return again("The form expired; please try again.", 400)
    client = request.client.host if request.client else "unknown"
    try:
        limiter.hit("login", f"ip:{client}", f"user:{username.strip().lower()}")
    except RateLimited as exc:
        return again(exc.message, 429, {"Retry-After": str(exc.retry_after)})
    user = authenticate(session, name=username, password=password)
    if user is None:
        return again("Unknown user name or wrong password.", 401)
    # a fresh session at login (nothing carried over, a new id and CSRF token), so a
    # session planted before login is worth nothing after it
    request.session.clear()
    request.session["sid"] = secrets.token_urlsafe(16)
    request.session["user_id"] = user.id
    # which account of that id (an id can come back on SQLite after an account is deleted)
    request.session["user_since"] = user.created_at.isoformat()
    request.session["csrf"] = secrets.token_urlsafe(32)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    if csrf_ok(request, csrf):
        request.session.clear()
        csrf_token(request)  # a new token for the login form
    return RedirectResponse("/login", status_code=303)


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it before reading the page's icon link."""
    return RedirectResponse("/static/favicon.svg", status_code=301)
