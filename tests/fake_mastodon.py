"""A fake Mastodon instance: an ASGI app served on loopback by uvicorn, answering in the
shapes of the Mastodon API documentation (Status, Account, Notification entities; Link
pagination with max_id/min_id; X-RateLimit-* headers; {"error": ...} bodies)."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "secret-token"


class FakeMastodon:
    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.accounts: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, list[dict[str, Any]]] = {}  # account id -> newest first
        self.home: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self.favourites: list[dict[str, Any]] = []
        self.me: dict[str, Any] | None = None
        self.requests: list[tuple[str, str | None]] = []  # (path?query, Authorization)
        self.remaining: int | None = None  # rate limit: requests left, None = unlimited
        self.reset_in = 60.0
        self.link_base: str | None = None  # to send Link headers to another origin
        self.api_closed = False
        # what the token may do, and which endpoints say so ("token_info", "apps")
        self.scopes: list[str] = ["read", "write", "follow"]
        self.scopes_say: set[str] = {"token_info", "apps"}
        self.posts: list[dict[str, Any]] = []  # POST /api/v1/statuses bodies that succeeded
        self.post_failure: tuple[int, dict[str, Any]] | None = None  # answer posts with this
        self.down = False  # answer everything with 503
        # statuses of other instances that search?resolve=true can fetch: url -> status
        self.remote: dict[str, dict[str, Any]] = {}
        # path -> (status, body): that route answers with this error (one stream failing)
        self.failures: dict[str, tuple[int, dict[str, Any]]] = {}
        # the user's relationship with accounts (account id -> Relationship fields) and
        # the accounts featured on the user's profile
        self.relationships: dict[str, dict[str, Any]] = {}
        self.endorsed: list[dict[str, Any]] = []
        self._next_id = 110_000_000_000_000_000
        app = Starlette(
            routes=[
                Route("/api/v1/accounts/lookup", self.lookup),
                Route("/api/v1/accounts/verify_credentials", self.verify),
                Route("/api/v1/accounts/{id}/statuses", self.account_statuses),
                Route("/api/v1/timelines/home", self.home_timeline),
                Route("/api/v1/notifications", self.notifications_list),
                Route("/api/v1/favourites", self.favourites_list),
                Route("/api/v1/statuses", self.create_status, methods=["POST"]),
                Route("/api/v1/statuses/{id}", self.one_status),
                Route("/api/v1/accounts/relationships", self.relationships_list),
                Route("/api/v1/endorsements", self.endorsements_list),
                Route("/api/v1/apps/verify_credentials", self.app_verify),
                Route("/oauth/token/info", self.token_info),
                Route("/api/v2/search", self.search),
                Route("/{name:path}.rss", self.rss),
            ]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)

    # --- data -------------------------------------------------------------------------

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def account(
        self, username: str, display_name: str | None = None, *, fields=()
    ) -> dict[str, Any]:
        ident = self.new_id()
        acct = {
            "id": ident,
            "username": username,
            "acct": username,
            "display_name": display_name if display_name is not None else username.title(),
            "url": f"{self.base}/@{username}",
            "note": "<p>hi</p>",
            "fields": list(fields),
            "locked": False,
            "bot": False,
            "created_at": "2020-01-01T00:00:00.000Z",
            "followers_count": 1,
            "following_count": 1,
            "statuses_count": 0,
            "emojis": [],
        }
        self.accounts[ident] = acct
        self.statuses[ident] = []
        return acct

    def status(
        self,
        account: dict[str, Any],
        content: str = "<p>hello</p>",
        *,
        reblog=None,
        in_reply_to=None,
        mentions=(),
        spoiler="",
        media=(),
        poll=None,
        language="en",
        created_at: datetime | None = None,
        publish: bool = True,
    ) -> dict[str, Any]:
        ident = self.new_id()
        at = created_at or datetime.now(UTC)
        status = {
            "id": ident,
            "uri": f"{self.base}/users/{account['username']}/statuses/{ident}",
            "url": f"{self.base}/@{account['username']}/{ident}",
            "account": account,
            "created_at": at.isoformat().replace("+00:00", "Z"),
            "edited_at": None,
            "content": content if reblog is None else "",
            "spoiler_text": spoiler,
            "visibility": "public",
            "sensitive": bool(spoiler),
            "language": language,
            "in_reply_to_id": in_reply_to["id"] if in_reply_to else None,
            "in_reply_to_account_id": in_reply_to["account"]["id"] if in_reply_to else None,
            "reblog": reblog,
            "mentions": [
                {"id": m["id"], "username": m["username"], "acct": m["acct"], "url": m["url"]}
                for m in mentions
            ],
            "tags": [],
            "emojis": [],
            "media_attachments": list(media),
            "poll": poll,
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
        }
        if publish:
            self.statuses[account["id"]].insert(0, status)
        return status

    def notify(
        self, kind: str, account: dict[str, Any], status: dict[str, Any] | None = None
    ) -> None:
        self.notifications.insert(
            0,
            {
                "id": self.new_id(),
                "type": kind,
                "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "account": account,
                "status": status,
            },
        )

    # --- HTTP ---------------------------------------------------------------------------

    def _limited(self, request: Request) -> Response | None:
        self.requests.append(
            (
                request.url.path + ("?" + request.url.query if request.url.query else ""),
                request.headers.get("authorization"),
            )
        )
        if request.url.path in self.failures:
            status, body = self.failures[request.url.path]
            return self._json(body, status)
        if self.remaining is not None:
            if self.remaining <= 0:
                return self._json({"error": "Too many requests"}, 429)
            self.remaining -= 1
        return None

    def _json(self, body: Any, status: int = 200, links: str | None = None) -> JSONResponse:
        headers = {}
        if self.remaining is not None:
            reset = datetime.now(UTC) + timedelta(seconds=self.reset_in)
            headers = {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": str(max(self.remaining, 0)),
                "X-RateLimit-Reset": reset.isoformat().replace("+00:00", "Z"),
            }
        if links:
            headers["Link"] = links
        return JSONResponse(body, status_code=status, headers=headers)

    def _authed(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    def _page(self, request: Request, items: list[dict[str, Any]]) -> JSONResponse:
        q = request.query_params
        limit = min(int(q.get("limit", 20)), 40)
        key = lambda s: int(s["id"])  # noqa: E731
        chosen = items
        if q.get("max_id"):
            chosen = [s for s in chosen if key(s) < int(q["max_id"])]
        if q.get("since_id"):
            chosen = [s for s in chosen if key(s) > int(q["since_id"])]
        if q.get("min_id"):
            newer = sorted((s for s in chosen if key(s) > int(q["min_id"])), key=key)[:limit]
            page = sorted(newer, key=key, reverse=True)
        else:
            page = chosen[:limit]
        links = None
        if page:
            base = (self.link_base or self.base) + request.url.path
            links = (
                f'<{base}?limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return self._json(page, links=links)

    async def lookup(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if self.api_closed:
            return self._json({"error": "This method requires an authenticated user"}, 401)
        acct = request.query_params.get("acct", "")
        for account in self.accounts.values():
            if account["acct"] == acct:
                return self._json(account)
        return self._json({"error": "Record not found"}, 404)

    async def verify(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if not self._authed(request) or self.me is None:
            return self._json({"error": "The access token is invalid"}, 401)
        return self._json(self.me)

    async def account_statuses(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if self.api_closed:
            return self._json({"error": "This method requires an authenticated user"}, 401)
        items = self.statuses.get(request.path_params["id"])
        if items is None:
            return self._json({"error": "Record not found"}, 404)
        return self._page(request, items)

    async def home_timeline(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if not self._authed(request):
            return self._json({"error": "The access token is invalid"}, 401)
        return self._page(request, self.home)

    async def notifications_list(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if not self._authed(request):
            return self._json({"error": "The access token is invalid"}, 401)
        return self._page(request, self.notifications)

    async def favourites_list(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if not self._authed(request):
            return self._json({"error": "The access token is invalid"}, 401)
        return self._json(self.favourites[:40])

    async def rss(self, request: Request) -> Response:
        name = request.path_params["name"].lstrip("@")
        account = next((a for a in self.accounts.values() if a["username"] == name), None)
        if account is None:
            return Response("not found", status_code=404)
        items = "".join(
            f"<item><guid isPermaLink='true'>{s['url']}</guid><link>{s['url']}</link>"
            f"<pubDate>Mon, 23 Nov 2026 09:00:00 +0000</pubDate><description>{s['content'].replace('<', '&lt;')}</description></item>"
            for s in self.statuses[account["id"]][:20]
        )
        body = (
            f"<?xml version='1.0'?><rss version='2.0'><channel><title>{account['display_name']}</title>"
            f"<link>{account['url']}</link><description>d</description>{items}</channel></rss>"
        )
        return Response(body, media_type="application/rss+xml")

    def delete(self, status: dict[str, Any]) -> None:
        """The author deletes a status: gone from every list, its id answers 404."""
        for items in (*self.statuses.values(), self.home):
            items[:] = [s for s in items if s["id"] != status["id"]]

    async def one_status(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        found = [s for s in self.all_statuses() if s["id"] == request.path_params["id"]]
        return self._json(found[0]) if found else self._json({"error": "Record not found"}, 404)

    async def relationships_list(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if not self._authed(request):
            return self._json({"error": "The access token is invalid"}, 401)
        plain = {"following": False, "followed_by": False, "endorsed": False, "note": ""}
        ids = request.query_params.getlist("id[]")
        return self._json([dict(plain, **self.relationships.get(i, {}), id=i) for i in ids])

    async def endorsements_list(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if not self._authed(request):
            return self._json({"error": "The access token is invalid"}, 401)
        return self._json(self.endorsed[:40])

    # --- writing ------------------------------------------------------------------------

    def all_statuses(self) -> list[dict[str, Any]]:
        return [s for items in self.statuses.values() for s in items]

    async def create_status(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if self.down:
            return self._json({"error": "Service Unavailable"}, 503)
        if not self._authed(request) or self.me is None:
            return self._json({"error": "The access token is invalid"}, 401)
        if not {"write", "write:statuses"} & set(self.scopes):
            return self._json({"error": "This action is outside the authorized scopes"}, 403)
        if request.headers.get("content-type", "").startswith("application/json"):
            body = dict(await request.json())
        else:
            body = dict(await request.form())
        if self.post_failure is not None:
            return self._json(self.post_failure[1], self.post_failure[0])
        if not str(body.get("status") or "").strip():
            return self._json({"error": "Validation failed: Text can't be blank"}, 422)
        parent = None
        if body.get("in_reply_to_id"):
            parent = next(
                (s for s in self.all_statuses() if s["id"] == str(body["in_reply_to_id"])), None
            )
            if parent is None:
                return self._json({"error": "Record not found"}, 404)
        mentions = [a for a in self.accounts.values() if f"@{a['acct']}" in body["status"]]
        status = self.status(
            self.me, f"<p>{body['status']}</p>", in_reply_to=parent, mentions=mentions
        )
        status["visibility"] = body.get("visibility") or "public"
        self.posts.append(dict(body, idempotency_key=request.headers.get("idempotency-key")))
        return self._json(status)

    async def app_verify(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if not self._authed(request):
            return self._json({"error": "The access token is invalid"}, 401)
        app: dict[str, Any] = {"name": "Kith", "website": None}
        if "apps" in self.scopes_say:  # Mastodon 4.3+
            app["scopes"] = list(self.scopes)
        return self._json(app)

    async def token_info(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if "token_info" not in self.scopes_say:
            return self._json({"error": "Not Found"}, 404)
        if not self._authed(request):
            return self._json({"error": "invalid_token"}, 401)
        return self._json(
            {
                "resource_owner_id": int(self.me["id"]) if self.me else None,
                "scope": list(self.scopes),
                "expires_in": None,
                "application": {"uid": "kith"},
                "created_at": 1700000000,
            }
        )

    async def search(self, request: Request) -> Response:
        if (limited := self._limited(request)) is not None:
            return limited
        if not self._authed(request):
            return self._json({"error": "The access token is invalid"}, 401)
        q = request.query_params.get("q", "")
        found = [s for s in self.all_statuses() if q in (s["url"], s["uri"])]
        if not found and request.query_params.get("resolve") == "true" and q in self.remote:
            # fetched from its instance: a local copy with an id of this instance
            theirs = self.remote.pop(q)
            author = next(
                (a for a in self.accounts.values() if a["url"] == theirs["account"]["url"]),
                None,
            )
            if author is None:
                author = dict(theirs["account"], id=self.new_id())
                self.accounts[author["id"]] = author
                self.statuses[author["id"]] = []
            copy = dict(theirs, id=self.new_id(), account=author)
            self.statuses[author["id"]].insert(0, copy)
            found = [copy]
        return self._json({"accounts": [], "statuses": found, "hashtags": []})
