"""Fault-injection fixtures: the loopback feed farm (its own process, shared by the
module) and a fresh PostgreSQL database per test.

PostgreSQL tests are skipped when no server answers (as in tests/conftest.py), unless
``KITH_SCALE_TESTS=required`` (``.ci/run`` sets it after starting PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bench.cluster import create_database, drop_database
from bench.farm import Farm
from tests.conftest import _pg_admin_url

FARM_FEEDS = 90
FARM_ENTRIES = 20
# the feeds dealt over hosts, 3 a host, so a run is bound by the work, not by the default
# per-host politeness (which a one-host farm of 90 feeds would turn into a 41 s wait)
FARM_HOSTS = 30


@pytest.fixture(scope="module")
def farm() -> Iterator[Farm]:
    """``FARM_FEEDS`` static feeds of ``FARM_ENTRIES`` entries each (RSS, Atom, comments)."""
    served = Farm(feeds=FARM_FEEDS, entries=FARM_ENTRIES, hosts=FARM_HOSTS).start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def fault_pg() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (dropped at the end)."""
    admin = _pg_admin_url()
    if admin is None:
        if os.environ.get("KITH_SCALE_TESTS") == "required":
            pytest.fail("PostgreSQL is required here but does not answer")
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432 (KITH_TEST_POSTGRES_URL)")
    url = create_database(admin, prefix="kith_fault")
    try:
        yield url
    finally:
        drop_database(admin, url)
