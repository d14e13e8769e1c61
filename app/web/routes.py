"""Pages of the web reader. Jinja2 autoescapes everything; item content is the HTML
sanitized at ingest and is the only thing rendered unescaped."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.api.deps import LimiterDep, SessionDep
from app.errors import RateLimited
from app.models import User
from app.storage.items import read_timeline
from app.storage.users import authenticate

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
router = APIRouter(include_in_schema=False)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def csrf_ok(request: Request, submitted: str) -> bool:
    expected = request.session.get("csrf")
    return bool(expected) and hmac.compare_digest(str(expected), submitted)


def safe_next(target: str | None) -> str:
    """Only same-origin relative paths: ``/x`` yes; ``//evil``, ``/\\evil``, ``http:`` no."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def current_web_user(request: Request, session: SessionDep) -> User | None:
    """The signed-in user; a session of an account disabled since ends here."""
    user_id = request.session.get("user_id")
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is not None and user.disabled_at is not None:
        request.session.clear()
        return None
    return user


@router.get("/", response_class=HTMLResponse)
def timeline_page(request: Request, session: SessionDep, cursor: str | None = None) -> Response:
    user = current_web_user(request, session)
    if user is None or user.id is None:
        return RedirectResponse("/login?next=/", status_code=303)
    rows, next_cursor = read_timeline(session, user_id=user.id, limit=50, cursor=cursor)
    return TEMPLATES.TemplateResponse(
        request,
        "timeline.html",
        {"user": user, "rows": rows, "next_cursor": next_cursor, "csrf": csrf_token(request)},
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return TEMPLATES.TemplateResponse(
        request, "login.html", {"csrf": csrf_token(request), "next": safe_next(next), "error": None}
    )


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
    if not csrf_ok(request, csrf):
        return TEMPLATES.TemplateResponse(
            request,
            "login.html",
            {
                "csrf": csrf_token(request),
                "next": safe_next(next),
                "error": "The form expired; please try again.",
            },
            status_code=400,
        )
    client = request.client.host if request.client else "unknown"
    try:
        limiter.hit("login", f"ip:{client}", f"user:{username.strip().lower()}")
    except RateLimited as exc:
        return TEMPLATES.TemplateResponse(
            request,
            "login.html",
            {"csrf": csrf_token(request), "next": safe_next(next), "error": exc.message},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    user = authenticate(session, name=username, password=password)
    if user is None:
        return TEMPLATES.TemplateResponse(
            request,
            "login.html",
            {
                "csrf": csrf_token(request),
                "next": safe_next(next),
                "error": "Unknown user name or wrong password.",
            },
            status_code=401,
        )
    request.session.clear()  # a fresh session at login: nothing carried over
    request.session["user_id"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(32)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    if csrf_ok(request, csrf):
        request.session.clear()
    return RedirectResponse("/login", status_code=303)
