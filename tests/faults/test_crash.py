"""Crash safety of ingest: ``kill -9`` at random points during a large refresh.

One user follows every feed of the loopback farm (90 feeds x 20 entries, see
``conftest.py``). A first complete ``kith ingest --once --all`` stores every entry, and
feedback (like, hide, open and seen: the read state) is recorded on items of every tenth
source. Then, per trial, every source is made due again with no validators, the items of
a rotating third of the sources without feedback are deleted (the refresh must insert
them again) and every other item is made stale (it must update them), ``kith ingest
--once --all`` starts as a subprocess and gets SIGKILL after a random delay
(``random.Random(trial)``, uniform from 0.2 s up to the length of a full run of that
work, measured first; stratified so the kills spread from startup to exit). After each
kill:

- the database opens; on SQLite ``PRAGMA integrity_check`` is ``ok`` and no foreign key
  is broken;
- no duplicate ``(source_id, dedupe_key)``; every item's source exists; no source holds
  more items than its feed has entries;
- no item is half-written: each is either its stale version or exactly what the first
  ingest stored (title, link, content), and its content hash is the hash of those;
- the recorded feedback rows are all there, unchanged, on their items;
- no source holds a lease (``ingest --once`` takes none, and a crash must not leave one).

After the trials, one uninterrupted run completes the work: every source succeeded and
holds exactly its entries, all current, and the feedback is intact.

Trials: **20 on SQLite** (a file) and **5 on PostgreSQL** (skipped when no server
answers, unless ``KITH_SCALE_TESTS=required``), to keep the file near a minute.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.db import create_db_engine, get_engine, session_scope, upgrade_database
from app.models import Feedback, Item, Source
from app.storage import items as item_store
from bench.cluster import seed_sources
from bench.farm import Farm
from tests.faults.conftest import FARM_ENTRIES, FARM_FEEDS

KITH = Path(sys.executable).parent / "kith"
STALE = "stale content, from before this refresh"
ACTIONS = ("like", "hide", "open", "seen")
FEEDBACK_AT = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)

FeedbackRow = tuple[int, int, int, str, int | None, datetime]


def _hash(title: str, url: str | None, content: str) -> str:
    """``app.storage.items.content_hash`` of a stored row's columns."""
    h = hashlib.sha256()
    for part in (title, url or "", content):
        h.update(part.encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()


@dataclass
class World:
    url: str
    env: dict[str, str]
    logs: Path
    user_id: int = 0
    sources: list[int] = field(default_factory=list)
    protected: set[int] = field(default_factory=set)  # sources with feedback on items
    # (source_id, dedupe_key) -> (title, url, content) as the first complete run stored it
    items: dict[tuple[int, str], tuple[str, str | None, str]] = field(default_factory=dict)
    # (source_id, dedupe_key) -> every column of that stored row but the id
    rows: dict[tuple[int, str], dict[str, object]] = field(default_factory=dict)
    feedback: set[FeedbackRow] = field(default_factory=set)
    full_seconds: float = 0.0

    @property
    def sqlite(self) -> bool:
        return self.url.startswith("sqlite")


def _ingest(world: World, name: str) -> subprocess.Popen[bytes]:
    with (world.logs / f"{name}.log").open("wb") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [str(KITH), "ingest", "--once", "--all"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=world.env,
        )


def _run_to_end(world: World, name: str) -> float:
    started = time.monotonic()
    proc = _ingest(world, name)
    rc = proc.wait(timeout=180)
    elapsed = time.monotonic() - started
    assert rc == 0, (world.logs / f"{name}.log").read_text(errors="replace")[-3000:]
    return elapsed


def _feedback_rows(session: Session) -> set[FeedbackRow]:
    # ``learned`` is not compared: the ranker marks feedback learned after a refresh
    return {
        (f.id, f.user_id, f.item_id, f.action, f.rank, f.at)  # type: ignore[misc]
        for f in session.exec(select(Feedback)).all()
    }


def _set_up(world: World, farm: Farm) -> None:
    """Sources, one complete ingest, the reference items, feedback to protect."""
    upgrade_database(world.url)
    world.user_id = seed_sources(world.url, farm)
    get_engine(world.url).dispose()
    _run_to_end(world, "first")
    engine = create_db_engine(world.url)
    try:
        with session_scope(engine) as s:
            world.sources = sorted(s.exec(select(Source.id)).all())  # type: ignore[arg-type]
            assert len(world.sources) == FARM_FEEDS
            rows = s.exec(
                select(Item.id, Item.source_id, Item.dedupe_key, Item.title, Item.url, Item.content)
            ).all()
            per_source = Counter(r.source_id for r in rows)
            assert all(per_source[sid] == FARM_ENTRIES for sid in world.sources), per_source
            for r in rows:
                assert r.content and r.title, r
                world.items[(r.source_id, r.dedupe_key)] = (r.title, r.url, r.content)
            assert len(world.items) == FARM_FEEDS * FARM_ENTRIES
            world.protected = set(world.sources[::10])
            by_source = sorted((r.source_id, r.id) for r in rows if r.source_id in world.protected)
            marked: Counter[int] = Counter()
            for n, (sid, item_id) in enumerate(by_source):
                if marked[sid] >= len(ACTIONS):
                    continue
                action = ACTIONS[marked[sid]]
                marked[sid] += 1
                item_store.add_feedback(
                    s,
                    user_id=world.user_id,
                    item_id=item_id,
                    action=action,
                    rank=n if action == "seen" else None,
                    now=FEEDBACK_AT + timedelta(minutes=n),
                )
        with Session(engine) as s:
            world.feedback = _feedback_rows(s)
        with engine.connect() as conn:
            for row in conn.execute(sa.select(Item.__table__)).mappings():  # type: ignore[attr-defined]
                key = (row["source_id"], row["dedupe_key"])
                world.rows[key] = {k: v for k, v in row.items() if k != "id"}
        assert len(world.feedback) == len(world.protected) * len(ACTIONS)
    finally:
        engine.dispose()


def _churn(world: World, trial: int) -> list[int]:
    """The sources whose items trial ``trial`` deletes: a rotating third of those
    without feedback."""
    return [
        sid
        for n, sid in enumerate(world.sources)
        if sid not in world.protected and (n + trial) % 3 == 0
    ]


def _make_due(world: World, trial: int) -> None:
    """Every source due with no validators, and the same amount of work in every trial
    (whatever the last kill left): the items of :func:`_churn` sources are deleted (the
    refresh inserts them), every other item is stored stale (the refresh updates it)."""
    engine = create_db_engine(world.url)
    item, source = Item.__table__, Source.__table__  # type: ignore[attr-defined]
    churn = set(_churn(world, trial))
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(source).values(
                    next_check_at=datetime.now(UTC),
                    etag=None,
                    last_modified=None,
                    last_success_at=None,
                )
            )
            conn.execute(sa.delete(item).where(item.c.source_id.in_(churn)))
            present = {
                tuple(r) for r in conn.execute(sa.select(item.c.source_id, item.c.dedupe_key))
            }
            restore = [
                row for key, row in world.rows.items() if key[0] not in churn and key not in present
            ]
            if restore:  # put back what an earlier trial deleted and its kill left missing
                conn.execute(sa.insert(item), restore)
            rows = conn.execute(sa.select(item.c.id, item.c.title, item.c.url)).all()
            conn.execute(
                sa.update(item)
                .where(item.c.id == sa.bindparam("b_id"))
                .values(content=STALE, content_hash=sa.bindparam("b_hash"), update_count=0),
                [{"b_id": r.id, "b_hash": _hash(r.title, r.url, STALE)} for r in rows],
            )
    finally:
        engine.dispose()


@dataclass
class Snapshot:
    current: int  # items as the farm serves them
    stale: int
    missing: int
    succeeded: int  # sources with last_success_at


def _check(world: World, *, final: bool = False) -> Snapshot:
    """The invariants that must hold after any crash (and, ``final``, after a full run)."""
    engine = create_db_engine(world.url)  # the database opens
    try:
        with engine.connect() as conn:
            if world.sqlite:
                assert conn.exec_driver_sql("PRAGMA integrity_check").all() == [("ok",)]
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            dupes = conn.exec_driver_sql(
                "SELECT source_id, dedupe_key, count(*) FROM item"
                " GROUP BY source_id, dedupe_key HAVING count(*) > 1"
            ).all()
            assert dupes == []
            total, distinct = conn.exec_driver_sql(
                "SELECT count(*), (SELECT count(*) FROM"
                " (SELECT DISTINCT source_id, dedupe_key FROM item) AS d) FROM item"
            ).one()
            assert total == distinct
            orphans = conn.exec_driver_sql(
                "SELECT count(*) FROM item WHERE source_id NOT IN (SELECT id FROM source)"
            ).scalar_one()
            assert orphans == 0
            leased = conn.exec_driver_sql(
                "SELECT count(*) FROM source WHERE lease_owner IS NOT NULL"
                " OR lease_until IS NOT NULL"
            ).scalar_one()
            assert leased == 0
        with Session(engine) as s:
            rows = s.exec(
                select(
                    Item.source_id,
                    Item.dedupe_key,
                    Item.user_id,
                    Item.title,
                    Item.url,
                    Item.content,
                    Item.content_hash,
                    Item.published,
                )
            ).all()
            per_source = Counter(r.source_id for r in rows)
            current = stale = 0
            for r in rows:
                ref = world.items.get((r.source_id, r.dedupe_key))
                assert ref is not None, f"an item the farm does not serve: {r.dedupe_key}"
                assert r.user_id == world.user_id
                assert r.published is not None
                assert (r.title, r.url) == ref[:2], r.dedupe_key
                assert r.content in (ref[2], STALE), f"half-written content: {r.dedupe_key}"
                assert r.content_hash == _hash(r.title, r.url, r.content), r.dedupe_key
                if r.content == STALE:
                    stale += 1
                else:
                    current += 1
            assert max(per_source.values(), default=0) <= FARM_ENTRIES, per_source
            for sid in world.protected:  # their items are never deleted
                assert per_source[sid] == FARM_ENTRIES, sid
            assert _feedback_rows(s) == world.feedback
            feedback_items = set(
                s.exec(select(Item.id).where(col(Item.id).in_([f[2] for f in world.feedback])))
            )
            assert len(feedback_items) == len(world.feedback)
            sources = s.exec(select(Source)).all()
            succeeded = sum(src.last_success_at is not None for src in sources)
            if final:
                assert {src.id: src.error_code for src in sources if src.error_code} == {}
                assert succeeded == FARM_FEEDS
                assert all(per_source[sid] == FARM_ENTRIES for sid in world.sources)
                assert stale == 0
                assert current == FARM_FEEDS * FARM_ENTRIES
        return Snapshot(current, stale, FARM_FEEDS * FARM_ENTRIES - len(rows), succeeded)
    finally:
        engine.dispose()


def _crash_trials(world: World, farm: Farm, trials: int, *, partial_at_least: int) -> None:
    _set_up(world, farm)
    _check(world, final=True)
    # the length of a full run of the work a trial leaves (the first run inserts all)
    _make_due(world, -1)
    world.full_seconds = _run_to_end(world, "full")
    _check(world, final=True)
    low, high = 0.2, max(world.full_seconds, 0.5)
    outcomes: list[tuple[float, str, Snapshot]] = []
    for trial in range(trials):
        _make_due(world, trial)
        before = _check(world)
        # real work is waiting: every item to insert again or to update
        assert before.succeeded == 0 and before.current == 0
        assert before.missing == len(_churn(world, trial)) * FARM_ENTRIES
        # uniform in [low, high], stratified: trial n draws in the n-th of ``trials``
        # equal slices, so the kills spread over the whole run, startup to exit
        width = (high - low) / trials
        delay = low + width * (trial + random.Random(trial).random())
        proc = _ingest(world, f"trial-{trial}")
        try:
            proc.wait(timeout=delay)
            how = "finished"  # the run beat the kill: still a valid trial
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            how = "killed"
        if how == "finished":
            assert proc.returncode == 0, f"trial {trial} failed on its own"
        else:
            assert proc.returncode == -signal.SIGKILL
        outcomes.append((delay, how, _check(world)))
    summary = f"full run {world.full_seconds:.2f}s\n" + "\n".join(
        f"trial {n}: {how} after {delay:.2f}s, current={snap.current} stale={snap.stale}"
        f" missing={snap.missing} sources_done={snap.succeeded}"
        for n, (delay, how, snap) in enumerate(outcomes)
    )
    print(summary)
    # the kills must have landed in the work, not only before or after it: after some
    # items were stored, and (some of them) in the middle of the sources
    killed = [snap for _, how, snap in outcomes if how == "killed"]
    assert sum(snap.current > 0 for snap in killed) >= 1, summary
    assert sum(0 < snap.succeeded < FARM_FEEDS for snap in killed) >= partial_at_least, summary
    _run_to_end(world, "final")  # the next run completes the work
    _check(world, final=True)


def _world(url: str, farm: Farm, tmp_path: Path) -> World:
    env = os.environ | {
        "KITH_DATABASE_URL": url,
        "KITH_ALLOWED_HOSTS": json.dumps(farm.hosts),
        "KITH_PARSE_WORKERS": "0",
        "KITH_COMMENT_THREADS_PER_SOURCE": "0",
    }
    env.pop("KITH_BROKER_URL", None)
    logs = tmp_path / "logs"
    logs.mkdir()
    return World(url=url, env=env, logs=logs)


def test_kill_ingest_sqlite(farm: Farm, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/crash.db"
    _crash_trials(_world(url, farm, tmp_path), farm, trials=20, partial_at_least=1)


@pytest.mark.postgres
def test_kill_ingest_postgresql(farm: Farm, fault_pg: str, tmp_path: Path) -> None:
    _crash_trials(_world(fault_pg, farm, tmp_path), farm, trials=5, partial_at_least=0)
