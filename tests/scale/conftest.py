"""Scale-out fixtures: a Redis server of the test's own (so a test may restart it), a
fresh PostgreSQL database; the cluster helpers live in ``bench/cluster.py`` (shared
with ``bench/scale.py``).

They need PostgreSQL (as in tests/conftest.py) and a ``redis-server`` binary; without
them the tests are skipped, unless ``KITH_SCALE_TESTS=required`` (``.ci/run`` sets it
after starting PostgreSQL and Redis)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from bench.cluster import RedisServer, create_database, drop_database, free_port
from tests.conftest import _pg_admin_url


def _need(reason: str) -> None:
    if os.environ.get("KITH_SCALE_TESTS") == "required":
        pytest.fail(f"scale-out tests are required here: {reason}")
    pytest.skip(reason)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        _need("no redis-server binary (apt-get install redis-server)")
    server = RedisServer(port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def scale_pg() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (dropped at the end)."""
    admin = _pg_admin_url()
    if admin is None:
        _need("PostgreSQL does not answer on 127.0.0.1:5432 (KITH_TEST_POSTGRES_URL)")
    assert admin is not None
    url = create_database(admin)
    try:
        yield url
    finally:
        drop_database(admin, url)
