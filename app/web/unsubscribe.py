"""One-click unsubscribe from the digest mail. The token in the link is the only
credential and opens nothing else: ``GET`` shows a confirm button, ``POST`` (the button,
or a mail client's RFC 8058 one-click POST, no session needed) turns the digest off. A
used, rotated or made-up token answers "already unsubscribed", the same page either way,
naming no user and no address."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import SessionDep
from app.storage import digest_mail as store
from app.web.common import TEMPLATES

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(max_length=200)]


def _page(request: Request, state: str, token: str = "") -> Response:
    # rendered without the session (no cookie is set, no account is shown)
    response = TEMPLATES.TemplateResponse(
        request,
        "unsubscribe.html",
        {"user": None, "csrf": "", "path": "/unsubscribe", "state": state, "token": token},
    )
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: Token, request: Request, session: SessionDep) -> Response:
    """A confirm button (or "already unsubscribed")."""
    if store.is_pending_token(session, raw=token):
        return _page(request, "confirm", token)
    return _page(request, "done")


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(token: Token, request: Request, session: SessionDep) -> Response:
    """Turn the digest mail off (RFC 8058 one-click)."""
    return _page(request, "unsubscribed" if store.unsubscribe(session, raw=token) else "done")
