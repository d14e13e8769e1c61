"""A fake Bluesky: one Starlette app served by uvicorn on two loopback ports, the
public AppView (``appview_base``) and the account's PDS (``pds_base``), plus a PLC
directory (``/did:plc:...`` on the AppView port) and ``/.well-known/atproto-did``
answered by Host header. Shapes follow the lexicons: ProfileViewDetailed, FeedViewPost
(post, reply, reason), listNotifications, repo.listRecords, createSession and
refreshSession, ``{"error", "message"}`` bodies and ``ratelimit-*`` headers."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

PASSWORD = "abcd-efgh-ijkl-mnop"
B32 = "abcdefghijklmnopqrstuvwxyz234567"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeBluesky:
    def __init__(self) -> None:
        self.appview_port, self.pds_port = _port(), _port()
        self.appview_base = f"http://127.0.0.1:{self.appview_port}"
        self.pds_base = f"http://127.0.0.1:{self.pds_port}"
        self.hosts = [f"127.0.0.1:{self.appview_port}", f"127.0.0.1:{self.pds_port}"]
        self.profiles: dict[str, dict[str, Any]] = {}
        self.feeds: dict[str, list[dict[str, Any]]] = {}  # did -> FeedViewPosts, newest first
        self.timeline: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self.likes: list[dict[str, Any]] = []  # like records of me, newest first
        self.plc: dict[str, dict[str, Any]] = {}
        self.well_known: dict[str, str] = {}  # host -> DID
        self.me: dict[str, Any] | None = None
        self.password = PASSWORD
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.expire_next = 0  # answer this many authed calls with ExpiredToken
        self.fail: dict[str, int] = {}  # nsid -> status to answer with
        self.remaining: int | None = None
        self.reset_in = 60.0
        # (port, path?query, Authorization, body)
        self.requests: list[tuple[int, str, str | None, str]] = []
        self._ids = itertools.count(1)
        self._clock = datetime.now(UTC) - timedelta(days=10)
        app = Starlette(
            routes=[
                Route("/xrpc/{nsid}", self.xrpc, methods=["GET", "POST"]),
                Route("/.well-known/atproto-did", self.atproto_did),
                Route("/{did:path}", self.plc_doc),
            ]
        )
        self._servers = []
        for port in (self.appview_port, self.pds_port):
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
            )
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            self._servers.append((server, thread))
        for server, _ in self._servers:
            while not server.started:
                time.sleep(0.01)

    def close(self) -> None:
        for server, thread in self._servers:
            server.should_exit = True
            thread.join(5)

    # --- data -------------------------------------------------------------------------

    def tick(self, at: datetime | None = None) -> datetime:
        self._clock = at or (self._clock + timedelta(milliseconds=7))
        return self._clock

    def new_did(self) -> str:
        n = next(self._ids)
        return "did:plc:" + "".join(B32[(n >> (5 * i)) % 32] for i in range(24))

    def actor(
        self, handle: str, name: str | None = None, *, description: str = "", pds: str | None = None
    ) -> dict[str, Any]:
        did = self.new_did()
        profile = {
            "did": did,
            "handle": handle,
            "displayName": name if name is not None else handle.split(".")[0].title(),
            "description": description,
            "avatar": f"https://cdn.example/{did}.jpg",
            "followersCount": 3,
            "followsCount": 2,
            "postsCount": 0,
            "indexedAt": iso(self._clock),
            "labels": [],
        }
        self.profiles[did] = profile
        self.feeds[did] = []
        self.plc[did] = self.did_doc(did, handle, pds or self.pds_base)
        return profile

    @staticmethod
    def did_doc(did: str, handle: str, pds: str) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": did,
            "alsoKnownAs": [f"at://{handle}"],
            "verificationMethod": [],
            "service": [
                {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}
            ],
        }

    def account(self, handle: str, name: str | None = None) -> dict[str, Any]:
        self.me = self.actor(handle, name)
        return self.me

    @staticmethod
    def basic(profile: dict[str, Any]) -> dict[str, Any]:
        return {k: profile[k] for k in ("did", "handle", "displayName", "avatar")}

    def post(
        self,
        author: dict[str, Any],
        text: str = "hello",
        *,
        facets: list[dict[str, Any]] | None = None,
        reply_to: dict[str, Any] | None = None,
        embed: dict[str, Any] | None = None,
        created_at: datetime | None = None,
        langs: tuple[str, ...] = ("en",),
        publish: bool = True,
    ) -> dict[str, Any]:
        at = self.tick(created_at)
        rkey = f"3k{next(self._ids):011d}"
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": iso(at),
            "langs": list(langs),
        }
        if facets:
            record["facets"] = facets
        if reply_to:
            ref = {"uri": reply_to["uri"], "cid": reply_to["cid"]}
            record["reply"] = {"root": ref, "parent": ref}
        view: dict[str, Any] = {
            "uri": f"at://{author['did']}/app.bsky.feed.post/{rkey}",
            "cid": f"bafy{rkey}",
            "author": self.basic(author),
            "record": record,
            "replyCount": 0,
            "repostCount": 0,
            "likeCount": 0,
            "quoteCount": 0,
            "indexedAt": iso(at),
            "labels": [],
        }
        if embed:
            view["embed"] = embed
        item: dict[str, Any] = {"post": view, "_key": iso(at)}
        if reply_to:
            item["reply"] = {"root": reply_to, "parent": reply_to}
        if publish:
            self.feeds[author["did"]].insert(0, item)
        return view

    def repost(self, by: dict[str, Any], post: dict[str, Any]) -> dict[str, Any]:
        at = self.tick()
        reason = {
            "$type": "app.bsky.feed.defs#reasonRepost",
            "by": self.basic(by),
            "indexedAt": iso(at),
        }
        item = {"post": post, "reason": reason, "_key": iso(at)}
        self.feeds[by["did"]].insert(0, item)
        return item

    def notify(
        self, reason: str, author: dict[str, Any], subject: dict[str, Any] | None = None
    ) -> None:
        at = self.tick()
        uri = (subject or {}).get("uri") if reason in ("reply", "mention", "quote") else None
        rkey = f"3n{next(self._ids):011d}"
        collection = {"like": "app.bsky.feed.like", "repost": "app.bsky.feed.repost"}.get(
            reason, "app.bsky.graph.follow" if reason == "follow" else "app.bsky.feed.post"
        )
        self.notifications.insert(
            0,
            {
                "uri": uri or f"at://{author['did']}/{collection}/{rkey}",
                "cid": f"bafy{rkey}",
                "author": self.basic(author),
                "reason": reason,
                "reasonSubject": (subject or {}).get("uri"),
                "record": {"createdAt": iso(at)},
                "isRead": False,
                "indexedAt": iso(at),
                "labels": [],
                "_key": iso(at),
            },
        )

    def like(self, post: dict[str, Any]) -> None:
        assert self.me is not None
        at = self.tick()
        rkey = f"3l{next(self._ids):011d}"
        self.likes.insert(
            0,
            {
                "uri": f"at://{self.me['did']}/app.bsky.feed.like/{rkey}",
                "cid": f"bafy{rkey}",
                "value": {
                    "$type": "app.bsky.feed.like",
                    "subject": {"uri": post["uri"], "cid": post["cid"]},
                    "createdAt": iso(at),
                },
                "_key": rkey,
            },
        )

    # --- HTTP ---------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        if self.remaining is None:
            return {}
        return {
            "ratelimit-limit": "3000",
            "ratelimit-remaining": str(max(self.remaining, 0)),
            "ratelimit-reset": str(int(time.time() + self.reset_in)),
            "ratelimit-policy": "3000;w=300",
        }

    def _json(self, body: Any, status: int = 200) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers=self._headers())

    def _error(self, status: int, error: str, message: str) -> JSONResponse:
        return self._json({"error": error, "message": message}, status)

    def _page(self, request: Request, items: list[dict[str, Any]], key: str) -> JSONResponse:
        q = request.query_params
        limit = max(1, min(int(q.get("limit", 50)), 100))
        chosen = [i for i in items if not q.get("cursor") or i["_key"] < q["cursor"]]
        page = chosen[:limit]
        body: dict[str, Any] = {key: [{k: v for k, v in i.items() if k != "_key"} for i in page]}
        if len(chosen) > limit:
            body["cursor"] = page[-1]["_key"]
        return self._json(body)

    def _authed(self, request: Request) -> JSONResponse | None:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        if request.url.port != self.pds_port or token not in self.access:
            return self._error(401, "AuthenticationRequired", "Authentication Required")
        if self.expire_next > 0:
            self.expire_next -= 1
            self.access.discard(token)
            return self._error(400, "ExpiredToken", "Token has expired")
        return None

    def _session(self) -> dict[str, Any]:
        assert self.me is not None
        n = next(self._ids)
        access, refresh = f"access-{n}", f"refresh-{n}"
        self.access.add(access)
        self.refresh.add(refresh)
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": self.me["handle"],
            "did": self.me["did"],
            "active": True,
        }

    async def xrpc(self, request: Request) -> Response:
        nsid = request.path_params["nsid"]
        body = (await request.body()).decode()
        self.requests.append(
            (
                int(request.url.port or 0),
                request.url.path + ("?" + request.url.query if request.url.query else ""),
                request.headers.get("authorization"),
                body,
            )
        )
        if self.remaining is not None:
            if self.remaining <= 0:
                return self._error(429, "RateLimitExceeded", "Rate Limit Exceeded")
            self.remaining -= 1
        if nsid in self.fail:
            return self._error(self.fail[nsid], "InternalServerError", "Internal Server Error")
        q = request.query_params
        if nsid == "com.atproto.server.createSession":
            if request.url.port != self.pds_port or self.me is None:
                return self._error(404, "MethodNotImplemented", "no such method here")
            data = json.loads(body or "{}")
            if data.get("identifier") not in (self.me["did"], self.me["handle"]) or (
                data.get("password") != self.password
            ):
                return self._error(401, "AuthenticationRequired", "Invalid identifier or password")
            return self._json(self._session())
        if nsid == "com.atproto.server.refreshSession":
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if token not in self.refresh:
                return self._error(400, "ExpiredToken", "Token has expired")
            self.refresh.discard(token)
            return self._json(self._session())
        if nsid == "app.bsky.actor.getProfile":
            actor = q.get("actor", "")
            found = self._profile(actor)
            if found is None:
                return self._error(400, "InvalidRequest", "Profile not found")
            return self._json(found)
        if nsid == "app.bsky.feed.getAuthorFeed":
            found = self._profile(q.get("actor", ""))
            if found is None:
                return self._error(400, "InvalidRequest", "Profile not found")
            return self._page(request, self.feeds[found["did"]], "feed")
        if nsid == "app.bsky.actor.getProfiles":
            wanted = q.getlist("actors")
            return self._json({"profiles": [p for d in wanted if (p := self._profile(d))]})
        if nsid == "com.atproto.repo.listRecords":
            return self._page(request, self.likes, "records")
        if (denied := self._authed(request)) is not None:
            return denied
        if nsid == "app.bsky.feed.getTimeline":
            return self._page(request, self.timeline, "feed")
        if nsid == "app.bsky.notification.listNotifications":
            return self._page(request, self.notifications, "notifications")
        return self._error(501, "MethodNotImplemented", f"{nsid} is not implemented")

    def _profile(self, actor: str) -> dict[str, Any] | None:
        return next((p for p in self.profiles.values() if actor in (p["did"], p["handle"])), None)

    async def atproto_did(self, request: Request) -> Response:
        host = (request.headers.get("host") or "").split(":", 1)[0]
        did = self.well_known.get(host)
        if did is None:
            return PlainTextResponse("not found", status_code=404)
        return PlainTextResponse(did + "\n")

    async def plc_doc(self, request: Request) -> Response:
        did = request.path_params["did"]
        doc = self.plc.get(did)
        if doc is None:
            return JSONResponse({"message": "DID not registered"}, status_code=404)
        return JSONResponse(doc)
