"""The Apps page: app passwords for native reader apps (Reeder, NetNewsWire, Read You,
Fever clients) and the server addresses to type into them. The page lists the user's
app passwords through :mod:`app.apps.passwords`; its script (static/apps.js) creates and
revokes them through the API (``/api/v1/app-passwords``), which is the only place a new
password is ever shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from app.api.deps import SessionDep
from app.apps import passwords as app_passwords
from app.greader import PREFIXES as GREADER_PREFIXES
from app.models import AppPassword
from app.web.common import WebUser, ago, page

router = APIRouter(include_in_schema=False)

FEVER_PATH = "/fever/"
GREADER_LOGIN = "/accounts/ClientLogin"


@dataclass(frozen=True, slots=True)
class Server:
    """One address to type into an app: which protocol, the URL, the apps that use it."""

    key: str  # a stable name for tests and scripts: greader, greader-php, fever
    protocol: str
    url: str
    hint: str


@dataclass(frozen=True, slots=True)
class AppPasswordView:
    """One app password as the page shows it."""

    row: AppPassword
    created: str
    last_used: str

    @property
    def revoked(self) -> bool:
        return self.row.revoked_at is not None


def _paths(routes: list[BaseRoute]) -> set[str]:
    """Every route's full path (included routers stay nested in newer FastAPI)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is flat
        return {str(getattr(r, "path", "")) for r in routes}
    return {str(c.path) for c in iter_route_contexts(routes)}


def servers(app: FastAPI, base: str) -> list[Server]:
    """The protocols this server actually mounts, as addresses for ``base`` (no slash at
    the end): Google Reader under each of its prefixes, Fever when its route is there."""
    paths = _paths(app.routes)
    out = []
    hints = {
        "/reader": "Google Reader API (Miniflux style): Read You, NetNewsWire, Reeder",
        "/api/greader.php": "Google Reader API (FreshRSS style): apps with a FreshRSS account",
    }
    for n, prefix in enumerate(GREADER_PREFIXES):
        if prefix + GREADER_LOGIN in paths:
            key = "greader" if n == 0 else f"greader-{prefix.rsplit('.', 1)[-1]}"
            out.append(Server(key, "Google Reader", base + prefix, hints.get(prefix, "")))
    if FEVER_PATH in paths:
        out.append(
            Server("fever", "Fever", base + FEVER_PATH, "Fever API: Reeder, Unread, Fiery Feeds")
        )
    return out


def last_used_text(when: datetime | None, now: datetime) -> str:
    """ "never", "within the hour" (it is recorded at most once an hour), "3 h ago"."""
    if when is None:
        return "never"
    if now - when < app_passwords.LAST_USED_PRECISION:
        return "within the hour"
    text = ago(when, now)
    return text if text[:1].isdigit() and "-" in text else f"{text} ago"


def views(rows: list[AppPassword], now: datetime) -> list[AppPasswordView]:
    """Live ones first (newest first), then the revoked ones."""
    out = [
        AppPasswordView(
            row=r,
            created=r.created_at.strftime("%Y-%m-%d"),
            last_used=last_used_text(r.last_used_at, now),
        )
        for r in rows
    ]
    return sorted(out, key=lambda v: v.revoked)  # stable: newest first within each


@router.get("/apps", response_class=HTMLResponse)
def apps_page(request: Request, session: SessionDep, user: WebUser) -> Response:
    """The user's app passwords and the server addresses for native reader apps."""
    assert user.id is not None
    now = datetime.now(UTC)
    rows = app_passwords.list_for(session, user_id=user.id)
    base = str(request.base_url).rstrip("/")
    return page(
        request,
        "apps.html",
        user,
        passwords=views(rows, now),
        live=sum(1 for r in rows if r.revoked_at is None),
        servers=servers(request.app, base),
        max_live=app_passwords.MAX_PER_USER,
    )
