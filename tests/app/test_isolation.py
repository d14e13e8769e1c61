"""Isolation between users: the two-user route sweep.

Every route of the app is enumerated at runtime and called by Bob with Alice's ids (in
the path, in bodies and in queries). Another user's object answers 404 exactly as an id
that never existed does, list routes show Bob nothing of Alice's, admin routes answer a
non-admin 403, and afterwards nothing of Alice's has changed (her rows, byte for byte, and
her view through the API). The same calls made by their owner succeed, so the sweep does
not pass because every call is broken. A route the sweep does not know (or a path
parameter it cannot fill) fails the test, so a new route cannot silently escape it.
SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import SQLModel, select
from starlette.routing import Mount

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import User
from app.storage import users as user_store
from tests.app.conftest import ApiUser, add_user
from tests.helpers import FeedServer, Reply

API = "/api/v1"
NOW = datetime.now(UTC)
MISSING = 900_000_000

# --- the route table ----------------------------------------------------------------

OWNED = "owned"  # names the owner's object (path or body): anyone else gets 404
MINE = "mine"  # acts on the caller's own data only: 2xx, nothing of anyone else in it
ADMIN = "admin"  # admins only: a non-admin gets 403 {"error": {"code": "forbidden"}}
PUBLIC = "public"  # user-independent (health, login)
FEED = "feed"  # the feed token in the URL is the credential (Atom feed)
WEB = "web"  # a page of the web reader behind a cookie session
WEB_OWNED = "web_owned"  # a reader page about one object: anyone else gets a 404 page


@dataclass(frozen=True)
class Owner:
    """One user and one of each of their objects (NOBODY: ids no row has)."""

    user: ApiUser
    source_id: int
    item_id: int
    person_id: int
    identity_id: int  # an identity of person_id
    other_person_id: int
    other_identity_id: int  # an identity of other_person_id
    pair: tuple[int, int]  # a merge suggestion
    token_id: int  # an extra API token (not the one in ``user``)
    extra_token: str
    feed_token: str
    old_feed_token: str  # revoked
    feed_url: str  # the URL of one of their sources
    new_feed_url: str  # a URL they do not follow yet
    self_identities: tuple[tuple[str, str], ...]
    cursor: str | None
    markers: frozenset[str]
    contact_id: int = MISSING  # a logged contact of person_id
    date_id: int = MISSING  # a date of person_id
    app_password_id: int = MISSING  # one of their app passwords


def path_params(o: Owner) -> dict[str, object]:
    """Path parameter name -> the owner's object; a name not here fails the sweep."""
    return {
        "source_id": o.source_id,
        "item_id": o.item_id,
        "person_id": o.person_id,
        "token_id": o.token_id,
        "user_id": o.user.id,
        "token": o.feed_token,
        "contact_id": o.contact_id,
        "date_id": o.date_id,
        "app_password_id": o.app_password_id,
    }


# an owner whose ids no row has: the "never existed" twin of each call
NOBODY = Owner(
    user=ApiUser(name="nobody", id=MISSING, token=""),
    source_id=MISSING,
    item_id=MISSING,
    person_id=MISSING,
    identity_id=MISSING,
    other_person_id=MISSING + 1,
    other_identity_id=MISSING + 1,
    pair=(MISSING, MISSING + 1),
    token_id=MISSING,
    extra_token="",
    feed_token="kith_" + "A" * 43,
    old_feed_token="",
    feed_url="",
    new_feed_url="",
    self_identities=(),
    cursor=None,
    markers=frozenset(),
)

Body = Callable[[Owner, Owner], object]  # (caller, owner) -> JSON, form fields or bytes


@dataclass(frozen=True)
class Case:
    kind: str
    body: Body | None = None
    query: dict[str, str] | None = None
    ok: tuple[int, ...] = (200,)  # owner's statuses (and, for MINE/PUBLIC, anyone's)
    shows: bool = False  # the owner's answer carries their markers (the check can see them)
    step: int = 0  # order of calls: reads, writes, merges, deletions
    form: bool = False


def opml(url: str) -> bytes:
    return (
        '<?xml version="1.0"?><opml version="2.0"><head><title>subs</title></head><body>'
        f'<outline type="rss" text="imported" xmlUrl="{url}"/></body></opml>'
    ).encode()


def vcard(url: str) -> bytes:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Sweep Contact\r\nURL:{url}\r\nEND:VCARD\r\n".encode()


def pair_body(_: Owner, o: Owner) -> object:
    return {"a": o.pair[0], "b": o.pair[1]}


CASES: dict[tuple[str, str], Case] = {
    # user-independent
    ("GET", f"{API}/health"): Case(PUBLIC),
    ("GET", "/login"): Case(PUBLIC),
    ("POST", "/login"): Case(
        PUBLIC,
        body=lambda c, o: {"username": o.user.name, "password": "wrong", "csrf": "forged"},
        ok=(400, 401, 422),
        form=True,
    ),
    ("POST", "/logout"): Case(PUBLIC, body=lambda c, o: {"csrf": "forged"}, ok=(303,), form=True),
    ("GET", "/"): Case(WEB, shows=True),
    ("GET", "/favicon.ico"): Case(PUBLIC, ok=(301,)),
    ("GET", "/metrics"): Case(PUBLIC),
    ("GET", "/people"): Case(WEB, shows=True),
    ("GET", "/people/{person_id}"): Case(WEB_OWNED, shows=True),
    ("GET", "/sources"): Case(WEB, shows=True),
    ("GET", "/reach-out"): Case(WEB),
    ("GET", "/digest"): Case(WEB),
    ("GET", "/apps"): Case(WEB),  # app passwords: the list through the web session
    # the digest mail's unsubscribe link: its token is the credential (here a feed token,
    # which opens nothing): the same "already unsubscribed" page for every token
    ("GET", "/unsubscribe/{token}"): Case(PUBLIC),
    ("POST", "/unsubscribe/{token}"): Case(PUBLIC, step=1),
    # Fever: the api_key (an app password's) is the credential, not the bearer token: a
    # caller without one gets the protocol's {"auth": 0} (tests/app/test_fever.py: keys)
    ("GET", "/fever/"): Case(PUBLIC),
    ("POST", "/fever/"): Case(
        PUBLIC, body=lambda c, o: {"mark": "group", "as": "read", "id": "0"}, form=True, step=1
    ),
    ("GET", "/search"): Case(WEB),  # the page without q: the syntax help
    ("GET", f"{API}/feeds/{{token}}/atom.xml"): Case(FEED, shows=True),
    # the caller's own lists and writes
    ("GET", f"{API}/timeline"): Case(MINE, query={"limit": "200"}, shows=True),
    ("GET", f"{API}/search"): Case(
        MINE, query={"q": "quillfeather OR marchetti OR osei"}, shows=True
    ),
    ("GET", f"{API}/sources"): Case(MINE, shows=True),
    ("POST", f"{API}/sources"): Case(
        MINE, body=lambda c, o: {"url": c.new_feed_url}, ok=(201,), step=1
    ),
    ("POST", f"{API}/sources/discover"): Case(MINE, body=lambda c, o: {"url": c.feed_url}, step=1),
    ("GET", f"{API}/sources/opml"): Case(MINE, shows=True),
    ("POST", f"{API}/sources/opml"): Case(
        MINE, body=lambda c, o: opml(c.new_feed_url + "-opml"), step=1
    ),
    ("GET", f"{API}/me/identities"): Case(MINE, shows=True),
    ("PUT", f"{API}/me/identities"): Case(
        MINE,
        body=lambda c, o: {"identities": [{"kind": k, "value": v} for k, v in c.self_identities]},
        step=1,
    ),
    ("POST", f"{API}/me/feed-token"): Case(MINE, step=4),
    ("GET", f"{API}/me/export"): Case(MINE, shows=True),
    ("GET", f"{API}/me/digest-mail"): Case(MINE),
    ("PUT", f"{API}/me/digest-mail"): Case(
        MINE, body=lambda c, o: {"frequency": "weekly", "email": "sweep@example.org"}, step=1
    ),
    # a wrong password: nothing is deleted (the sweep needs both accounts to the end);
    # tests/app/test_account_delete.py deletes for real
    ("DELETE", f"{API}/me"): Case(
        MINE, body=lambda c, o: {"password": "not " + o.user.name}, ok=(403,), step=8
    ),
    ("DELETE", f"{API}/me/feed-token"): Case(MINE, ok=(204,), step=4),
    ("GET", f"{API}/people"): Case(MINE, query={"limit": "200"}, shows=True),
    ("GET", f"{API}/people/drifting"): Case(MINE),
    ("POST", f"{API}/people/links"): Case(MINE, step=1),
    # a card naming the owner's feed URL: the caller gets a person of their own
    ("POST", f"{API}/people/vcard"): Case(MINE, body=lambda c, o: vcard(o.feed_url), step=1),
    ("GET", f"{API}/people/suggestions"): Case(MINE, shows=True),
    ("GET", f"{API}/digest"): Case(MINE, query={"since": "2000-01-01T00:00:00Z"}, shows=True),
    ("GET", f"{API}/tokens"): Case(MINE, shows=True),
    ("POST", f"{API}/tokens"): Case(
        MINE, body=lambda c, o: {"name": "isolation-sweep"}, ok=(200, 201), step=1
    ),
    # the owner's objects
    ("GET", f"{API}/sources/{{source_id}}"): Case(OWNED, shows=True),
    ("PATCH", f"{API}/sources/{{source_id}}"): Case(
        OWNED, body=lambda c, o: {"folder": "Moved"}, step=1
    ),
    ("POST", f"{API}/sources/{{source_id}}/refresh"): Case(OWNED, step=1),
    ("DELETE", f"{API}/sources/{{source_id}}"): Case(OWNED, ok=(204,), step=5),
    ("POST", f"{API}/items/{{item_id}}/feedback"): Case(
        OWNED, body=lambda c, o: {"action": "like"}, ok=(204,), step=1
    ),
    ("DELETE", f"{API}/items/{{item_id}}"): Case(OWNED, ok=(204,), step=4),
    ("POST", f"{API}/items/{{item_id}}/read"): Case(OWNED, ok=(204,), step=1),
    ("DELETE", f"{API}/items/{{item_id}}/read"): Case(OWNED, ok=(204,), step=1),
    ("POST", f"{API}/items/{{item_id}}/save"): Case(OWNED, ok=(204,), step=1),
    ("DELETE", f"{API}/items/{{item_id}}/save"): Case(OWNED, ok=(204,), step=1),
    # everything the caller has up to an id: it can only ever touch the caller's own items
    ("POST", f"{API}/timeline/mark-read"): Case(MINE, body=lambda c, o: {"before": 2**62}, step=1),
    ("GET", f"{API}/timeline/counts"): Case(MINE),
    ("GET", f"{API}/items/{{item_id}}/ways"): Case(OWNED),
    # the owner's item is a feed post: refused as no Mastodon status, before any request
    ("POST", f"{API}/items/{{item_id}}/reply"): Case(
        OWNED, body=lambda c, o: {"text": "hello"}, ok=(422,), step=1
    ),
    ("POST", f"{API}/people/suggestions/reject"): Case(OWNED, body=pair_body, ok=(204,), step=1),
    ("POST", f"{API}/people/suggestions/accept"): Case(OWNED, body=pair_body, step=2),
    ("GET", f"{API}/people/{{person_id}}"): Case(OWNED, shows=True),
    ("PATCH", f"{API}/people/{{person_id}}"): Case(
        OWNED, body=lambda c, o: {"cadence_days": 30}, step=1
    ),
    ("GET", f"{API}/people/{{person_id}}/weight"): Case(OWNED),
    ("PUT", f"{API}/people/{{person_id}}/weight"): Case(
        OWNED, body=lambda c, o: {"manual": -1.0, "pinned": False, "muted": False}, step=1
    ),
    ("DELETE", f"{API}/people/{{person_id}}/weight"): Case(OWNED, step=4),
    # the body names the caller's own other person: only the path id is foreign
    ("POST", f"{API}/people/{{person_id}}/merge"): Case(
        OWNED, body=lambda c, o: {"other_id": c.other_person_id}, step=2
    ),
    # after the owner's merge, the other person's identity is on person_id: split it off
    ("POST", f"{API}/people/{{person_id}}/split"): Case(
        OWNED, body=lambda c, o: {"identity_id": c.other_identity_id}, step=3
    ),
    ("POST", f"{API}/people/{{person_id}}/snooze"): Case(
        OWNED, body=lambda c, o: {"until": "2099-01-01T00:00:00Z"}, step=1
    ),
    ("POST", f"{API}/people/{{person_id}}/dismiss"): Case(OWNED, step=1),
    ("GET", f"{API}/people/upcoming"): Case(MINE, query={"days": "366"}, shows=True),
    ("GET", f"{API}/people/{{person_id}}/contacts"): Case(OWNED, shows=True),
    ("POST", f"{API}/people/{{person_id}}/contacts"): Case(
        OWNED, body=lambda c, o: {"kind": "call"}, ok=(201,), step=1
    ),
    ("PATCH", f"{API}/people/{{person_id}}/contacts/{{contact_id}}"): Case(
        OWNED, body=lambda c, o: {"note": "rewritten"}, step=1
    ),
    ("DELETE", f"{API}/people/{{person_id}}/contacts/{{contact_id}}"): Case(
        OWNED, ok=(204,), step=4
    ),
    ("GET", f"{API}/people/{{person_id}}/dates"): Case(OWNED, shows=True),
    ("POST", f"{API}/people/{{person_id}}/dates"): Case(
        OWNED, body=lambda c, o: {"kind": "birthday", "month": 2, "day": 29}, ok=(201,), step=1
    ),
    ("PATCH", f"{API}/people/{{person_id}}/dates/{{date_id}}"): Case(
        OWNED, body=lambda c, o: {"remind_days": 3}, step=1
    ),
    ("DELETE", f"{API}/people/{{person_id}}/dates/{{date_id}}"): Case(OWNED, ok=(204,), step=4),
    ("DELETE", f"{API}/tokens/{{token_id}}"): Case(OWNED, ok=(200, 204), step=4),
    ("GET", f"{API}/app-passwords"): Case(MINE),
    ("POST", f"{API}/app-passwords"): Case(
        MINE, body=lambda c, o: {"name": "isolation-sweep"}, ok=(201,), step=1
    ),
    ("DELETE", f"{API}/app-passwords/{{app_password_id}}"): Case(OWNED, ok=(204,), step=4),
    # admins only (the owner's control call is made by the admin, on Bob, at the end)
    ("GET", f"{API}/admin/users"): Case(ADMIN),
    ("POST", f"{API}/admin/users/{{user_id}}/disable"): Case(ADMIN, ok=(200, 204), step=6),
    ("POST", f"{API}/admin/users/{{user_id}}/enable"): Case(ADMIN, ok=(200, 204), step=7),
}

SKIPPED_PATHS = {"/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"}
# protocols with their own credentials, swept by two users in their own tests:
# the Google Reader API (tests/app/test_greader.py)
OWN_AUTH_PREFIXES = ("/reader/", "/api/greader.php/")
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def app_routes(app: FastAPI) -> tuple[list[tuple[str, str]], list[str]]:
    """(method, path) of every API route, and the routes that are none the sweep can call."""
    try:
        from fastapi.routing import iter_route_contexts  # included routers stay nested
    except ImportError:  # older FastAPI: app.routes is flat
        entries = [(r, getattr(r, "path", None), getattr(r, "methods", None)) for r in app.routes]
    else:
        entries = [(c.original_route, c.path, c.methods) for c in iter_route_contexts(app.routes)]
    found: list[tuple[str, str]] = []
    strange: list[str] = []
    for route, path, methods in entries:
        if path in SKIPPED_PATHS or (isinstance(route, Mount) and path == "/static"):
            continue
        if path and path.startswith(OWN_AUTH_PREFIXES):
            continue
        if not isinstance(route, APIRoute) or not path:
            strange.append(f"{type(route).__name__} {path}")
            continue
        found.extend((m, path) for m in sorted(set(methods or ()) - SKIPPED_METHODS))
    return found, strange


def fill(path: str, params: dict[str, object]) -> str:
    return PARAM.sub(lambda m: str(params[m.group(1)]), path)


# --- calls and checks ---------------------------------------------------------------


def call(
    client: TestClient,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: object = None,
    query: dict[str, str] | None = None,
    form: bool = False,
) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": headers or {}, "params": query, "follow_redirects": False}
    if isinstance(body, bytes):
        kwargs["content"] = body
    elif body is not None and form:
        kwargs["data"] = body
    elif body is not None:
        kwargs["json"] = body
    return client.request(method, path, **kwargs)


def seen(resp: httpx.Response, markers: frozenset[str]) -> list[str]:
    """The markers found anywhere in a response (body and headers)."""
    text = (resp.text + "\n" + "\n".join(f"{k}: {v}" for k, v in resp.headers.items())).lower()
    return sorted(m for m in markers if m.lower() in text)


def error_code(resp: httpx.Response) -> str | None:
    try:
        return str(resp.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def shape(resp: httpx.Response) -> tuple[int, str]:
    """Status and body with every number masked: an id must not change the answer."""
    return resp.status_code, re.sub(r"\d+", "#", resp.text)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def web_client(app: FastAPI, user: ApiUser) -> TestClient:
    """A browser of its own, logged in as ``user`` (cookie session)."""
    web = TestClient(app)
    page = web.get("/login")
    resp = web.post(
        "/login",
        data={"username": user.name, "password": "correct horse", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    return web


# --- the world: Alice and Bob, one of everything ------------------------------------


def feed_xml(title: str, site: str, tag: str, posts: list[tuple[str, str, str]]) -> bytes:
    """RSS with one item per (author name, author e-mail, post title), all with ``tag``."""
    items = "".join(
        f"<item><guid>{site}/{n}</guid><link>{site}/{n}</link><title>{post}</title>"
        f"<author>{email} ({name})</author><category>{tag}</category>"
        f"<pubDate>{(NOW - timedelta(hours=n + 1)).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        f"<description>&lt;p&gt;{post}, the body&lt;/p&gt;</description></item>"
        for n, (name, email, post) in enumerate(posts)
    )
    return (
        f"<rss version='2.0'><channel><title>{title}</title><link>{site}/</link>{items}"
        "</channel></rss>"
    ).encode()


FEEDS = {
    "/alice-feed-quill": feed_xml(
        "Quillfeather Journal",
        "https://quill.example",
        "quillcraft",
        [
            ("Ann Quillfeather", "ann@quill.example", "Quillfeather post zero"),
            ("Ann Quillfeather", "ann@quill.example", "Quillfeather post one"),
            ("Ann Quillfeather", "ann@quill.example", "Quillfeather post two"),
            ("Dee Vantongeren", "dee@quill.example", "Vantongeren on quills"),
        ],
    ),
    "/alice-feed-marchetti": feed_xml(
        "Marchetti Notes",
        "https://marchetti.example",
        "quillcraft",
        [
            ("Bo Marchetti", "bo@marchetti.example", "Marchetti post zero"),
            ("Bo Marchetti", "bo@marchetti.example", "Marchetti post one"),
            ("Dee Vantongeren", "dee@vantongeren.example", "Vantongeren on notes"),
        ],
    ),
    "/bob-feed-osei": feed_xml(
        "Osei Birdwatch",
        "https://osei.example",
        "birding",
        [
            ("Cy Osei", "cy@osei.example", "Osei heron zero"),
            ("Cy Osei", "cy@osei.example", "Osei heron one"),
            ("Cy Osei", "cy@heron.example", "Osei egret"),
        ],
    ),
}
ALICE_WORDS = {
    "Quillfeather",
    "Marchetti",
    "Vantongeren",
    "quill.example",
    "Secret Garden",
    "Hush Folder",
    "alice-feed",
    "alice-home",
    "Wonderstrand",
    "quillcraft",
}
BOB_WORDS = {"Osei", "osei.example", "bob-feed", "bob-home"}


def make_users(settings: Settings) -> tuple[ApiUser, ApiUser, ApiUser]:
    """An admin first (the first account may become admin by itself), then Alice and Bob,
    who are not admins, whatever the defaults."""
    engine = get_engine(settings.database_url)
    with session_scope(engine) as s:
        root = user_store.create_user(s, name="root", password="root horse", is_admin=True)
        assert root.id is not None
        _, raw = user_store.create_token(s, user_id=root.id)
        admin = ApiUser(name="root", id=root.id, token=raw)
    alice, bob = add_user(settings, "alice"), add_user(settings, "bob")
    with session_scope(engine) as s:
        for user in s.exec(select(User)).all():
            user.is_admin = user.id == admin.id
            s.add(user)
    return admin, alice, bob


def ok(resp: httpx.Response, *statuses: int) -> httpx.Response:
    assert resp.status_code in (statuses or (200,)), f"{resp.request.url}: {resp.text}"
    return resp


def build_owner(
    client: TestClient,
    settings: Settings,
    feed_server: FeedServer,
    user: ApiUser,
    *,
    feed_path: str,
    words: set[str],
    more_identities: tuple[tuple[str, str], ...] = (),
) -> Owner:
    """Everything ``user`` owns after the refresh: ids, tokens and their data markers."""
    h = user.auth
    people = ok(client.get(f"{API}/people", params={"limit": 200}, headers=h)).json()["items"]
    suggestions = ok(client.get(f"{API}/people/suggestions", headers=h)).json()["items"]
    assert suggestions, f"{user.name} needs a merge suggestion"
    pair = tuple(sorted(p["id"] for p in suggestions[0]["people"]))
    singles = sorted((p for p in people if p["id"] not in pair), key=lambda p: p["name"])
    one, other = (singles[0], singles[1]) if len(singles) > 1 else (people[0], people[1])
    sources = ok(client.get(f"{API}/sources", headers=h)).json()["items"]
    source = next(s for s in sources if s["url"].endswith(feed_path))
    timeline = ok(client.get(f"{API}/timeline", params={"limit": 200}, headers=h)).json()["items"]
    item = next(i for i in timeline if i["source"]["id"] == source["id"])
    cursor = ok(client.get(f"{API}/timeline", params={"limit": 1}, headers=h)).json()["next_cursor"]

    tokens = []
    for _ in range(2):  # the first feed URL is replaced (revoked) by the second
        url = ok(client.post(f"{API}/me/feed-token", headers=h)).json()["url"]
        tokens.append(url.split("/feeds/", 1)[1].split("/", 1)[0])
    with session_scope(get_engine(settings.database_url)) as s:
        extra, extra_raw = user_store.create_token(s, user_id=user.id, name="extra")
        assert extra.id is not None
        extra_id = extra.id
    self_identities = (("url", feed_server.url(f"/{user.name}-home")), *more_identities)
    ok(
        client.put(
            f"{API}/me/identities",
            json={"identities": [{"kind": k, "value": v} for k, v in self_identities]},
            headers=h,
        )
    )

    note = f"Coffee with {user.name} at the Quillhouse"
    contact = ok(
        client.post(
            f"{API}/people/{one['id']}/contacts",
            json={"kind": "meeting", "direction": "both", "note": note},
            headers=h,
        ),
        201,
    ).json()
    label = f"{user.name} moved to Lisbon"
    when = ok(
        client.post(
            f"{API}/people/{one['id']}/dates",
            json={"kind": "custom", "label": label, "month": 1, "day": 1},
            headers=h,
        ),
        201,
    ).json()

    app_pw = ok(client.post(f"{API}/app-passwords", json={"name": "sweep"}, headers=h), 201).json()
    markers = set(words) | {note, label}
    markers |= {i["title"] for i in timeline} | {i["url"] for i in timeline if i["url"]}
    markers |= {s["url"] for s in sources} | {s["title"] for s in sources if s["title"]}
    markers |= {p["name"] for p in people}
    markers |= {str(i["value"]) for p in people for i in p["identities"]}
    markers |= {v for _, v in self_identities}
    # tokens: in full and their stored prefix
    for raw in (user.token, extra_raw, *tokens):
        markers |= {raw, raw[:12]}
    return Owner(
        user=user,
        source_id=source["id"],
        item_id=item["id"],
        person_id=one["id"],
        identity_id=one["identities"][0]["id"],
        other_person_id=other["id"],
        other_identity_id=other["identities"][0]["id"],
        pair=(pair[0], pair[1]),
        token_id=extra_id,
        extra_token=extra_raw,
        feed_token=tokens[1],
        old_feed_token=tokens[0],
        feed_url=source["url"],
        new_feed_url=feed_server.url(f"/{user.name}-new-feed"),
        self_identities=self_identities,
        cursor=cursor,
        markers=frozenset(m for m in markers if m and len(m) >= 5),
        contact_id=contact["id"],
        date_id=when["id"],
        app_password_id=app_pw["id"],
    )


def build_world(
    client: TestClient, settings: Settings, feed_server: FeedServer
) -> tuple[ApiUser, Owner, Owner]:
    admin, alice, bob = make_users(settings)
    for path, body in FEEDS.items():
        feed_server.routes[path] = Reply(200, body, {"Content-Type": "application/rss+xml"})
        who = alice if path.startswith("/alice") else bob
        ok(
            client.post(f"{API}/sources", json={"url": feed_server.url(path)}, headers=who.auth),
            201,
        )
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))

    # Alice makes things her own: a renamed source, a friend, a weight, feedback
    h = alice.auth
    sources = ok(client.get(f"{API}/sources", headers=h)).json()["items"]
    quill = next(s for s in sources if s["url"].endswith("/alice-feed-quill"))
    assert all(s["error_code"] is None for s in sources), sources
    ok(
        client.patch(
            f"{API}/sources/{quill['id']}",
            json={"title": "Secret Garden of Quills", "folder": "Hush Folder"},
            headers=h,
        )
    )
    people = {p["name"]: p for p in client.get(f"{API}/people", headers=h).json()["items"]}
    ok(
        client.patch(
            f"{API}/people/{people['Ann Quillfeather']['id']}",
            json={"relationships": ["friend"], "cadence_days": 14},
            headers=h,
        )
    )
    ok(
        client.put(
            f"{API}/people/{people['Bo Marchetti']['id']}/weight",
            json={"manual": 1.5, "pinned": True, "muted": False},
            headers=h,
        )
    )
    items = client.get(f"{API}/timeline", params={"limit": 200}, headers=h).json()["items"]
    quill_items = [i for i in items if i["source"]["id"] == quill["id"]]
    ok(
        client.post(
            f"{API}/items/{quill_items[0]['id']}/feedback", json={"action": "like"}, headers=h
        ),
        204,
    )
    ok(
        client.post(
            f"{API}/items/{quill_items[1]['id']}/feedback",
            json={"action": "seen", "rank": 1},
            headers=h,
        ),
        204,
    )

    a = build_owner(
        client,
        settings,
        feed_server,
        alice,
        feed_path="/alice-feed-quill",
        words=ALICE_WORDS,
        more_identities=(("name", "Alice Wonderstrand"),),
    )
    assert a.person_id == people["Ann Quillfeather"]["id"], "expected Ann as Alice's person"
    b = build_owner(client, settings, feed_server, bob, feed_path="/bob-feed-osei", words=BOB_WORDS)
    assert not a.markers & b.markers, a.markers & b.markers
    return admin, a, b


# --- snapshots ----------------------------------------------------------------------


def rows_of(settings: Settings, user_id: int) -> dict[str, list[str]]:
    """Every row the user owns, in every table (tables without a user column: all rows)."""
    out: dict[str, list[str]] = {}
    with get_engine(settings.database_url).connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            query = sa.select(table)
            if "user_id" in table.c:
                query = query.where(table.c.user_id == user_id)
            elif table.name == User.__tablename__:
                query = query.where(table.c.id == user_id)
            out[table.name] = sorted(repr(tuple(row)) for row in conn.execute(query))
    return out


def view_of(client: TestClient, o: Owner) -> dict[str, object]:
    """What the owner sees through the API (time-dependent scores left out)."""
    h = o.user.auth

    def get(path: str, **params: object) -> httpx.Response:
        return ok(client.get(path, params=params, headers=h))

    people = get(f"{API}/people", limit=200).json()["items"]
    feed = ok(client.get(f"{API}/feeds/{o.feed_token}/atom.xml"))
    return {
        "sources": sorted(
            (s["id"], s["url"], s["title"], s["folder"], s["paused"], s["kind"])
            for s in get(f"{API}/sources").json()["items"]
        ),
        "items": sorted(
            (i["id"], i["title"], i["url"], i["content"], (i["person"] or {}).get("id"))
            for i in get(f"{API}/timeline", limit=200).json()["items"]
        ),
        "people": sorted(
            (
                p["id"],
                p["name"],
                tuple(p["relationships"]),
                p["weight"]["manual"],
                p["weight"]["pinned"],
                p["weight"]["muted"],
                p["cadence_days"],
                p["item_count"],
                tuple((i["id"], i["kind"], i["value"]) for i in p["identities"]),
                get(f"{API}/people/{p['id']}").json()["contact"]["count"],
            )
            for p in people
        ),
        "suggestions": sorted(
            tuple(sorted(p["id"] for p in s["people"]))
            for s in get(f"{API}/people/suggestions").json()["items"]
        ),
        "identities": get(f"{API}/me/identities").json(),
        "opml": get(f"{API}/sources/opml").text,
        "feed": sorted(re.findall(r"<title>([^<]*)</title>", feed.text)),
        "extra_token": client.get(
            f"{API}/sources", headers={"Authorization": f"Bearer {o.extra_token}"}
        ).status_code,
    }


# --- the sweep ----------------------------------------------------------------------


class Problems(list[str]):
    def check(self, cond: bool, what: str) -> None:
        if not cond:
            self.append(what)


def route_call(
    client: TestClient,
    route: tuple[str, str],
    *,
    caller: Owner,
    owner: Owner,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One route called by ``caller`` with ``owner``'s ids in its path (and body)."""
    method, template = route
    case = CASES[route]
    return call(
        client,
        method,
        fill(template, path_params(owner)),
        headers=caller.user.auth if headers is None else headers,
        body=case.body(caller, owner) if case.body else None,
        query=case.query,
        form=case.form,
    )


def sweep_as_other(
    client: TestClient, routes: list[tuple[str, str]], a: Owner, b: Owner, problems: Problems
) -> None:
    """Bob calls every route with Alice's ids."""
    app: FastAPI = client.app  # type: ignore[assignment]
    check = problems.check
    for route in routes:
        case, name = CASES[route], " ".join(route)
        method, template = route
        if case.kind in (OWNED, MINE, ADMIN):
            # a token is needed, and a feed token is not one
            for label, token in (("no token", None), ("Alice's feed token", a.feed_token)):
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                resp = route_call(client, route, caller=b, owner=a, headers=headers)
                check(
                    resp.status_code == 401 and error_code(resp) == "unauthorized",
                    f"{name} with {label}: {resp.status_code} {resp.text[:200]}",
                )
                check(not seen(resp, a.markers), f"{name} ({label}) leaks {seen(resp, a.markers)}")

        if case.kind in (OWNED, ADMIN):
            status, code = (404, "not_found") if case.kind == OWNED else (403, "forbidden")
            resp = route_call(client, route, caller=b, owner=a)
            twin = route_call(client, route, caller=b, owner=NOBODY)
            check(
                resp.status_code == status and error_code(resp) == code,
                f"{name} as Bob on Alice's object: {resp.status_code} {resp.text[:300]}",
            )
            check(not seen(resp, a.markers), f"{name} as Bob leaks {seen(resp, a.markers)}")
            check(
                shape(resp) == shape(twin),
                f"{name}: Alice's object and a missing one answer differently: "
                f"{shape(resp)} vs {shape(twin)}",
            )
        elif case.kind == MINE:
            resp = route_call(client, route, caller=b, owner=b)
            check(resp.status_code in case.ok, f"{name} as Bob: {resp.status_code} {resp.text}")
            check(not seen(resp, a.markers), f"{name} shows Bob Alice's {seen(resp, a.markers)}")
            if case.shows:
                check(bool(seen(resp, b.markers)), f"{name} shows Bob nothing of his: {resp.text}")
        elif case.kind == PUBLIC:
            resp = route_call(client, route, caller=b, owner=a)
            check(resp.status_code in case.ok, f"{name}: {resp.status_code} {resp.text[:300]}")
            check(not seen(resp, a.markers), f"{name} leaks {seen(resp, a.markers)}")
            client.cookies.clear()
        elif case.kind == FEED:
            # the token in the URL is the credential: Alice's API tokens, her revoked feed
            # token and a made-up one all open nothing, and all the same way
            answers = [
                route_call(client, route, caller=b, owner=replace(a, feed_token=t), headers={})
                for t in (a.user.token, a.extra_token, a.old_feed_token, NOBODY.feed_token)
            ]
            for resp in answers:
                check(
                    resp.status_code == 404 and not seen(resp, a.markers),
                    f"{name} with no feed token: {resp.status_code} {resp.text[:300]}",
                )
                check(shape(resp) == shape(answers[-1]), f"{name}: {shape(resp)} differs")
            resp = route_call(client, route, caller=b, owner=b, headers={})
            check(resp.status_code == 200, f"{name} with Bob's feed token: {resp.status_code}")
            check(not seen(resp, a.markers), f"{name}: Bob's feed shows {seen(resp, a.markers)}")
            check(bool(seen(resp, b.markers)), f"{name}: Bob's feed shows nothing of his")
        elif case.kind == WEB:
            path = fill(template, path_params(a))
            anonymous = call(TestClient(app), method, path)
            check(
                anonymous.status_code in (302, 303, 401),
                f"{name} without a session: {anonymous.status_code}",
            )
            resp = call(web_client(app, b.user), method, path)
            check(resp.status_code == 200, f"{name} as Bob: {resp.status_code}")
            check(not seen(resp, a.markers), f"{name} shows Bob Alice's {seen(resp, a.markers)}")
            if case.shows:
                check(bool(seen(resp, b.markers)), f"{name} shows Bob nothing of his")
        elif case.kind == WEB_OWNED:
            anonymous = call(TestClient(app), method, fill(template, path_params(a)))
            check(
                anonymous.status_code in (302, 303, 401),
                f"{name} without a session: {anonymous.status_code}",
            )
            bob = web_client(app, b.user)
            resp = call(bob, method, fill(template, path_params(a)))
            twin = call(bob, method, fill(template, path_params(NOBODY)))
            check(resp.status_code == 404, f"{name} as Bob on Alice's: {resp.status_code}")
            check(not seen(resp, a.markers), f"{name} as Bob leaks {seen(resp, a.markers)}")
            check(
                shape(resp) == shape(twin),
                f"{name}: Alice's object and a missing one answer differently",
            )


@dataclass(frozen=True)
class Cross:
    """Bob's own object in the path, Alice's id in the body or the query."""

    method: str
    template: str  # the route, to skip the check while it does not exist
    path: str
    body: object = None
    query: dict[str, Any] | None = None
    status: int = 404
    empty: bool = False  # a list that must come back empty


def cross_checks(
    client: TestClient, routes: list[tuple[str, str]], a: Owner, b: Owner, problems: Problems
) -> None:
    check = problems.check
    people, since = f"{API}/people", "2000-01-01T00:00:00Z"
    crosses = [
        Cross(
            "POST",
            f"{people}/{{person_id}}/merge",
            f"{people}/{b.person_id}/merge",
            {"other_id": a.person_id},
        ),
        Cross(
            "POST",
            f"{people}/{{person_id}}/split",
            f"{people}/{b.person_id}/split",
            {"identity_id": a.identity_id},
        ),
        Cross(
            "POST",
            f"{people}/suggestions/accept",
            f"{people}/suggestions/accept",
            {"a": b.person_id, "b": a.person_id},
        ),
        Cross(
            "POST",
            f"{people}/suggestions/accept",
            f"{people}/suggestions/accept",
            {"a": a.person_id, "b": b.person_id},
        ),
        Cross(
            "POST",
            f"{people}/suggestions/reject",
            f"{people}/suggestions/reject",
            {"a": b.person_id, "b": a.person_id},
        ),
        Cross(
            "GET",
            f"{API}/timeline",
            f"{API}/timeline",
            query={"person": a.person_id},
            status=200,
            empty=True,
        ),
        Cross(
            "GET",
            f"{API}/timeline",
            f"{API}/timeline",
            query={"source": a.source_id},
            status=200,
            empty=True,
        ),
        Cross(
            "GET",
            f"{API}/timeline",
            f"{API}/timeline",
            query={"tag": "quillcraft"},
            status=200,
            empty=True,
        ),
        Cross(
            "GET",
            f"{API}/search",
            f"{API}/search",
            query={"q": f"post person:{a.person_id}"},
            status=200,
            empty=True,
        ),
        Cross(
            "GET",
            f"{API}/search",
            f"{API}/search",
            query={"q": "post OR osei", "person": a.person_id, "source": a.source_id},
            status=200,
            empty=True,
        ),
        # Alice's cursor is only a position: Bob pages through his own items
        Cross(
            "GET",
            f"{API}/timeline",
            f"{API}/timeline",
            query={"cursor": a.cursor, "limit": 5},
            status=200,
        ),
        Cross(
            "GET",
            f"{API}/digest",
            f"{API}/digest",
            query={"since": since, "format": "html"},
            status=200,
        ),
    ]
    present = set(routes)
    for c in crosses:
        if (c.method, c.template) not in present:
            continue
        resp = call(client, c.method, c.path, headers=b.user.auth, body=c.body, query=c.query)
        what = f"{c.method} {c.path} {c.body or c.query} as Bob"
        check(resp.status_code == c.status, f"{what}: {resp.status_code} {resp.text[:300]}")
        check(not seen(resp, a.markers), f"{what} leaks {seen(resp, a.markers)}")
        if c.empty and resp.status_code == 200:
            check(resp.json()["items"] == [], f"{what} lists {resp.json()['items']}")
    # following the same public URL as Alice neither conflicts nor reveals her subscription
    if ("POST", f"{API}/sources") in present:
        resp = client.post(f"{API}/sources", json={"url": a.feed_url}, headers=b.user.auth)
        others = a.markers - {m for m in a.markers if m.lower() in a.feed_url.lower()}
        check(resp.status_code == 201, f"Bob following Alice's URL: {resp.status_code} {resp.text}")
        check(not seen(resp, others), f"Bob following Alice's URL sees {seen(resp, others)}")
        if resp.status_code == 201:
            ok(client.delete(f"{API}/sources/{resp.json()['id']}", headers=b.user.auth), 204)


def control(
    client: TestClient,
    routes: list[tuple[str, str]],
    admin: ApiUser,
    a: Owner,
    b: Owner,
    problems: Problems,
) -> None:
    """The owner makes the same calls: each succeeds (admin routes: the admin, on Bob)."""
    app: FastAPI = client.app  # type: ignore[assignment]
    alice_web = web_client(app, a.user)
    for route in routes:
        case, name = CASES[route], " ".join(route)
        method, template = route
        if case.kind == PUBLIC:
            continue
        if case.kind in (WEB, WEB_OWNED):
            resp = call(alice_web, method, fill(template, path_params(a)))
        elif case.kind == ADMIN:
            resp = route_call(client, route, caller=a, owner=b, headers=admin.auth)
        else:
            headers = {} if case.kind == FEED else None
            resp = route_call(client, route, caller=a, owner=a, headers=headers)
        problems.check(
            resp.status_code in case.ok, f"{name} as its owner: {resp.status_code} {resp.text}"
        )
        if case.shows:
            problems.check(
                bool(seen(resp, a.markers)), f"{name} shows Alice nothing of hers: {resp.text}"
            )


# --- the test -----------------------------------------------------------------------


def test_two_user_route_sweep(
    client: TestClient, settings: Settings, feed_server: FeedServer
) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    found, strange = app_routes(app)
    unknown = [f"{m} {p}" for m, p in found if (m, p) not in CASES]
    unfillable = [
        f"{m} {p} ({name})"
        for m, p in found
        for name in PARAM.findall(p)
        if name not in path_params(NOBODY)
    ]
    assert not (unknown or strange or unfillable), (
        "routes the isolation sweep does not cover; add each to CASES (and its path "
        f"parameters to path_params): unknown={unknown} not-an-APIRoute={strange} "
        f"unknown-parameter={unfillable}"
    )
    assert len(found) >= 40, found  # the enumeration did find the app's routes
    # reads first, then writes, merges, deletions
    routes = sorted(found, key=lambda r: (CASES[r].step, r[1], r[0]))

    admin, a, b = build_world(client, settings, feed_server)
    problems = Problems()
    before_view = view_of(client, a)
    before_rows = rows_of(settings, a.user.id)

    sweep_as_other(client, routes, a, b, problems)
    cross_checks(client, routes, a, b, problems)

    # nothing of Alice's changed: her rows, byte for byte, and her view through the API
    after_rows = rows_of(settings, a.user.id)
    for table in sorted(set(before_rows) | set(after_rows)):
        problems.check(
            before_rows.get(table) == after_rows.get(table),
            f"Alice's rows in {table} changed during Bob's sweep:\n"
            f"  before {before_rows.get(table)}\n  after  {after_rows.get(table)}",
        )
    try:
        after_view = view_of(client, a)
    except AssertionError as exc:  # her token or feed token stopped working
        problems.append(f"Alice's own view could not be read after Bob's sweep: {exc}")
    else:
        for key in before_view:
            problems.check(
                before_view[key] == after_view[key],
                f"Alice's {key} changed: {before_view[key]} -> {after_view[key]}",
            )
        problems.check(after_view["extra_token"] == 200, "Alice's extra API token stopped working")
    assert not problems, "isolation problems:\n" + "\n".join(problems)

    control(client, routes, admin, a, b, problems)
    assert not problems, "the owner's own calls failed:\n" + "\n".join(problems)
