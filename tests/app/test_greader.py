"""The Google Reader API as native apps drive it: each recorded client sequence
(tests/data/greader/*.json) played through both prefixes and checked against Kith's own
API; the protocol's error answers for wrong, revoked and malformed credentials (never a
500); another user's people, items and streams unreachable; read and star counted as
open and like feedback. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.models import Feedback
from tests.app.conftest import ApiUser
from tests.app.greader_client import CLIENTS, Kith, Run, load, long_id
from tests.app.test_people import people, two_blogs
from tests.helpers import FeedServer

PREFIX = {"netnewswire": "/api/greader.php", "reeder": "/reader", "readyou": "/reader"}


def app_password(client: TestClient, user: ApiUser, name: str = "phone") -> dict:
    answer = client.post("/api/v1/app-passwords", json={"name": name}, headers=user.auth)
    assert answer.status_code == 201, answer.text
    return answer.json()


def world(client: TestClient, settings: Settings, feed_server: FeedServer, user: ApiUser) -> None:
    two_blogs(client, settings, feed_server, user)
    ann = people(client, user)["Ann Lee"]
    answer = client.patch(
        f"/api/v1/people/{ann['id']}", json={"relationships": ["friend"]}, headers=user.auth
    )
    assert answer.status_code == 200, answer.text


def login(client: TestClient, user: str, password: str, prefix: str = "/reader") -> str:
    answer = client.post(f"{prefix}/accounts/ClientLogin", data={"Email": user, "Passwd": password})
    assert answer.status_code == 200, answer.text
    return answer.text.split("Auth=")[1].strip()


def gl(auth: str) -> dict[str, str]:
    return {"Authorization": f"GoogleLogin auth={auth}"}


@pytest.mark.parametrize("name", CLIENTS)
def test_client_sequence(
    name: str, client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    world(client, settings, feed_server, alice)
    password = app_password(client, alice, name)["password"]
    run = Run(client, PREFIX[name], alice.name, password, Kith(client, alice.token))
    run.play(load(name))


def test_wrong_and_revoked_credentials_get_the_protocol_answers(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    world(client, settings, feed_server, alice)
    created = app_password(client, alice)
    bad = [
        {"Email": alice.name, "Passwd": "correct horse"},  # the account password: never
        {"Email": alice.name, "Passwd": alice.token},  # an API token: never
        {"Email": alice.name, "Passwd": created["password"][:-1] + "x"},
        {"Email": "nobody", "Passwd": created["password"]},
        {"Email": alice.name},
        {},
    ]
    for form in bad:
        answer = client.post("/reader/accounts/ClientLogin", data=form)
        assert answer.status_code == 401, (form, answer.text)
        assert answer.text.startswith("Error=BadAuthentication")
    # typed on a phone: case, spaces and dashes do not matter
    sloppy = created["password"].upper().replace("-", " ")
    auth = login(client, alice.name, sloppy)
    assert client.get("/reader/reader/api/0/user-info", headers=gl(auth)).status_code == 200
    for headers in (
        {},
        {"Authorization": "GoogleLogin auth=nonsense"},
        {"Authorization": "GoogleLogin auth=kgr1.99999999999.abc"},
        {"Authorization": f"Bearer {alice.token}"},
        {"Authorization": "GoogleLogin auth=" + auth[:-2] + "00"},
    ):
        answer = client.get("/reader/reader/api/0/subscription/list", headers=headers)
        assert answer.status_code == 401 and answer.text == "Unauthorized", answer.text
    # revoked: the login and the token it handed out stop working at once
    gone = client.delete(f"/api/v1/app-passwords/{created['id']}", headers=alice.auth)
    assert gone.status_code == 204
    answer = client.get("/reader/reader/api/0/subscription/list", headers=gl(auth))
    assert answer.status_code == 401 and answer.text == "Unauthorized"
    answer = client.post(
        "/reader/accounts/ClientLogin",
        data={"Email": alice.name, "Passwd": created["password"]},
    )
    assert answer.status_code == 401
    listed = client.get("/api/v1/app-passwords", headers=alice.auth).json()["items"]
    assert listed[0]["revoked_at"] is not None and "password" not in listed[0]


def test_malformed_requests_are_4xx_in_the_protocols_form(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    world(client, settings, feed_server, alice)
    auth = login(client, alice.name, app_password(client, alice)["password"])
    h, api = gl(auth), "/reader/reader/api/0"
    cases = [
        ("get", "/stream/items/ids", {"s": "nonsense/stream"}, None, 400),
        ("get", "/stream/items/ids", {"n": "many"}, None, 400),
        ("get", "/stream/items/ids", {"c": "not-a-continuation"}, None, 400),
        ("get", "/stream/items/ids", {"ot": "yesterday"}, None, 400),
        ("get", "/stream/items/ids", {"ot": "99999999999999999999"}, None, 200),
        ("get", "/stream/items/ids", {"n": "-5", "nt": "-1"}, None, 200),
        ("post", "/stream/items/contents", None, {"i": "tag:google.com,2005:reader/item/zz"}, 400),
        ("post", "/stream/items/contents", None, {"i": "99999999999999999999999"}, 400),
        ("post", "/stream/items/contents", None, {"i": "-1"}, 400),
        ("post", "/edit-tag", None, {"i": "12abc", "a": "user/-/state/com.google/read"}, 400),
        ("post", "/edit-tag", None, {"a": "user/-/state/com.google/read"}, 200),
        ("post", "/mark-all-as-read", None, {"s": "feed/999999999999", "ts": "x"}, 200),
        ("post", "/mark-all-as-read", None, {"s": "feed/1", "ts": "abc"}, 400),
        ("post", "/subscription/quickadd", None, {"quickadd": "http://127.0.0.1:1/x"}, 400),
        ("post", "/subscription/quickadd", None, {}, 400),
        ("post", "/subscription/edit", None, {"ac": "edit", "s": "feed/999999999"}, 404),
        ("post", "/subscription/edit", None, {"ac": "explode", "s": "feed/1"}, 400),
        ("get", "/stream/contents/user/-/label/Nobody here", None, None, 200),
    ]
    for method, path, query, form, status in cases:
        answer = client.request(method.upper(), api + path, params=query, data=form, headers=h)
        assert answer.status_code == status, (path, query, form, answer.text)
        assert not answer.text.startswith('{"error"'), answer.text  # the protocol's form


def test_another_users_people_items_and_streams_are_unreachable(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    world(client, settings, feed_server, alice)
    ann = people(client, alice)["Ann Lee"]
    alice_items = [i["id"] for i in Kith(client, alice.token).timeline()]
    bob_auth = login(client, bob.name, app_password(client, bob)["password"])
    h, api = gl(bob_auth), "/reader/reader/api/0"
    assert client.get(f"{api}/subscription/list", headers=h).json() == {"subscriptions": []}
    for stream in (f"feed/{ann['id']}", "user/-/label/Friends", "user/-/label/Kith: top"):
        ids = client.get(f"{api}/stream/items/ids", params={"s": stream}, headers=h)
        assert ids.status_code == 200 and ids.json()["itemRefs"] == [], stream
        missing = client.get(f"{api}/stream/items/ids", params={"s": "feed/999999"}, headers=h)
        assert ids.json() == missing.json()
    form = {"i": [long_id(i) for i in alice_items]}
    contents = client.post(f"{api}/stream/items/contents", data=form, headers=h).json()
    assert contents["items"] == []
    for state in ("read", "starred"):
        change = {**form, "a": [f"user/-/state/com.google/{state}"]}
        answer = client.post(f"{api}/edit-tag", data=change, headers=h)
        assert answer.status_code == 200
    mark = client.post(f"{api}/mark-all-as-read", data={"s": f"feed/{ann['id']}"}, headers=h)
    assert mark.status_code == 200
    edit = client.post(
        f"{api}/subscription/edit",
        data={"ac": "edit", "s": f"feed/{ann['id']}", "t": "Taken"},
        headers=h,
    )
    assert edit.status_code == 404
    untouched = Kith(client, alice.token).timeline()
    assert all(not i["read"] and not i["saved"] for i in untouched)
    assert people(client, alice)["Ann Lee"]["name"] == "Ann Lee"
    # Bob's own login opens nothing of Alice's through the API either
    assert client.get("/api/v1/timeline", headers=h).status_code == 401


def test_read_and_star_count_as_open_and_like(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    world(client, settings, feed_server, alice)
    auth = login(client, alice.name, app_password(client, alice)["password"])
    h, api = gl(auth), "/reader/reader/api/0"
    first, second = (i["id"] for i in Kith(client, alice.token).timeline()[:2])
    for _ in range(2):  # a second sync of the same state is not a second open
        client.post(
            f"{api}/edit-tag",
            data={"i": str(first), "a": "user/-/state/com.google/read"},
            headers=h,
        )
    client.post(
        f"{api}/edit-tag",
        data={"i": str(second), "a": "user/-/state/com.google/starred"},
        headers=h,
    )
    with session_scope(get_engine(settings.database_url)) as s:
        rows = s.exec(select(Feedback.item_id, Feedback.action)).all()
    assert sorted(rows) == sorted([(first, "open"), (second, "like")])
    # the apps' ranked order (r=a) is Kith's; the default is newest first
    ranked = client.get(f"{api}/stream/items/ids", params={"r": "a", "n": 50}, headers=h).json()
    timeline = [i["id"] for i in Kith(client, alice.token).timeline()]
    assert [int(r["id"]) for r in ranked["itemRefs"]] == timeline
    newest = client.get(f"{api}/stream/items/ids", params={"n": 50}, headers=h).json()
    stamps = [int(r["timestampUsec"]) for r in newest["itemRefs"]]
    assert stamps == sorted(stamps, reverse=True)
    oldest = client.get(f"{api}/stream/items/ids", params={"r": "o", "n": 2}, headers=h).json()
    more = client.get(
        f"{api}/stream/items/ids",
        params={"r": "o", "n": 50, "c": oldest["continuation"]},
        headers=h,
    ).json()
    assert [r["id"] for r in oldest["itemRefs"] + more["itemRefs"]] == [
        r["id"] for r in reversed(newest["itemRefs"])
    ]
