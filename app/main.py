"""The FastAPI application: API routers, web reader, security headers, scheduler."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import logs
from app import secrets as secrets_at_rest
from app.api import (
    admin,
    app_passwords,
    contacts,
    digest,
    digest_mail,
    health,
    items,
    me,
    metrics,
    people,
    reading,
    reply,
    search,
    sources,
    timeline,
    tokens,
    vcard,
)
from app.api.errors import install_error_handlers
from app.config import Settings, get_settings
from app.fever import router as fever_router
from app.greader import PREFIXES as GREADER_PREFIXES
from app.greader import router as greader_router
from app.jobs.scheduler import run_scheduler
from app.ratelimit import RateLimiter
from app.web import apps as web_apps
from app.web import people as web_people
from app.web import reach as web_reach
from app.web import routes as web_routes
from app.web import search as web_search
from app.web import sources as web_sources
from app.web import unsubscribe as web_unsubscribe
from app.web.common import install_web

STATIC_DIR = Path(__file__).resolve().parent / "static"

# No inline script or style anywhere; images from feeds may come from any http(s) host.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
# Swagger UI (/docs) needs its CDN assets and one inline script.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' https: data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
)


class SecurityHeaders:
    """CSP and friends on every HTTP response. Plain ASGI, not ``@app.middleware``:
    Starlette's BaseHTTPMiddleware runs each response through an extra task and memory
    stream, which cost a fifth of a timeline request's time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in ("/docs", "/docs/oauth2-redirect")
        csp = DOCS_CSP if docs else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["content-security-policy"] = csp
                for name, value in _HEADERS:
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None, *, run_scheduler_loop: bool = False) -> FastAPI:
    """Build the app; ``run_scheduler_loop`` starts in-process ingest (``kith serve``)."""
    settings = settings or get_settings()
    logs.install()  # no feed token in the access log
    secrets_at_rest.install(settings)  # the key set of secrets at rest

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(run_scheduler(settings, stop)) if run_scheduler_loop else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task

    app = FastAPI(
        title="Kith",
        summary="People-centred feeds: one timeline of the people you value.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.limiter = RateLimiter(
        settings.rate_limit_storage, {"login": settings.login_rate, "token": settings.token_rate}
    )
    install_error_handlers(app)
    if settings.cors_origins:  # off unless configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,  # bearer tokens, never the reader's cookies
            max_age=600,
        )

    api_prefix = "/api/v1"
    app.include_router(health.router, prefix=api_prefix)
    app.include_router(timeline.router, prefix=api_prefix)
    app.include_router(search.router, prefix=api_prefix)
    app.include_router(sources.router, prefix=api_prefix)
    app.include_router(items.router, prefix=api_prefix)
    app.include_router(reading.router, prefix=api_prefix)
    app.include_router(reply.router, prefix=api_prefix)
    app.include_router(me.router, prefix=api_prefix)
    # before people: /people/upcoming must not be taken for /people/{person_id}
    app.include_router(contacts.router, prefix=api_prefix)
    app.include_router(vcard.router, prefix=api_prefix)  # /people/vcard, likewise
    app.include_router(people.router, prefix=api_prefix)
    app.include_router(digest.router, prefix=api_prefix)
    app.include_router(digest_mail.router, prefix=api_prefix)
    app.include_router(tokens.router, prefix=api_prefix)
    app.include_router(app_passwords.router, prefix=api_prefix)
    app.include_router(admin.router, prefix=api_prefix)
    app.include_router(metrics.router)
    for greader_prefix in GREADER_PREFIXES:  # native reader apps (Google Reader API)
        app.include_router(greader_router, prefix=greader_prefix)
    app.include_router(fever_router)  # native reader apps (Fever API)
    app.include_router(web_routes.router)
    app.include_router(web_people.router)
    app.include_router(web_sources.router)
    app.include_router(web_reach.router)
    app.include_router(web_search.router)
    app.include_router(web_unsubscribe.router)
    app.include_router(web_apps.router)  # the Apps page (app passwords)
    install_web(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key or secrets.token_urlsafe(32),
        session_cookie="kith_session",
        same_site="lax",
        https_only=False,
        max_age=14 * 24 * 3600,
    )
    return app
