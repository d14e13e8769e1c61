"""The API against its own OpenAPI schema, property-based (schemathesis + Hypothesis).

A SQLite database holds real data for two users, ingested from a loopback feed server:
Alice (with unique marker strings in her data: a renamed source, item titles, an author,
a folder) and Bob. Then, for every ``/api/v1`` operation of ``/openapi.json``, Bob sends
``MAX_EXAMPLES`` generated requests (derandomized, no deadline) to the ASGI app in
process, and each answer must be no 5xx (``not_a_server_error``), match the schema
(``response_schema_conformance``) and carry none of Alice's markers (body or headers).

Left out, and why:

- ``POST /api/v1/sources/discover`` and ``POST /api/v1/people/links`` fetch the URL in the
  body while the request waits: generated URLs are public names, and a test must not reach
  the internet (SSRF through them is tests/security/test_ssrf.py's job). Other fetches
  (``POST /sources/{id}/refresh`` on a generated public URL) are bounded by
  ``fetch_deadline_seconds=1``.
- ``GET /api/v1/feeds/{token}/atom.xml`` answers Atom, not JSON: no body schema to hold
  it to (its token is a credential of its own, covered by tests/app/test_isolation.py).

Found and fixed: an id (path, query or body) of 2**63 or more answered 500 on SQLite
(``OverflowError: Python int too large to convert to SQLite INTEGER``) on every route that
looks one up; it now answers 422 ``out_of_range`` (``test_ids_beyond_64_bits``).

Bob's own API token is never the ``{token_id}`` a generated ``DELETE /tokens/{token_id}``
names (the rest of the run would be 401s). SQLite only: the checks are about the HTTP
layer, and PostgreSQL would double the run time for no new coverage.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope, upgrade_database
from app.jobs.refresh import RefreshOptions, refresh_due
from app.main import create_app
from app.models import User
from tests.app.conftest import ApiUser, add_user
from tests.helpers import FeedServer, Reply

API = "/api/v1"
MAX_EXAMPLES = 40
NOW = datetime.now(UTC)
EXCLUDED = {
    ("POST", f"{API}/sources/discover"): "fetches the body's URL in the request",
    ("POST", f"{API}/people/links"): "fetches people's sites in the request",
    ("GET", f"{API}/feeds/{{token}}/atom.xml"): "answers Atom, not JSON",
}
# checks left out for one operation (a finding reported in the issue): (method, path) -> names
KNOWN: dict[tuple[str, str], set[str]] = {}
MISSING = 900_000_000

ALICE_MARKERS = {
    "Quolvaniq",  # her source, renamed
    "Xylomarker",  # her items' titles
    "Zqueffle",  # their author
    "Brindlewort",  # her folder
    "alice-feed",  # her feeds' paths
    "alicemarker.example",  # her feeds' site
}


def rss(site: str, author: str, titles: list[str]) -> bytes:
    items = "".join(
        f"<item><guid>{site}/{n}</guid><link>{site}/{n}</link><title>{title}</title>"
        f"<author>{author}</author><category>tagged</category>"
        f"<pubDate>{(NOW - timedelta(hours=n + 1)).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
        f"</pubDate><description>&lt;p&gt;{title}, the body&lt;/p&gt;</description></item>"
        for n, title in enumerate(titles)
    )
    return (
        f"<rss version='2.0'><channel><title>Feed of {site}</title><link>{site}/</link>"
        f"{items}</channel></rss>"
    ).encode()


FEEDS = {
    "/alice-feed-one": rss(
        "https://alicemarker.example",
        "ann@alicemarker.example (Ann Zqueffle)",
        [f"Xylomarker post {n}" for n in range(4)],
    ),
    "/bob-feed-one": rss(
        "https://bob.example",
        "cy@bob.example (Cy Osei)",
        [f"Heron post {n}" for n in range(4)],
    ),
}


def operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every /api/v1 operation the schema declares, minus EXCLUDED."""
    spec = create_app(Settings(database_url="sqlite://", secret_key="schema")).openapi()
    found = [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if path.startswith(API) and method in {"get", "post", "put", "patch", "delete"}
    ]
    return sorted(op for op in found if op not in EXCLUDED)


@dataclass
class World:
    app: FastAPI
    schema: Any
    bob: ApiUser
    bob_token_id: int
    markers: frozenset[str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = FeedServer()
    for path, body in FEEDS.items():
        server.routes[path] = Reply(200, body, {"Content-Type": "application/rss+xml"})
    url = f"sqlite:///{tmp_path_factory.mktemp('schema')}/kith.db"
    upgrade_database(url)
    settings = Settings(
        database_url=url,
        allowed_hosts=[server.hostport],
        secret_key="test-secret",
        fetch_deadline_seconds=1.0,
    )
    engine = get_engine(url)
    root = add_user(settings, "root")  # the first account may become admin by itself
    alice, bob = add_user(settings, "alice"), add_user(settings, "bob")
    with session_scope(engine) as s:
        for user in s.exec(select(User)).all():
            user.is_admin = user.id == root.id
            s.add(user)
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            for path in FEEDS:
                who = alice if path.startswith("/alice") else bob
                resp = client.post(
                    f"{API}/sources", json={"url": server.url(path)}, headers=who.auth
                )
                assert resp.status_code == 201, resp.text
            refresh_due(engine, RefreshOptions(policy=settings.fetch_policy()))
            sources = client.get(f"{API}/sources", headers=alice.auth).json()["items"]
            assert all(s["error_code"] is None for s in sources), sources
            resp = client.patch(
                f"{API}/sources/{sources[0]['id']}",
                json={"title": "Quolvaniq Source", "folder": "Brindlewort"},
                headers=alice.auth,
            )
            assert resp.status_code == 200, resp.text
            page = client.get(f"{API}/timeline", headers=alice.auth).json()["items"]
            assert any("Xylomarker" in i["title"] for i in page), page
            resp = client.post(
                f"{API}/items/{page[0]['id']}/feedback", json={"action": "like"}, headers=alice.auth
            )
            assert resp.status_code == 204, resp.text
            assert client.get(f"{API}/timeline", headers=bob.auth).json()["items"]
            tokens = client.get(f"{API}/tokens", headers=bob.auth).json()["items"]
            assert len(tokens) == 1, tokens
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            markers = frozenset(ALICE_MARKERS | {alice.token, alice.token[:12]})
            yield World(app, schema, bob, int(tokens[0]["id"]), markers)
    finally:
        server.close()
        get_engine.cache_clear()


INT64 = 2**63


def leaked(response: Any, markers: frozenset[str]) -> list[str]:
    """Markers found anywhere in a response: body and headers."""
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    text = (response.text + "\n" + headers).lower()
    return sorted(m for m in markers if m.lower() in text)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), operations(), ids=lambda v: v)
def test_operation_against_schema(world: World, method: str, path: str) -> None:
    operation = world.schema[path][method]
    skip = KNOWN.get((method, path), set())
    checks = [
        c for c in (not_a_server_error, response_schema_conformance) if c.__name__ not in skip
    ]

    @hsettings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        if case.path_parameters and case.path_parameters.get("token_id") == world.bob_token_id:
            case.path_parameters["token_id"] = MISSING
        response = case.call(headers=world.bob.auth)
        case.validate_response(response, checks=checks)
        found = leaked(response, world.markers)
        assert not found, f"{method} {case.formatted_path}: Alice's {found} shown to Bob"

    run()


BIG = 2**63
BIG_ID_CALLS = [
    ("GET", f"{API}/people/{BIG}", None),
    ("GET", f"{API}/people/{BIG}/weight", None),
    ("PUT", f"{API}/people/{BIG}/weight", {"manual": 1.5}),
    ("GET", f"{API}/sources/{BIG}", None),
    ("POST", f"{API}/items/{BIG}/feedback", {"action": "like"}),
    ("DELETE", f"{API}/items/{BIG}", None),
    ("DELETE", f"{API}/tokens/{BIG}", None),
    ("GET", f"{API}/timeline?person={BIG}", None),
    ("POST", f"{API}/people/suggestions/reject", {"a": BIG, "b": 1}),
]


def test_ids_beyond_64_bits(world: World) -> None:
    """Found by the property test on PUT /people/{person_id}/weight (a 500 from the
    SQLite driver's OverflowError), the same on every route that looks an id up: such an
    id now answers 422 ``out_of_range``."""
    with TestClient(world.app, raise_server_exceptions=False) as client:
        answers = {
            f"{method} {path}": client.request(
                method, path, json=body, headers=world.bob.auth
            ).status_code
            for method, path, body in BIG_ID_CALLS
        }
    assert set(answers.values()) == {422}, answers
