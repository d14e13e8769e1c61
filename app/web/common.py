"""What every page of the web reader shares: templates, the signed-in user, CSRF.

Pages read through the same storage and scoring functions as the API; their scripts
change things by calling the API itself (``/api/v1/...``) with the reader's session
cookie and its CSRF token (see :func:`app.api.deps.get_credentials`), so no logic is
written twice."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.api.deps import SessionDep
from app.models import User

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


def initials(name: str | None) -> str:
    """Up to two initials for an avatar: "Maya Lindqvist" -> "ML", "" -> "?"."""
    words = [w for w in (name or "").replace(".", " ").split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """A short relative time: "5 min", "3 h", "2 d", or the date when older than 30 days."""
    if when is None:
        return "never"
    now = now or datetime.now(UTC)
    seconds = (now - when).total_seconds()
    if seconds < 0:
        return when.strftime("%Y-%m-%d") if -seconds >= 30 * 86400 else "in " + ago(now, when)
    if seconds < 3600:
        return f"{max(int(seconds // 60), 1)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    if seconds < 30 * 86400:
        return f"{int(seconds // 86400)} d"
    return when.strftime("%Y-%m-%d")


TEMPLATES.env.filters["initials"] = initials
TEMPLATES.env.filters["ago"] = ago


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
    """Only same-origin relative paths: ``/x`` yes; ``//evil``, ``/\\evil``, ``http:`` no,
    nor anything with a backslash, whitespace or a control character (browsers drop tabs
    and newlines from URLs and read a backslash as ``/``: "/", tab, "/evil" is ``//evil``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def current_web_user(request: Request, session: SessionDep) -> User | None:
    """The signed-in user; a session of an account disabled since ends here."""
    user_id = request.session.get("user_id")
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is not None and (
        user.disabled_at is not None
        or request.session.get("user_since") != user.created_at.isoformat()
    ):
        request.session.clear()
        return None
    return user


class LoginRequired(Exception):
    """A page needs a signed-in user: answered with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def require_web_user(request: Request, session: SessionDep) -> User:
    user = current_web_user(request, session)
    if user is None or user.id is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(safe_next(target))
    return user


WebUser = Annotated[User, Depends(require_web_user)]


def install_web(app: FastAPI) -> None:
    """The login redirect for pages (the API answers 401 instead)."""

    async def to_login(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)

    app.add_exception_handler(LoginRequired, to_login)


def page(
    request: Request, template: str, user: User | None, *, status_code: int = 200, **context: Any
) -> Response:
    """Render a page with what the layout needs: the user, the CSRF token (forms and the
    ``csrf-token`` meta the scripts send as ``X-CSRF-Token``) and the current section."""
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"user": user, "csrf": csrf_token(request), "path": request.url.path, **context},
        status_code=status_code,
    )
