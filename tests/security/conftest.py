"""Security tests share the app fixtures of tests/app (a client on each backend, users
with tokens) and add a *private listener*: a loopback server that is not allow-listed,
standing in for everything behind the network guard (cloud metadata, an admin panel on
localhost, the intranet). Every test that aims a URL at it asserts it was never
connected to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.app.conftest import alice, bob, client  # noqa: F401 - fixtures
from tests.helpers import FeedServer, Reply
from tests.web.conftest import browser, page, problems  # noqa: F401 - fixtures


@pytest.fixture
def private() -> Iterator[FeedServer]:
    server = FeedServer()
    server.routes["/"] = Reply(
        200, b"<html><a rel='me' href='https://x.example/'>secret</a></html>"
    )
    yield server
    server.close()
