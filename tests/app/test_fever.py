"""The Fever API driven as native apps drive it, against a live server (uvicorn on a
free loopback port): each app's recorded order of calls is data (tests/data/fever/*.json)
and every answer is checked against Kith's own API for the same user. Then two users:
nothing of Alice's is reachable with Bob's key; wrong, missing and revoked keys get the
protocol's ``auth: 0``. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from app.apps import passwords as app_passwords
from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.main import create_app
from app.models import User
from tests.app.conftest import ApiUser, add_user
from tests.helpers import FeedServer, Reply

DATA = Path(__file__).resolve().parent.parent / "data" / "fever"
CLIENTS = sorted(p.stem for p in DATA.glob("*.json"))
NOW = datetime.now(UTC)
PEOPLE = {  # path: (name, relationship, posts)
    "/ann": ("Ann Lee", "friend", 30),
    "/bo": ("Bo Berg", None, 25),
    "/cy": ("Cy Osei", "colleague", 20),
}


def rss(name: str, site: str, n: int) -> bytes:
    posts = []
    for i in range(n):
        title = "We got engaged!" if i == 3 and name == "Ann Lee" else f"{name} post {i}"
        when = (NOW - timedelta(hours=5 * i + 1)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        posts.append(
            f"<item><guid>{site}/{i}</guid><link>{site}/{i}</link><title>{title}</title>"
            f"<author>{name.split()[0].lower()}@{site.split('//')[1]} ({name})</author>"
            f"<pubDate>{when}</pubDate><description>&lt;p&gt;{title}, the body&lt;/p&gt;"
            "</description></item>"
        )
    return f"<rss version='2.0'><channel><title>{name}</title>{''.join(posts)}</channel></rss>".encode()


@pytest.fixture
def live(settings: Settings) -> Iterator[str]:
    """The app on uvicorn, on a free loopback port, in a thread."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(base + "/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        get_engine.cache_clear()


def app_password(settings: Settings, user: ApiUser, name: str = "phone") -> tuple[int, str]:
    """An app password's id and its Fever key, md5("user:password")."""
    with session_scope(get_engine(settings.database_url)) as s:
        owner = s.get(User, user.id)
        assert owner is not None
        row, raw = app_passwords.create(s, user=owner, name=name, now=datetime.now(UTC))
        assert row.id is not None
        return row.id, hashlib.md5(f"{user.name}:{raw}".encode()).hexdigest()


def world(http: httpx.Client, settings: Settings, feed_server: FeedServer, user: ApiUser) -> None:
    prefix = f"/{user.name}"
    for path, (name, _, n) in PEOPLE.items():
        site = f"https://{user.name}-{path[1:]}.example"
        feed_server.routes[prefix + path] = Reply(200, rss(f"{name}", site, n))
        resp = http.post(
            "/api/v1/sources", json={"url": feed_server.url(prefix + path)}, headers=user.auth
        )
        assert resp.status_code == 201, resp.text
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))
    people = http.get("/api/v1/people", params={"limit": 200}, headers=user.auth).json()["items"]
    for person in people:
        rel = next((r for n, r, _ in PEOPLE.values() if n == person["name"]), None)
        if rel:
            resp = http.patch(
                f"/api/v1/people/{person['id']}", json={"relationships": [rel]}, headers=user.auth
            )
            assert resp.status_code == 200, resp.text


class Kith:
    """The same user's view through /api/v1: what Fever's answers must agree with."""

    def __init__(self, http: httpx.Client, user: ApiUser) -> None:
        self.http, self.user = http, user

    def get(self, path: str, **params: str | int) -> Any:
        resp = self.http.get("/api/v1" + path, params=params, headers=self.user.auth)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def timeline(self, state: str) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        cursor = None
        while True:
            params: dict[str, str | int] = {"limit": 200, "state": state}
            if cursor:
                params["cursor"] = cursor
            page = self.get("/timeline", **params)
            out.update({i["id"]: i for i in page["items"]})
            cursor = page["next_cursor"]
            if not cursor:
                return out

    def people(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get("/people", limit=200)["items"]
        return items


class App:
    """One native app: its transport (where flags and the key go) and its local cache."""

    def __init__(self, http: httpx.Client, key: str, transport: str, agent: str) -> None:
        self.http, self.key, self.transport, self.agent = http, key, transport, agent
        self.items: dict[int, dict[str, Any]] = {}
        self.unread: set[int] = set()
        self.saved: set[int] = set()
        self.groups: dict[str, int] = {}
        self.last_items_call = 0

    def call(self, *flags: str, **fields: object) -> dict[str, Any]:
        data = {"api_key": self.key, **{k: str(v) for k, v in fields.items()}}
        if self.transport == "form":
            data |= {flag: "" for flag in flags}
            url = "/fever/?api"
        else:
            url = "/fever/?" + "&".join(("api", *flags))
        resp = self.http.post(url, data=data, headers={"User-Agent": self.agent})
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        assert body["api_version"] == 3 and body["auth"] == 1, body
        if any(f.startswith("items") for f in flags):
            self.last_items_call = int(time.time()) + 1
        return body

    def keep(self, items: list[dict[str, Any]]) -> None:
        assert len(items) <= 50, len(items)
        for item in items:
            self.items[item["id"]] = item


def ids(text: str) -> set[int]:
    return {int(i) for i in text.split(",") if i}


def play(step: dict[str, Any], app: App, kith: Kith) -> None:
    call = step["call"]
    if call == "auth":
        body = app.call()
        assert (
            isinstance(body["last_refreshed_on_time"], int) and body["last_refreshed_on_time"] > 0
        )
    elif call == "groups":
        body = app.call("groups")
        app.groups = {g["title"]: g["id"] for g in body["groups"]}
        assert {"Friends", "Colleagues", "Kith: top", "Kith: important"} <= set(app.groups)
        friends = {p["id"] for p in kith.people() if "friend" in p["relationships"]}
        by_group = {fg["group_id"]: ids(fg["feed_ids"]) for fg in body["feeds_groups"]}
        assert by_group[app.groups["Friends"]] == friends
        assert by_group[app.groups["Kith: top"]]  # the ranked stream's people
    elif call == "feeds":
        body = app.call("feeds")
        names = {p["id"]: p["name"] for p in kith.people() if p["item_count"]}
        assert {f["id"]: f["title"] for f in body["feeds"]} == names
        assert all(f["favicon_id"] == 1 and f["is_spark"] == 0 for f in body["feeds"])
        assert "feeds_groups" in body
    elif call == "favicons":
        assert app.call("favicons")["favicons"][0]["data"].startswith("image/gif;base64,")
    elif call == "links":
        assert app.call("links")["links"] == []
    elif call == "unread_item_ids":
        app.unread = ids(app.call("unread_item_ids")["unread_item_ids"])
        assert app.unread == set(kith.timeline("unread"))
    elif call == "saved_item_ids":
        app.saved = ids(app.call("saved_item_ids")["saved_item_ids"])
        assert app.saved == set(kith.timeline("saved"))
    elif call == "items_with_ids":
        wanted = sorted(app.unread - set(app.items)) if step["of"] == "unread" else []
        for start in range(0, len(wanted), step["batch"]):
            batch = wanted[start : start + step["batch"]]
            got = app.call("items", with_ids=",".join(map(str, batch)))["items"]
            assert sorted(i["id"] for i in got) == batch
            app.keep(got)
        check_items(app, kith)
    elif call in ("items_since", "items_max"):
        cursor, seen = step.get("since_id", step.get("max_id", 0)), []
        while True:
            name = "since_id" if call == "items_since" else "max_id"
            body = app.call("items", **{name: cursor})
            got = body["items"]
            if not got:
                break
            order = [i["id"] for i in got]
            assert order == sorted(order, reverse=call == "items_max")
            app.keep(got)
            seen += order
            cursor = order[-1]
        assert len(seen) == len(set(seen)) == body["total_items"] == len(kith.timeline("all"))
        check_items(app, kith)
    elif call == "mark_item":
        item_id = pick(step["pick"], app, kith)
        app.call(mark="item", **{"as": step["as"]}, id=item_id)
        unread, saved = kith.timeline("unread"), kith.timeline("saved")
        expect = {"read": item_id not in unread, "unread": item_id in unread}
        expect |= {"saved": item_id in saved, "unsaved": item_id not in saved}
        assert expect[step["as"]], (step, item_id)
        again = app.call("items", with_ids=item_id)["items"][0]
        assert (again["is_read"], again["is_saved"]) == (
            int(item_id not in unread),
            int(item_id in saved),
        )
    elif call == "mark_feed":
        counts = Counter(app.items[i]["feed_id"] for i in app.unread if i in app.items)
        feed_id = counts.most_common(1)[0][0]
        app.call(mark="feed", **{"as": "read"}, id=feed_id, before=app.last_items_call)
        left = [
            i for i in kith.timeline("unread").values() if (i["person"] or {}).get("id") == feed_id
        ]
        assert not left and counts[feed_id] > 0
    elif call == "mark_group":
        group = step["group"]
        gid = group if isinstance(group, int) else app.groups[group]
        before = set(kith.timeline("unread"))
        app.call(mark="group", **{"as": "read"}, id=gid, before=int(time.time()) + 1)
        after = kith.timeline("unread")
        if gid == 0:
            assert not after
        elif group == "Kith: important":
            assert not [i for i in after.values() if i["title"] == "We got engaged!"]
            assert len(after) < len(before)
        else:
            members = {p["id"] for p in kith.people() if "friend" in p["relationships"]}
            assert not [i for i in after.values() if (i["person"] or {}).get("id") in members]
            assert len(after) < len(before)
    else:
        raise AssertionError(f"unknown step {step}")


def pick(how: str, app: App, kith: Kith) -> int:
    unread, saved = sorted(kith.timeline("unread")), sorted(kith.timeline("saved"))
    read = sorted(set(kith.timeline("all")) - set(unread))
    choice = {
        "first_unread": unread[:1],
        "last_unread": unread[-1:],
        "first_saved": saved[:1],
        "first_read": read[:1],
    }[how]
    assert choice, how
    return choice[0]


def check_items(app: App, kith: Kith) -> None:
    everything = kith.timeline("all")
    assert app.items
    for item_id, item in app.items.items():
        mine = everything[item_id]
        assert item["title"] == mine["title"] and item["url"] == mine["url"]
        assert item["feed_id"] == mine["person"]["id"] and item["author"] == mine["person"]["name"]
        assert item["html"] == mine["content"]
        published = datetime.fromisoformat(mine["published"].replace("Z", "+00:00"))
        assert item["created_on_time"] == int(published.timestamp())


@pytest.mark.parametrize("client_name", CLIENTS)
def test_native_app_sequence(
    client_name: str, live: str, settings: Settings, feed_server: FeedServer
) -> None:
    script = json.loads((DATA / f"{client_name}.json").read_text())
    alice = add_user(settings, "alice")
    _, key = app_password(settings, alice)
    with httpx.Client(base_url=live, timeout=30) as http:
        world(http, settings, feed_server, alice)
        app = App(http, key, script["transport"], script["user_agent"])
        kith = Kith(http, alice)
        assert len(kith.timeline("all")) == sum(n for _, _, n in PEOPLE.values())
        for n, step in enumerate(script["steps"]):
            try:
                play(step, app, kith)
            except AssertionError as exc:
                raise AssertionError(f"{client_name} step {n} {step}: {exc}") from exc


def test_two_users_and_bad_keys(live: str, settings: Settings, feed_server: FeedServer) -> None:
    alice, bob = add_user(settings, "alice"), add_user(settings, "bob")
    alice_pw, alice_key = app_password(settings, alice)
    _, bob_key = app_password(settings, bob)
    with httpx.Client(base_url=live, timeout=30) as http:
        world(http, settings, feed_server, alice)
        kith_a = Kith(http, alice)
        before = (kith_a.timeline("unread"), kith_a.timeline("saved"))
        alice_ids = sorted(before[0])
        alice_people = [p["id"] for p in kith_a.people()]
        names = {p["name"] for p in kith_a.people()}

        bob_app = App(http, bob_key, "query_flags_form_key", "test")
        body = bob_app.call("groups", "feeds", "unread_item_ids", "saved_item_ids")
        assert (
            body["feeds"] == [] and body["unread_item_ids"] == "" and body["saved_item_ids"] == ""
        )
        assert all(fg["feed_ids"] == "" for fg in body["feeds_groups"]) or not body["feeds_groups"]
        assert not names & {g["title"] for g in body["groups"]}
        for cursor in (
            {"since_id": 0},
            {"max_id": 0},
            {"with_ids": ",".join(map(str, alice_ids[:50]))},
        ):
            got = bob_app.call("items", **cursor)
            assert got["items"] == [] and got["total_items"] == 0, cursor
        # Bob's marks with Alice's ids change nothing of hers
        for item_id in alice_ids[:3]:
            for as_ in ("read", "saved"):
                bob_app.call(mark="item", **{"as": as_}, id=item_id)
        for person_id in alice_people:
            bob_app.call(mark="feed", **{"as": "read"}, id=person_id, before=int(time.time()) + 9)
        for gid in (0, 1, 2, *bob_app.groups.values()):
            bob_app.call(mark="group", **{"as": "read"}, id=gid, before=int(time.time()) + 9)
        assert (kith_a.timeline("unread"), kith_a.timeline("saved")) == before
        assert names.isdisjoint(json.dumps(body))

        # keys that open nothing: the protocol's auth 0, never an error
        wrong = hashlib.md5(b"alice:not-the-password").hexdigest()
        for data in (
            {"api_key": wrong},
            {},
            {"api_key": ""},
            {"api_key": "x" * 5000},
            {"api_key": alice_key.upper() + "0"},
        ):
            resp = http.post("/fever/?api&items&since_id=0", data=data)
            assert resp.status_code == 200 and resp.json() == {"api_version": 3, "auth": 0}, data
        assert http.get(f"/fever/?api&api_key={wrong}").json()["auth"] == 0
        assert (
            http.post(
                "/fever/?api",
                content=b"\xff\x00garbage",
                headers={"content-type": "multipart/form-data"},
            ).json()["auth"]
            == 0
        )
        # the key works as a query parameter too (some clients), then revoked: auth 0
        assert http.get(f"/fever/?api&api_key={alice_key}").json()["auth"] == 1
        with session_scope(get_engine(settings.database_url)) as s:
            app_passwords.revoke(
                s, user_id=alice.id, app_password_id=alice_pw, now=datetime.now(UTC)
            )
        assert http.post("/fever/?api", data={"api_key": alice_key}).json() == {
            "api_version": 3,
            "auth": 0,
        }

        # bad input: a clear 4xx with a stable code, never a 500
        for query, data in (
            ("?api&items&since_id=abc", {}),
            ("?api&items&with_ids=1,x", {}),
            ("?api", {"mark": "item", "as": "exploded", "id": "1"}),
            ("?api", {"mark": "feed", "as": "read", "id": "1", "before": "yesterday"}),
            ("?api", {"mark": "item", "as": "read"}),
            ("?api&items&max_id=99999999999999999999999", {}),
        ):
            resp = http.post("/fever/" + query, data={"api_key": bob_key, **data})
            assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_input", (
                query,
                resp.text,
            )
