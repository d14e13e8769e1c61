"""Shared fixtures: databases (SQLite and PostgreSQL), a loopback feed server, the app."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from app.config import Settings
from app.db import create_db_engine, upgrade_database
from tests.helpers import FeedServer

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_pg_skip_reason: list[str] = []


def _pg_admin_url() -> str | None:
    """The PostgreSQL server to test against, or None (with a reason) to skip."""
    url = os.environ.get("KITH_TEST_POSTGRES_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return DEFAULT_PG
    except OSError as exc:
        reason = f"PostgreSQL tests skipped: KITH_TEST_POSTGRES_URL unset and 127.0.0.1:5432 did not answer ({exc})"
        if reason not in _pg_skip_reason:
            _pg_skip_reason.append(reason)
        return None


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str | None]:
    """A fresh, migrated PostgreSQL database for this run (dropped at the end)."""
    admin = _pg_admin_url()
    if admin is None:
        yield None
        return
    name = f"kith_test_{uuid.uuid4().hex[:10]}"
    admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(admin).set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    try:
        yield url
    finally:
        from app.db import get_engine

        get_engine.cache_clear()
        with admin_engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_engine.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_db_engine(url)
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """A migrated, empty database URL; every test using it runs on both backends."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/kith-test.db"
        upgrade_database(url)
        return url
    url = request.getfixturevalue("pg_url")
    if url is None:
        pytest.skip(_pg_skip_reason[0] if _pg_skip_reason else "PostgreSQL unavailable")
    _truncate_pg(url)
    return str(url)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = create_db_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def settings(db_url: str, feed_server: FeedServer) -> Settings:
    """Settings for one test: its database; the loopback feed server allow-listed."""
    return Settings(
        database_url=db_url,
        allowed_hosts=[feed_server.hostport],
        secret_key="test-secret",
        fetch_deadline_seconds=5.0,
    )


_backend_passed: dict[str, int] = {"sqlite": 0, "postgresql": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        for backend in _backend_passed:
            if f"[{backend}" in report.nodeid or f"-{backend}" in report.nodeid:
                _backend_passed[backend] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts = ", ".join(f"{k}={v}" for k, v in _backend_passed.items())
    terminalreporter.write_line(f"storage-backed tests passed per backend: {counts}")
    for reason in _pg_skip_reason:
        terminalreporter.write_line(reason, yellow=True)
