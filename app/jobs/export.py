"""Your data to take away: the whole account as one JSON document, streamed.

Steps: the header (format, version, when, the user's name) -> each section in the
order an import needs it (sources, people, identities, merge rejections, items with
state, feedback, interactions, dates, tombstones), read in keyset batches and encoded
batch by batch -> the closing brace. Memory stays at one batch whatever the account's
size. Ids are the account's own and only link the sections together; an import maps them
to new ones. Never exported: passwords, API and feed tokens, Mastodon access tokens
(a source that had one says ``had_token``), fetch validators and the ranking model
(retrained from the feedback).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import orjson
from sqlalchemy import Engine

from app.errors import NotFound
from app.storage import accounts as store

FORMAT = "kith-export"
VERSION = 1
BATCH = 200  # rows per read: the peak memory of an export is about one batch


def export_chunks(
    engine: Engine, *, user_id: int, now: datetime, batch: int = BATCH
) -> Iterator[bytes]:
    """The export of ``user_id`` as chunks of UTF-8 JSON (one per batch of rows). On
    PostgreSQL the whole document is read from one snapshot (repeatable read)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            user = store.user_header(conn, user_id=user_id)
            if user is None:
                raise NotFound(f"no user {user_id}")
            head = {"format": FORMAT, "version": VERSION, "exported_at": now, "user": user}
            yield orjson.dumps(head)[:-1]  # the object stays open
            for section in store.SECTIONS:
                yield b',"' + section.name.encode() + b'":['
                first = True
                for rows in store.section_batches(conn, section, user_id=user_id, batch=batch):
                    body = b",".join(orjson.dumps(r) for r in rows)
                    yield body if first else b"," + body
                    first = False
                yield b"]"
            yield b"}\n"


def export_filename(name: str, now: datetime) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return f"kith-export-{safe}-{now:%Y-%m-%d}.json"
