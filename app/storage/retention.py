"""Retention's reads and writes: which old items may go, deleting them in small batches
with their tombstones, the database's size, and the daily claim of periodic jobs.

An old item stays when the user saved it, when the ranker still needs it (feedback it
has not learned from, any feedback but ``seen``, or a ``seen`` impression recent enough
to weigh in a replay: see :func:`app.jobs.prune.cutoffs`), or when it is the post of a
comment thread Kith follows (``source.parent_item_id``). Deleting an item cascades to
its remaining feedback (``seen`` only), sets ``interaction.item_id`` and
``item.duplicate_of_id`` to NULL (the contact stays), and fires whatever other tables
hang on items by foreign key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from app.models import Feedback, Item, ItemTombstone, JobRun, Source, User, UTCDateTime


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Items published before ``items`` may go; a ``seen`` impression made before
    ``seen`` no longer keeps its item."""

    items: datetime
    seen: datetime


def _prunable(user_id: int, cut: Cutoffs) -> list[Any]:
    needed = (
        sa.exists()
        .where(col(Feedback.item_id) == col(Item.id))
        .where(
            sa.or_(
                col(Feedback.action) != "seen",
                col(Feedback.learned).is_(False),
                col(Feedback.at) >= cut.seen,
            )
        )
    )
    thread_post = sa.exists().where(col(Source.parent_item_id) == col(Item.id))
    return [
        col(Item.user_id) == user_id,
        col(Item.published) < cut.items,
        col(Item.saved_at).is_(None),
        ~needed,
        ~thread_post,
    ]


def user_ids(session: Session, *, name: str | None = None) -> list[int]:
    """Every user's id (or the one named), by id."""
    query = select(User.id).order_by(col(User.id))
    if name is not None:
        query = query.where(User.name == name)
    return [i for i in session.exec(query).all() if i is not None]


def count_prunable(session: Session, *, user_id: int, cut: Cutoffs) -> int:
    query = select(sa.func.count()).select_from(Item).where(*_prunable(user_id, cut))
    return int(session.exec(query).one())


def count_old(session: Session, *, user_id: int, cut: Cutoffs) -> int:
    """The user's items published before the cutoff (what a prune keeps, afterwards)."""
    query = (
        select(sa.func.count())
        .select_from(Item)
        .where(col(Item.user_id) == user_id, col(Item.published) < cut.items)
    )
    return int(session.exec(query).one())


Cursor = tuple[datetime, int]


def prune_batch(
    session: Session,
    *,
    user_id: int,
    cut: Cutoffs,
    after: Cursor | None,
    limit: int,
    now: datetime,
) -> tuple[int, int, Cursor | None]:
    """Delete up to ``limit`` prunable items after ``after`` (published, id) and
    tombstone them (``aged_out``), in the caller's transaction. Returns (items deleted,
    tombstones written, the cursor of the next batch or None when none is left)."""
    query = (
        sa.select(
            col(Item.id),
            col(Item.published),
            col(Item.source_id),
            col(Item.dedupe_key),
            col(Item.url),
        )
        .where(*_prunable(user_id, cut))
        .order_by(col(Item.published), col(Item.id))
        .limit(limit)
    )
    if after is not None:
        at, item_id = sa.literal(after[0], UTCDateTime()), sa.literal(after[1], sa.Integer())
        query = query.where(sa.tuple_(col(Item.published), col(Item.id)) > sa.tuple_(at, item_id))
    rows = session.execute(query).all()
    if not rows:
        return 0, 0, None
    stones = [
        {
            "user_id": user_id,
            "source_id": source_id,
            "dedupe_key": key,
            "url": url,
            "reason": "aged_out",
            "at": now,
        }
        for _, _, source_id, key, url in rows
    ]
    conn = session.connection()  # Core, one cached statement each (no ORM bookkeeping)
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stone = ItemTombstone.__table__  # type: ignore[attr-defined]
    written = len(
        conn.execute(
            insert(stone)
            .on_conflict_do_nothing(index_elements=["source_id", "dedupe_key"])
            .returning(stone.c.id),
            stones,
        ).all()
    )
    table = Item.__table__  # type: ignore[attr-defined]
    deleted = conn.execute(
        sa.delete(table).where(table.c.id.in_(sa.bindparam("ids", expanding=True))),
        {"ids": [r[0] for r in rows]},
    ).rowcount
    last = rows[-1]
    return int(deleted or 0), int(written or 0), (last[1], last[0])


# --- the database's size -----------------------------------------------------------

PG_TABLES = ("item", "feedback", "item_tombstone", "interaction")


def database_bytes(session: Session) -> dict[str, int]:
    """SQLite: the file's pages and its free pages, in bytes; PostgreSQL: the total size
    of the tables a prune touches (indexes and TOAST included)."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        page = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
        free = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())
        return {"file": pages * page, "free": free * page}
    total = 0
    for table in PG_TABLES:
        total += int(
            conn.execute(sa.text(f"SELECT pg_total_relation_size('{table}')")).scalar_one()
        )
    return {"tables": total}


# --- periodic jobs: one run a day --------------------------------------------------


def claim_day(session: Session, *, name: str, day: str, owner: str, now: datetime) -> int | None:
    """Claim job ``name`` for ``day``: the id of the new run row, or None when another
    process claimed that day already (the unique row is the claim; commit at once)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    row = session.execute(
        insert(JobRun)
        .values(name=name, day=day, owner=owner, started_at=now, result={})
        .on_conflict_do_nothing(index_elements=["name", "day"])
        .returning(col(JobRun.id))
    ).first()
    return None if row is None else int(row[0])


def finish_run(session: Session, *, run_id: int, result: dict[str, object], now: datetime) -> None:
    session.execute(
        sa.update(JobRun).where(col(JobRun.id) == run_id).values(finished_at=now, result=result)
    )


def last_runs(session: Session, *, name: str, limit: int = 10) -> list[JobRun]:
    return list(
        session.exec(
            select(JobRun).where(JobRun.name == name).order_by(col(JobRun.day).desc()).limit(limit)
        ).all()
    )
