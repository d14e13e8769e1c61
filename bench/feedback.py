"""Feedback while Kith ingests: does a click wait for the scheduler?

    .venv/bin/python -m bench.feedback [--database sqlite|postgresql] [--idle 150]

One ``kith serve`` (its in-process scheduler, ``KITH_SCHEDULER_TICK_SECONDS=1`` as the
issue asks; the default tick is 30 s) on a fresh database (a SQLite file, or with
``--database postgresql`` a database of its own on 127.0.0.1:5432), and a loopback farm
(``bench/farm.py``) of 320 feeds x 50 entries. One user follows the first 20 feeds; the
benchmark waits until they are ingested and ranked. Then:

1. idle: ``--idle`` sequential ``POST /api/v1/items/{id}/feedback`` (like / open / seen
   with a rank / more, in turn) on items of the timeline;
2. busy: the other 300 feeds are imported as an OPML file through
   ``POST /api/v1/sources/opml``, and 4 client threads post the same mix until the
   scheduler has refreshed every source and scored every new item.

Printed: idle p50, busy p50/p95/p99/max, errors (any non-204), busy p99 / idle p50
(target <= 10x), and whether every feedback row answered with a 204 is in the database
(each action counted per item): "nothing lost". Exits 0 either way (a benchmark).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from app.db import get_engine, session_scope, upgrade_database
from app.storage import users as user_store
from bench.cluster import (
    create_database,
    drop_database,
    follow,
    free_port,
    percentile_ms,
    stop_process,
    wait_for_health,
)
from bench.farm import Farm

SEED_FEEDS = 20
IMPORTED_FEEDS = 300
ENTRIES = 50
CLIENTS = 4
ACTIONS = ("like", "open", "seen", "more")
TARGET = 10.0  # busy p99 <= 10 x idle p50
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class Client:
    """One keep-alive HTTP/1.1 connection to the server, with the user's token."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.headers = port, {"Authorization": f"Bearer {token}"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None,
                ctype: str = "application/json") -> tuple[int, bytes]:  # fmt: skip
        headers = dict(self.headers, **({"Content-Type": ctype} if body is not None else {}))
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # a keep-alive socket the server closed: once more
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def feedback(self, item_id: int, action: str, rank: int) -> tuple[float, int, bytes]:
        body: dict[str, object] = {"action": action}
        if action == "seen":
            body["rank"] = rank
        began = time.perf_counter()
        status, text = self.request(
            "POST", f"/api/v1/items/{item_id}/feedback", json.dumps(body).encode()
        )
        return time.perf_counter() - began, status, text


def item_pool(client: Client, pages: int = 4) -> list[int]:
    """Item ids of the first ``pages`` timeline pages."""
    ids: list[int] = []
    cursor = None
    for _ in range(pages):
        path = "/api/v1/timeline?limit=50" + (f"&cursor={cursor}" if cursor else "")
        status, raw = client.request("GET", path)
        assert status == 200, raw
        page = json.loads(raw)
        ids += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    return ids


def progress(engine: sa.Engine) -> tuple[int, int, int, int]:
    """Sources, sources checked at least once, items, items not scored yet."""
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM source),"
            " (SELECT count(*) FROM source WHERE last_checked_at IS NOT NULL),"
            " (SELECT count(*) FROM item),"
            " (SELECT count(*) FROM item WHERE scored_at IS NULL)"
        ).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def wait_done(engine: sa.Engine, sources: int, limit: float) -> tuple[float, tuple[int, ...]]:
    """Until ``sources`` are checked and every item is scored; seconds taken."""
    began = time.monotonic()
    while True:
        now = progress(engine)
        if (now[0] >= sources and now[1] >= sources and now[3] == 0) or (
            time.monotonic() - began > limit
        ):
            return time.monotonic() - began, now
        time.sleep(0.25)


def stored_feedback(engine: sa.Engine) -> Counter[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT item_id, action FROM feedback").all()
    return Counter((int(i), str(a)) for i, a in rows)


def opml(urls: list[str]) -> bytes:
    outlines = "".join(
        f'<outline type="rss" text="feed {n}" xmlUrl="{u}"/>' for n, u in enumerate(urls)
    )
    return (
        '<?xml version="1.0"?><opml version="2.0"><head><title>bench</title></head>'
        f"<body>{outlines}</body></opml>"
    ).encode()


class Recorder:
    """Latencies, errors and the feedback answered with a 204, shared by the threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.sent: Counter[tuple[int, str]] = Counter()

    def note(self, item_id: int, action: str, took: float, status: int, text: bytes) -> None:
        with self.lock:
            self.latencies.append(took)
            if status == 204:
                self.sent[(item_id, action)] += 1
            else:
                self.errors[f"{status} {text[:200]!r}"] += 1


def run(url: str, args: argparse.Namespace, work: Path) -> dict[str, object]:
    farm = Farm(feeds=SEED_FEEDS + IMPORTED_FEEDS, entries=ENTRIES).start()
    proc = None
    try:
        upgrade_database(url)
        engine = get_engine(url)
        with session_scope(engine) as s:
            user = user_store.create_user(s, name="bench")
            assert user.id is not None
            uid = user.id
            _, token = user_store.create_token(s, user_id=uid)
        urls = list(farm.urls)
        random.Random(5).shuffle(urls)
        follow(engine, uid, urls[:SEED_FEEDS])
        port = free_port()
        log = work / "server.log"
        env = os.environ | {
            "KITH_DATABASE_URL": url,
            "KITH_ALLOWED_HOSTS": json.dumps([f"127.0.0.1:{farm.port}"]),
            # issue 17 sets this bench at a 1 s tick; the default (30 s) only delays when
            # the imported feeds are first picked up, it is not what the bench measures
            "KITH_SCHEDULER_TICK_SECONDS": "1",
            "KITH_SECRET_KEY": "bench-feedback",
        }
        kith = Path(sys.executable).parent / "kith"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(kith), "serve", "--host", "127.0.0.1", "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        wait_for_health(f"http://127.0.0.1:{port}", proc, log)
        took, state = wait_done(engine, SEED_FEEDS, 120)
        print(f"seed: {SEED_FEEDS} feeds, {state[2]:,} items ingested and ranked in "
              f"{took:.1f} s", flush=True)  # fmt: skip
        client = Client(port, token)
        pool = item_pool(client)
        rng = random.Random(args.seed)

        idle = Recorder()
        for n in range(args.idle):
            item_id, action = rng.choice(pool), ACTIONS[n % len(ACTIONS)]
            idle.note(item_id, action, *client.feedback(item_id, action, rng.randint(1, 50)))

        busy = Recorder()
        stop = threading.Event()

        def clicker(seed: int) -> None:
            own, r = Client(port, token), random.Random(seed)
            n = 0
            while not stop.is_set():
                item_id, action = r.choice(pool), ACTIONS[n % len(ACTIONS)]
                try:
                    busy.note(item_id, action, *own.feedback(item_id, action, r.randint(1, 50)))
                except OSError as exc:
                    busy.note(item_id, action, 0.0, 0, repr(exc).encode())
                n += 1

        threads = [threading.Thread(target=clicker, args=(args.seed * 100 + k,))
                   for k in range(CLIENTS)]  # fmt: skip
        began = time.monotonic()
        status, raw = client.request("POST", "/api/v1/sources/opml", opml(urls[SEED_FEEDS:]),
                                     "text/x-opml")  # fmt: skip
        assert status == 200, raw
        imported = len(json.loads(raw)["added"])
        for t in threads:
            t.start()
        took, state = wait_done(engine, SEED_FEEDS + IMPORTED_FEEDS, args.limit)
        stop.set()
        for t in threads:
            t.join()
        busy_seconds = time.monotonic() - began
        with engine.connect() as conn:
            failed = conn.exec_driver_sql(
                "SELECT error_code, min(error_message), count(*) FROM source"
                " WHERE error_code IS NOT NULL GROUP BY error_code"
            ).all()
        stored = stored_feedback(engine)
        sent = idle.sent + busy.sent
        lost = sum((sent - stored).values())
        extra = sum((stored - sent).values())
        text = log.read_text(errors="replace")
        return {
            "imported": imported,
            "failed": [(str(c), str(m)[:150], int(n)) for c, m, n in failed],
            "state": state,
            "busy_seconds": busy_seconds,
            "idle": idle,
            "busy": busy,
            "lost": lost,
            "extra": extra,
            "stored": sum(stored.values()),
            "tracebacks": text.count("Traceback"),
            "locked": text.count("database is locked"),
        }
    except BaseException:
        if proc is not None:
            print((work / "server.log").read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        if proc is not None:
            stop_process(proc, timeout=20)
        farm.stop()
        get_engine.cache_clear()


def report(r: dict[str, object], database: str) -> None:
    idle, busy = r["idle"], r["busy"]
    assert isinstance(idle, Recorder) and isinstance(busy, Recorder)
    state = r["state"]
    assert isinstance(state, tuple)
    idle50 = percentile_ms(idle.latencies, 0.5)
    b50, b95, b99 = (percentile_ms(busy.latencies, q) for q in (0.5, 0.95, 0.99))
    bmax = percentile_ms(busy.latencies, 1.0)
    print(f"\n{database}: feedback POSTs, like/open/seen/more in turn")
    idle99, idle_errors = percentile_ms(idle.latencies, 0.99), sum(idle.errors.values())
    print(f"idle  (1 client, sequential): {len(idle.latencies)} posts, p50 {idle50:.1f} ms, "
          f"p99 {idle99:.1f} ms, errors {idle_errors}")  # fmt: skip
    print(f"busy  ({CLIENTS} clients, OPML of {r['imported']} feeds ingesting, "
          f"{r['busy_seconds']:.1f} s): {len(busy.latencies)} posts, p50 {b50:.1f} ms, "
          f"p95 {b95:.1f} ms, p99 {b99:.1f} ms, max {bmax:.1f} ms, "
          f"errors {sum(busy.errors.values())}")  # fmt: skip
    for body, n in (idle.errors + busy.errors).most_common(5):
        print(f"  error x{n}: {body}")
    print(f"ingest: {state[1]}/{state[0]} sources checked, {state[2]:,} items, "
          f"{state[3]} not scored yet when the busy phase ended")  # fmt: skip
    for code, message, n in r["failed"]:  # type: ignore[attr-defined]
        print(f"  source errors x{n}: {code}: {message}")
    print(f"stored: {r['stored']} feedback rows; lost {r['lost']}, unexpected {r['extra']}; "
          f"server log: {r['tracebacks']} tracebacks, "
          f"{r['locked']} 'database is locked'")  # fmt: skip
    ratio = b99 / idle50
    errors = sum(idle.errors.values()) + sum(busy.errors.values())
    ok = ratio <= TARGET and errors == 0 and r["lost"] == 0 and r["extra"] == 0
    print(f"busy p99 / idle p50: {ratio:.1f}x (target <= {TARGET:g}x); busy p50 / idle p50: "
          f"{b50 / idle50:.1f}x -> {'PASS' if ok else 'FAIL'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--idle", type=int, default=150, help="sequential idle posts")
    parser.add_argument("--limit", type=float, default=300.0, help="busy phase cap, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-admin", default=os.environ.get("KITH_TEST_POSTGRES_URL", PG_ADMIN))
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores shared by the clients, kith serve and the feed farm")
    work = Path(tempfile.mkdtemp(prefix="kith-bench-feedback-"))
    started = time.perf_counter()
    url = (
        f"sqlite:///{work / 'kith.db'}"
        if args.database == "sqlite"
        else create_database(args.pg_admin, prefix="kith_bench_feedback")
    )
    try:
        report(run(url, args, work), args.database)
    finally:
        if args.database == "postgresql":
            drop_database(args.pg_admin, url)
        shutil.rmtree(work, ignore_errors=True)
    print(f"total: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
