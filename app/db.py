"""Engine and sessions for SQLite (WAL, foreign keys on) and PostgreSQL (psycopg 3).

SQLAlchemy errors are wrapped into :class:`app.errors.StorageError` at the request
boundary (:mod:`app.api.errors`); storage functions let them propagate.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # kith_text(): the search index's triggers on item call it (app.search.schema)
    from app.search.schema import register_sqlite_functions

    register_sqlite_functions(dbapi_connection)


def _sqlite_savepoint_writes(conn: sa.Connection, _name: str | None) -> None:
    """A SAVEPOINT outside a transaction opens a deferred one on SQLite, and Kith takes
    savepoints only around writes: begin it IMMEDIATE instead, so its reads and its
    first write happen under the write lock (a deferred transaction that read first
    fails at once with "database is locked" when another connection committed meanwhile;
    the OPML import of bench/feedback.py met it)."""
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# the API's worker threads (40) can all hold a connection at once
POOL_SIZE, POOL_OVERFLOW = 10, 30


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        memory = ":memory:" in url or url in ("sqlite://", "sqlite:///")
        pool = {} if memory else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, **pool
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "savepoint", _sqlite_savepoint_writes)
        if not memory:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        return engine
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
    )


T = TypeVar("T")


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine per URL per process."""
    return create_db_engine(url)


def is_transient(exc: BaseException) -> bool:
    """A failure that running the same transaction again can cure: a deadlock or a
    serialization failure on PostgreSQL, a busy database on SQLite."""
    if not isinstance(exc, sa.exc.OperationalError | sa.exc.DBAPIError):
        return False
    code = getattr(exc.orig, "sqlstate", None)
    if code in ("40P01", "40001"):  # deadlock_detected, serialization_failure
        return True
    return "database is locked" in str(exc.orig)


def retry_transient(run: Callable[[], T], *, attempts: int = 4) -> T:
    """``run()`` (one whole transaction), again after a short random pause when it fails
    for a transient reason; any other failure, or the last one, is raised."""
    for attempt in range(attempts):
        try:
            return run()
        except Exception as exc:
            if attempt + 1 >= attempts or not is_transient(exc):
                raise
            time.sleep(random.uniform(0.01, 0.05) * 2**attempt)
    raise AssertionError("unreachable")


class WriteGate:
    """SQLite's one writer, queued in this process: interactive writers (a click) go
    before background ones (ingest), and a writer that finishes hands over at once.

    SQLite's own busy handler sleeps and polls (1, 2, 5 ... 100 ms), so a writer that
    just committed and begins again (the ingest storage thread) takes the lock back before
    a sleeping waiter wakes: feedback waited seconds behind a stream of ingest
    transactions. Reentrant per thread; other processes still meet the busy timeout."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._urgent = 0  # interactive writers waiting

    @contextmanager
    def hold(self, *, interactive: bool) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
            else:
                self._urgent += interactive
                try:
                    while self._owner is not None or (not interactive and self._urgent):
                        self._cond.wait()
                finally:
                    self._urgent -= interactive
                self._owner, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._cond.notify_all()


_GATES: dict[str, WriteGate] = {}
_GATES_LOCK = threading.Lock()


def write_gate(engine: Engine) -> WriteGate:
    """The gate of ``engine``'s database (one per database URL in this process)."""
    with _GATES_LOCK:
        return _GATES.setdefault(str(engine.url), WriteGate())


@contextmanager
def session_scope(
    engine: Engine, *, write: bool = False, interactive: bool = False
) -> Iterator[Session]:
    """A session that commits once on success and rolls back on any error.

    ``write=True`` marks a transaction that writes. On SQLite it passes this process's
    :class:`WriteGate` (``interactive`` ones first) and begins with ``BEGIN IMMEDIATE``,
    so it holds the write lock from its first statement instead of starting as a reader
    and failing at once with "database is locked" when another connection committed
    before its first write. Keep such transactions short: compute before them."""
    queued = write and engine.dialect.name == "sqlite"
    with Session(engine, expire_on_commit=False) as session:
        if queued:
            # the connection first, then the queue: a writer holding the gate must never
            # wait for the pool, which writers waiting at the gate may have emptied
            session.connection()
        gate = write_gate(engine).hold(interactive=interactive) if queued else nullcontext()
        with gate:
            try:
                if queued:
                    # pysqlite (legacy transaction control) sees the open transaction and
                    # adds no BEGIN of its own; COMMIT/ROLLBACK go through the session
                    session.connection().exec_driver_sql("BEGIN IMMEDIATE")
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise


def alembic_config(url: str) -> Any:
    """An Alembic config pointing at the top-level ``alembic/`` folder and ``url``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def database_is_current(url: str) -> bool:
    """True when the database already stands at the newest migration (a cheap check)."""
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    try:
        with get_engine(url).connect() as conn:
            current = {
                row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")
            }
    except sa.exc.SQLAlchemyError:
        return False
    return current == heads


def upgrade_database(url: str) -> None:
    """Apply every migration to the database at ``url`` (creates the SQLite file);
    a database already at the newest migration costs one query."""
    from alembic import command

    if database_is_current(url):
        return
    if url.startswith("postgresql"):
        # several processes of a cluster may start at once: one migrates, the others
        # wait on the lock and then find the database current
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
                try:
                    if not database_is_current(url):
                        command.upgrade(alembic_config(url), "head")
                finally:
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
        finally:
            engine.dispose()
        return
    command.upgrade(alembic_config(url), "head")


MIGRATION_LOCK = 0x6B697468  # "kith": the advisory lock held while migrating
