"""Attacks on the reader and its cookie: CSRF on every state-changing route (the login
and logout forms, and every API route a signed-in page may call), open redirects
through ``next=`` in every spelling, session fixation, and tokens leaking into logs."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.logs import redact
from app.main import create_app
from app.web.common import safe_next
from tests.app.conftest import ApiUser
from tests.app.test_isolation import PARAM, app_routes, fill
from tests.app.test_web import csrf_of, login
from tests.web.conftest import start_live_server

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def test_every_state_changing_api_route_refuses_the_cookie_without_its_csrf_token(
    client: TestClient, alice: ApiUser
) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    routes, _ = app_routes(app)
    unsafe = [(m, p) for m, p in routes if m in UNSAFE and p.startswith("/api/v1/")]
    assert len(unsafe) >= 20, unsafe  # the sweep really walks the API
    login(client, "alice", "correct horse")
    token = csrf_of(client.get("/").text)
    # every path parameter of every route is 1 (an id; the feed token is set below)
    names = {m.group(1) for _, p in unsafe for m in PARAM.finditer(p)}
    params: dict[str, object] = {n: 1 for n in names}
    params["token"] = "kith_x"
    wrong = []
    for method, path in unsafe:
        url = fill(path, params)
        for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": token[:-1]}):
            resp = client.request(method, url, headers=headers, json={})
            feed = path.startswith("/api/v1/feeds/")
            expected = (401, 404) if feed else (403,)
            code = resp.json().get("error", {}).get("code") if resp.content else None
            if resp.status_code not in expected or (not feed and code != "csrf_failed"):
                wrong.append((method, path, headers, resp.status_code, resp.text[:120]))
    assert wrong == []
    # the same session with its token gets through (the refusals were about CSRF)
    ok = client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201, ok.text


def test_the_login_and_logout_forms_need_their_csrf_token(
    client: TestClient, alice: ApiUser
) -> None:
    client.get("/login")
    forged = {"username": "alice", "password": "correct horse", "csrf": "forged"}
    assert client.post("/login", data=forged, follow_redirects=False).status_code == 400
    assert client.get("/", follow_redirects=False).status_code == 303  # not signed in
    login(client, "alice", "correct horse")
    out = client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in


NEXT_TRICKS = [
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    " //evil.example/",
    "/ /evil.example/",
    "%2F%2Fevil.example/",
    "/%2F/evil.example/",
    "https://evil.example/",
    "https:evil.example",
    "//evil.example@good/",
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    "data:text/html,x",
    "/\u3000/evil.example/",
    "\x00//evil.example/",
]


def _browser_target(location: str) -> str:
    """Where a browser goes for a Location header: it drops tabs and newlines, reads a
    backslash as a slash and trims spaces and control characters at the ends."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/").strip(" \x00-\x1f")
    return cleaned


@pytest.mark.parametrize("target", NEXT_TRICKS)
def test_next_never_leaves_the_site(target: str) -> None:
    where = _browser_target(safe_next(target))
    assert where.startswith("/") and not where.startswith("//"), (target, where)
    assert ":" not in where.split("/", 2)[1] if where.count("/") > 1 else True


def test_next_through_the_login_form(settings: Settings, alice: ApiUser) -> None:
    # many logins in a row: lift the login rate limit for this test only
    client = TestClient(create_app(settings.model_copy(update={"login_rate": "1000/minute"})))
    for target in NEXT_TRICKS:
        client.cookies.clear()
        form = client.get("/login", params={"next": target})
        assert form.status_code == 200
        resp = client.post(
            "/login",
            data={
                "username": "alice",
                "password": "correct horse",
                "csrf": csrf_of(form.text),
                "next": target,
            },
            follow_redirects=False,
        )
        assert resp.status_code == 303, resp.text
        where = _browser_target(resp.headers["location"])
        assert where.startswith("/") and not where.startswith("//"), (target, where)
    client.cookies.clear()  # a same-site path still works, query and all
    form = client.get("/login", params={"next": "/people?x=1"})
    data = {"username": "alice", "password": "correct horse", "csrf": csrf_of(form.text)}
    resp = client.post("/login", data=data | {"next": "/people?x=1"}, follow_redirects=False)
    assert resp.headers["location"] == "/people?x=1"


def test_a_session_planted_before_login_is_worth_nothing_after_it(
    client: TestClient, alice: ApiUser
) -> None:
    client.get("/login")
    planted = client.cookies.get("kith_session")  # what an attacker could have set
    assert planted
    login(client, "alice", "correct horse")
    assert client.cookies.get("kith_session") != planted
    attacker = TestClient(client.app)
    attacker.cookies.set("kith_session", planted)
    assert attacker.get("/", follow_redirects=False).status_code == 303
    assert attacker.get("/api/v1/people").status_code == 401


def test_redaction_masks_feed_tokens_and_token_parameters() -> None:
    line = redact("GET /api/v1/feeds/kith_SeCrEt123/atom.xml?token=abc&x=1 HTTP/1.1")
    assert "SeCrEt" not in line and "abc" not in line and "x=1" in line


def test_no_token_reaches_the_server_log(tmp_path: Path) -> None:
    """A real ``kith serve``: the Atom feed's URL carries its token, API calls carry a
    bearer token; neither appears in what the server writes (its access log included)."""
    with start_live_server(tmp_path) as server:
        made = server.api("POST", "/me/feed-token")
        assert isinstance(made, dict)
        feed_url = str(made.get("url") or made.get("feed_url") or "")
        feed_token = str(made.get("token") or feed_url.split("/feeds/")[1].split("/")[0])
        created = server.api("POST", "/tokens", b'{"name": "ci"}')
        assert isinstance(created, dict)
        api_token = str(created["token"])
        with urllib.request.urlopen(f"{server.base}/api/v1/feeds/{feed_token}/atom.xml") as r:
            assert r.status == 200
        request = urllib.request.Request(
            f"{server.base}/api/v1/people", headers={"Authorization": f"Bearer {api_token}"}
        )
        with urllib.request.urlopen(request) as r:
            assert r.status == 200
        log = server.log.read_text(errors="replace")
    assert "/atom.xml" in log and "/api/v1/people" in log  # the requests were logged
    assert feed_token not in log and api_token not in log
