"""The API's timeline page: the statement of :mod:`app.storage.items`, compiled once per
database dialect and query shape, run straight on a pooled DBAPI connection.

The page is the one request a client repeats all day, so its read skips what
SQLAlchemy does per execution that the page does not need: a ``Connection`` and a
``Session`` around the cursor, the compiled-cache lookup, result-row objects. What it
keeps is what makes the values right: the SQL and parameter order SQLAlchemy compiled,
the bind processors of the parameters' types (a ``since`` or ``newest`` cursor is a
``UTCDateTime`` like the column it is compared with) and the result processors of the
18 columns (SQLite's text timestamps become aware UTC datetimes). Errors are wrapped
as SQLAlchemy's ``DBAPIError``, so the API answers them as for any other read, and a
dropped connection is invalidated, not returned to the pool.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import PoolProxiedConnection

from app.storage.items import (
    _ENTRY_COLUMNS,
    TimelineEntry,
    TimelineQuery,
    _next_cursor,
    _timeline_select,
)


@dataclass(slots=True)
class _Prepared:
    """One shape of the page's statement, compiled for one dialect."""

    sql: str
    positions: tuple[str, ...] | None  # parameter order for a positional paramstyle
    fixed: dict[str, Any]  # values SQLAlchemy bound itself (the "hide" action, OFFSET 0)
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]
    dialect: Dialect
    types: tuple[Any, ...]  # the selected columns' types, for their result processors
    # built from the first cursor's description (PostgreSQL's need the column's type OID)
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None

    def parameters(self, params: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = self.fixed | params
        for name, process in self.binds:
            if name in values:
                values[name] = process(values[name])
        if self.positions is None:
            return values
        return tuple(values[name] for name in self.positions)

    def rows(self, cursor: Any) -> list[TimelineEntry]:
        if self.results is None:
            self.results = tuple(
                (index, process)
                for index, (type_, described) in enumerate(
                    zip(self.types, cursor.description, strict=True)
                )
                if (
                    process := type_.dialect_impl(self.dialect).result_processor(
                        self.dialect, described[1]
                    )
                )
                is not None
            )
        if not self.results:
            return [TimelineEntry(*raw) for raw in cursor.fetchall()]
        out = []
        for raw in cursor.fetchall():
            values = list(raw)
            for index, process in self.results:
                values[index] = process(values[index])
            out.append(TimelineEntry(*values))
        return out


@lru_cache(maxsize=128)
def _prepare(dialect: Dialect, statement: Select[Any], names: frozenset[str]) -> _Prepared:
    """``statement`` (one object per query shape: :func:`app.storage.items._timeline_statement`
    caches them) compiled for ``dialect``, with the parameters ``names``."""
    compiled = statement.compile(dialect=dialect)
    given = dict.fromkeys(names, None)
    fixed = {
        k: v for k, v in compiled.construct_params(given, _check=False).items() if k not in names
    }
    binds = tuple(
        (name, process)
        for name, bind in compiled.binds.items()
        if name in names
        and (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    )
    positions = (
        tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    )
    types = tuple(column.type for column in statement.selected_columns)
    return _Prepared(str(compiled), positions, fixed, binds, dialect, types)


def read_page(
    engine: Engine, q: TimelineQuery, *, held: bool = False
) -> tuple[list[TimelineEntry], str | None]:
    """The page :func:`app.storage.items.read_timeline` reads, as :class:`TimelineEntry`
    tuples (18 columns, the JSON ones as stored text), and the next cursor.

    ``held``: read on a connection this thread keeps for ``engine`` instead of one from
    the pool (the event loop's own SQLite reader: it never waits for the pool, which the
    worker threads may have emptied, and skips the checkout and its rollback)."""
    statement, params = _timeline_select(q, _ENTRY_COLUMNS)
    prepared = _prepare(engine.dialect, statement, frozenset(params))
    parameters = prepared.parameters(params)
    raw = _held_connection(engine) if held else engine.raw_connection()
    cursor = None
    try:
        cursor = raw.cursor()
        cursor.execute(prepared.sql, parameters)
        rows = prepared.rows(cursor)
    except engine.dialect.loaded_dbapi.Error as exc:
        disconnected = engine.dialect.is_disconnect(exc, raw.dbapi_connection, cursor)
        if disconnected:
            raw.invalidate(exc)
            if held:
                _HELD.connections.pop(engine, None)
        raise sa_exc.DBAPIError.instance(
            prepared.sql,
            parameters,
            exc,
            engine.dialect.loaded_dbapi.Error,
            connection_invalidated=disconnected,
            dialect=engine.dialect,
        ) from exc
    finally:
        if cursor is not None:
            cursor.close()
        if not held:
            raw.close()  # back to the pool (rolled back there)
    cursor_out = _next_cursor(q, rows[q.limit - 1]) if len(rows) > q.limit else None
    return rows[: q.limit], cursor_out


class _Held(threading.local):
    def __init__(self) -> None:
        self.connections: weakref.WeakKeyDictionary[Engine, PoolProxiedConnection] = (
            weakref.WeakKeyDictionary()
        )


_HELD = _Held()


def _held_connection(engine: Engine) -> PoolProxiedConnection:
    """This thread's own connection to ``engine``, checked out of its pool once. A
    SELECT on it opens no transaction that outlives the statement (pysqlite begins one
    only before a write), so it never holds back a WAL checkpoint."""
    raw = _HELD.connections.get(engine)
    if raw is None or raw.dbapi_connection is None:
        raw = _HELD.connections[engine] = engine.raw_connection()
    return raw
