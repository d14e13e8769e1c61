"""Google Reader login: ``/accounts/ClientLogin`` takes the user name and an app password
(never the account password) and answers ``SID/LSID/Auth``; the ``Auth`` token opens
``/reader/api/0`` in ``Authorization: GoogleLogin auth=<token>``. Rate-limited like the
web login (per address and per user name)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from app.api.deps import EngineDep, LimiterDep
from app.apps import passwords as app_passwords
from app.db import session_scope
from app.greader.protocol import AppUser, GReaderError, GReaderRoute, ParamsDep, auth_token
from app.models import AppPassword

router = APIRouter(route_class=GReaderRoute, include_in_schema=False)
BAD_AUTH = "Error=BadAuthentication\n"


def _login(request: Request, engine: EngineDep, limiter: LimiterDep, params: ParamsDep) -> Response:
    name = (params.get("Email") or "").strip()
    password = params.get("Passwd") or ""
    if not name or not password or len(name) > 100 or len(password) > 200:
        raise GReaderError(401, BAD_AUTH)
    client = request.client.host if request.client else "unknown"
    limiter.hit("login", f"ip:{client}", f"user:{name.lower()}")
    with session_scope(engine) as session:
        who = app_passwords.verify(session, name=name, password=password, now=datetime.now(UTC))
        row = session.get(AppPassword, who.app_password_id) if who else None
        token = app_passwords.session_token(row) if row is not None else None
    if token is None:
        raise GReaderError(401, BAD_AUTH)
    if (params.get("output") or "").lower() == "json":
        return JSONResponse({"SID": token, "LSID": token, "Auth": token})
    return PlainTextResponse(f"SID={token}\nLSID={token}\nAuth={token}\n")


@router.post("/accounts/ClientLogin")
def client_login(
    request: Request, engine: EngineDep, limiter: LimiterDep, params: ParamsDep
) -> Response:
    """Log in with the user name (Email) and an app password (Passwd)."""
    return _login(request, engine, limiter, params)


@router.get("/accounts/ClientLogin")
def client_login_get(
    request: Request, engine: EngineDep, limiter: LimiterDep, params: ParamsDep
) -> Response:
    """The same with the fields in the query (some clients; FreshRSS accepts it)."""
    return _login(request, engine, limiter, params)


@router.get("/reader/api/0/token")
def read_token(request: Request, who: AppUser) -> Response:
    """The action token clients send back as ``T``. The auth header already proves the
    caller (no cookie, so no cross-site request can carry it), so ``T`` is not checked."""
    digest = hashlib.sha256((auth_token(request) or "").encode()).hexdigest()
    return PlainTextResponse(digest[:57] + "\n")


@router.get("/reader/api/0/user-info")
def read_user_info(who: AppUser) -> Response:
    """Who is logged in."""
    return JSONResponse(
        {
            "userId": str(who.user_id),
            "userName": who.user_name,
            "userProfileId": str(who.user_id),
            "userEmail": who.user_name,
            "isBloggerUser": False,
            "signupTimeSec": 0,
            "isMultiLoginEnabled": False,
        }
    )
