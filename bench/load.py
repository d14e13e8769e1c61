"""Mixed load against ``kith serve`` on SQLite while ingest runs: zero errors, p99 printed.

    .venv/bin/python -m bench.load [--seconds 30] [--clients 64] [--floor-seconds 10]

A fresh SQLite file (migrated by ``kith serve`` itself) gets one user with an API token
who follows feeds of a loopback farm (``bench/farm.py``: 200 feeds of 20 entries of 1-3 KB
of HTML, RSS / Atom / comment feeds). A quarter of the feeds are followed at the start and
ingested before the load begins, so the timeline has pages to read; the rest are added a
few at a time during the recorded window, and every few seconds all sources are made due
again (``next_check_at`` now, ``etag`` / ``last_modified`` cleared: full fetches and
parses), so ingest writes new items and rechecks old feeds for the whole run.

The real command, ``kith serve --host 127.0.0.1 --port P``, serves it with its in-process
scheduler (``KITH_SCHEDULER_TICK_SECONDS=1``, the farm allow-listed with
``KITH_ALLOWED_HOSTS``). ``--clients`` aiohttp loops (one keep-alive connection each) then
run ``--warmup`` seconds unrecorded and ``--seconds`` recorded, each mixing, about 70/30:

- ``GET /api/v1/timeline?limit=50``, half the time following the last page's
  ``next_cursor`` (to page 5 at most), else the first page;
- ``POST /api/v1/items/{id}/feedback`` on an item of a page that loop read: ``seen``
  with its rank (60%), ``open`` (15%), ``like`` (15%) or ``hide`` (10%).

Then, with ingest still running, the floor: ``GET /api/v1/health`` (one small database
read) from as many loops for ``--floor-seconds``. Printed per kind: requests, req/s,
errors (any non-2xx answer or failed request, with the first distinct error bodies),
p50/p95/p99/max latency; the items and source checks ingest did in the recorded window;
the server's CPU share; timeline p99 / health p99; the ``database is locked`` lines in the
server log; and the verdict "errors: 0 PASS" or "FAIL". Exits 0 either way: this is a
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import sqlalchemy as sa

from app.db import get_engine, session_scope, upgrade_database
from app.models import Source
from app.storage import users as user_store
from bench.cluster import cpu_seconds, follow, percentile_ms, stop_process, wait_for_health
from bench.farm import Farm

LIMIT = 50
MAX_PAGES = 5
FEEDS = 200
ENTRIES = 20
START_SHARE = 4  # a quarter of the feeds followed (and ingested) before the load
ADD_EVERY = 1.0  # seconds between batches of newly followed feeds during the run
POKE_EVERY = 5.0  # seconds between "everything is due again"
ACTIONS = ["seen"] * 12 + ["open"] * 3 + ["like"] * 3 + ["hide"] * 2
KINDS = ("timeline", "feedback", "health")
KEEPALIVE = 3.0  # seconds a client keeps an idle connection (uvicorn: 5)


@dataclass
class Load:
    """Requests of one kind completed in the recorded window."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    bodies: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the recorded latencies, in milliseconds."""
        return percentile_ms(self.latencies, q)

    def error(self, what: str) -> None:
        self.errors += 1
        self.bodies[what[:300]] += 1


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def seed(url: str, farm: Farm) -> tuple[str, list[str]]:
    """The user and its token, following the first quarter of the farm's feeds (due now);
    returns the raw token and the feeds left to follow during the run."""
    upgrade_database(url)
    engine = get_engine(url)
    with session_scope(engine) as s:
        user = user_store.create_user(s, name="bench")
        assert user.id is not None
        uid = user.id
        _, token = user_store.create_token(s, user_id=uid)
    urls = list(farm.urls)
    random.Random(11).shuffle(urls)
    first = len(urls) // START_SHARE
    follow(engine, uid, urls[:first])
    engine.dispose()
    return token, urls[first:]


def counts(engine: sa.Engine) -> tuple[int, int]:
    """Items stored, and sources checked at least once."""
    with engine.connect() as conn:
        items = conn.exec_driver_sql("SELECT count(*) FROM item").scalar_one()
        checked = conn.exec_driver_sql(
            "SELECT count(*) FROM source WHERE last_checked_at IS NOT NULL"
        ).scalar_one()
    return int(items), int(checked)


def checks_since(engine: sa.Engine, since: datetime) -> int:
    """Sources whose last check began after ``since`` (a lower bound on checks made)."""
    with engine.connect() as conn:
        n = conn.execute(
            sa.select(sa.func.count()).select_from(Source).where(Source.last_checked_at >= since)
        ).scalar_one()
    return int(n)


@dataclass(frozen=True, slots=True)
class Server:
    base: str
    pid: int
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        return cpu_seconds(self.pid)


@contextmanager
def serving(url: str, farm: Farm, work: Path) -> Iterator[Server]:
    """``kith serve`` on a free loopback port, scheduler on, until the block ends."""
    port = free_port()
    log = work / "server.log"
    kith = Path(sys.executable).parent / "kith"
    env = os.environ | {
        "KITH_DATABASE_URL": url,
        "KITH_ALLOWED_HOSTS": json.dumps([f"127.0.0.1:{farm.port}"]),
        # ingest must run during the 30 s window the clients load; at the default 30 s
        # tick the first refresh could start after the window ends
        "KITH_SCHEDULER_TICK_SECONDS": "1",
        "KITH_SECRET_KEY": "bench-load",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(kith), "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_health(base, proc, log)
        yield Server(base=base, pid=proc.pid, log=log)
    finally:
        stop_process(proc, timeout=20)


async def feeder(engine: sa.Engine, uid: int, pending: list[str], stop: asyncio.Event) -> int:
    """Keep ingest busy until ``stop``: follow a few new feeds every ``ADD_EVERY`` s and
    make every source due again (full fetch) every ``POKE_EVERY`` s; returns how many of
    this process's own writes failed (they are retried on the next round)."""
    failures = 0
    per_round = max(1, len(pending) // 25)
    last_poke = time.monotonic()

    def poke() -> None:
        with engine.begin() as conn:
            conn.execute(
                sa.update(Source)
                .where(Source.user_id == uid)
                .values(next_check_at=datetime.now(UTC), etag=None, last_modified=None)
            )

    while not stop.is_set():
        try:
            if pending:
                batch = pending[:per_round]
                await asyncio.to_thread(follow, engine, uid, batch)
                del pending[:per_round]
            if time.monotonic() - last_poke >= POKE_EVERY:
                await asyncio.to_thread(poke)
                last_poke = time.monotonic()
        except sa.exc.OperationalError:
            failures += 1
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), ADD_EVERY)
    return failures


async def mixed(
    base: str, token: str, *, clients: int, warmup: float, seconds: float, seed: int
) -> dict[str, Load]:
    """``clients`` loops mixing timeline reads and feedback writes; what the recorded
    window (requests started after the warm-up and ended before its end) saw."""
    loop = asyncio.get_running_loop()
    record_from = loop.time() + warmup
    stop = record_from + seconds
    loads = {"timeline": Load(seconds), "feedback": Load(seconds)}
    headers = {"Authorization": f"Bearer {token}"}

    def note(kind: str, began: float, ended: float, error: str | None) -> None:
        if record_from <= began and ended <= stop:
            loads[kind].latencies.append(ended - began)
            if error is not None:
                loads[kind].error(error)

    async def worker(session: aiohttp.ClientSession, rng: random.Random) -> None:
        page_ids: list[int] = []
        cursor: str | None = None
        depth = 0
        while loop.time() < stop:
            if page_ids and rng.random() < 0.3:
                rank = rng.randrange(len(page_ids))
                action = rng.choice(ACTIONS)
                body: dict[str, object] = {"action": action}
                if action == "seen":
                    body["rank"] = depth * LIMIT + rank + 1
                item_id = page_ids[rank]
                began, error = loop.time(), None
                try:
                    async with session.post(
                        f"{base}/api/v1/items/{item_id}/feedback", headers=headers, json=body
                    ) as resp:
                        text = await resp.text()
                        if not 200 <= resp.status < 300:
                            error = f"{resp.status} {text}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = f"exception {exc!r}"
                note("feedback", began, loop.time(), error)
                if action == "hide":
                    page_ids.pop(rank)
                continue
            follow_cursor = cursor is not None and depth + 1 < MAX_PAGES and rng.random() < 0.5
            params = {"limit": str(LIMIT)}
            if follow_cursor and cursor is not None:
                params["cursor"] = cursor
            began, error = loop.time(), None
            try:
                async with session.get(
                    f"{base}/api/v1/timeline", headers=headers, params=params
                ) as resp:
                    raw = await resp.read()
                    if resp.status == 200:
                        page = json.loads(raw)
                        page_ids = [i["id"] for i in page["items"]]
                        cursor = page["next_cursor"]
                        depth = depth + 1 if follow_cursor else 0
                    else:
                        error = f"{resp.status} {raw.decode(errors='replace')}"
                        cursor, depth = None, 0
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                error = f"exception {exc!r}"
                cursor, depth = None, 0
            note("timeline", began, loop.time(), error)

    timeout = aiohttp.ClientTimeout(total=60)
    # idle pooled connections are dropped before uvicorn's 5 s keep-alive ends them, else
    # a POST can go out on a socket the server is closing (a reset, not a server error)
    connector = aiohttp.TCPConnector(limit=clients, keepalive_timeout=KEEPALIVE)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(
            *(worker(session, random.Random(seed * 1000 + n)) for n in range(clients))
        )
    return loads


async def floor(base: str, *, clients: int, warmup: float, seconds: float) -> Load:
    """``GET /api/v1/health`` from ``clients`` loops: the floor of the same server."""
    loop = asyncio.get_running_loop()
    record_from = loop.time() + warmup
    stop = record_from + seconds
    load = Load(seconds)

    async def worker(session: aiohttp.ClientSession) -> None:
        while loop.time() < stop:
            began, error = loop.time(), None
            try:
                async with session.get(f"{base}/api/v1/health") as resp:
                    text = await resp.text()
                    if not 200 <= resp.status < 300:
                        error = f"{resp.status} {text}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"exception {exc!r}"
            ended = loop.time()
            if record_from <= began and ended <= stop:
                load.latencies.append(ended - began)
                if error is not None:
                    load.error(error)

    timeout = aiohttp.ClientTimeout(total=60)
    # idle pooled connections are dropped before uvicorn's 5 s keep-alive ends them, else
    # a POST can go out on a socket the server is closing (a reset, not a server error)
    connector = aiohttp.TCPConnector(limit=clients, keepalive_timeout=KEEPALIVE)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(clients)))
    return load


@dataclass
class Run:
    loads: dict[str, Load]
    items_before: int
    items_after: int
    checks: int
    sources_before: int
    sources_after: int
    server_cpu: float
    floor_cpu: float
    feeder_failures: int
    locked_lines: int
    error_lines: int
    tracebacks: Counter[str]


async def measure(
    url: str, token: str, pending: list[str], server: Server, args: argparse.Namespace
) -> Run:
    """The mixed window and then the floor, with the feeder running throughout."""
    engine = get_engine(url)
    with session_scope(engine) as s:
        user = user_store.user_for_token(s, raw=token)
        assert user is not None and user.id is not None
        uid = user.id
    stop = asyncio.Event()
    feeding = asyncio.create_task(feeder(engine, uid, pending, stop))

    async def at_start() -> tuple[tuple[int, int], datetime, float, float]:
        """Counts, time and server CPU when the recorded window opens."""
        await asyncio.sleep(args.warmup)
        mark = datetime.now(UTC), time.perf_counter(), server.cpu_seconds()
        return await asyncio.to_thread(counts, engine), *mark

    start, loads = await asyncio.gather(
        at_start(),
        mixed(
            server.base,
            token,
            clients=args.clients,
            warmup=args.warmup,
            seconds=args.seconds,
            seed=args.seed,
        ),
    )
    (items_before, sources_before), since, wall, cpu = start
    server_cpu = (server.cpu_seconds() - cpu) / (time.perf_counter() - wall)
    items_after, sources_after = counts(engine)
    checks = checks_since(engine, since)
    wall, cpu = time.perf_counter(), server.cpu_seconds()
    loads["health"] = await floor(
        server.base, clients=args.clients, warmup=args.warmup, seconds=args.floor_seconds
    )
    floor_cpu = (server.cpu_seconds() - cpu) / (time.perf_counter() - wall)
    stop.set()
    failures = await feeding
    engine.dispose()
    text = server.log.read_text(errors="replace")
    return Run(
        loads=loads,
        items_before=items_before,
        items_after=items_after,
        checks=checks,
        sources_before=sources_before,
        sources_after=sources_after,
        server_cpu=server_cpu,
        floor_cpu=floor_cpu,
        feeder_failures=failures,
        locked_lines=text.count("database is locked"),
        error_lines=sum(
            1 for line in text.splitlines() if "Traceback" in line or " ERROR " in line
        ),
        tracebacks=tracebacks(text),
    )


def tracebacks(log: str) -> Counter[str]:
    """Each traceback in the server log as its innermost frames in Kith's own code and
    its exception line, counted."""
    found: Counter[str] = Counter()
    lines = log.splitlines()
    for start, line in enumerate(lines):
        if not line.startswith("Traceback"):
            continue
        frames: list[str] = []
        end = start + 1
        while end < len(lines) and (lines[end].startswith(" ") or lines[end] == ""):
            text = lines[end].strip()
            if text.startswith("File ") and ("/app/" in text or "/ingest/" in text):
                path, _, rest = text.partition(", line ")
                name = path.split("/main/", 1)[-1].rstrip('"')
                frames.append(f"{name}:{rest.replace(', in ', ' ')}")
            end += 1
        error = lines[end] if end < len(lines) else "?"
        found[" > ".join(frames[-3:]) + " :: " + error[:200]] += 1
    return found


def wait_for_ingest(url: str, expected: int, limit: float = 120.0) -> tuple[int, float]:
    """Until every source followed at the start has been checked (or ``limit`` s)."""
    engine = get_engine(url)
    started = time.monotonic()
    try:
        while True:
            items, checked = counts(engine)
            if checked >= expected or time.monotonic() - started > limit:
                return items, time.monotonic() - started
            time.sleep(0.5)
    finally:
        engine.dispose()


def report(run: Run, args: argparse.Namespace) -> None:
    head = (
        f"{'kind':<9} {'requests':>8} {'req/s':>7} {'errors':>6} | {'p50 ms':>7} "
        f"{'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    )
    print(
        f"\n{args.clients} clients, {args.seconds:g} s recorded: timeline reads and feedback "
        f"writes ~70/30; then the floor, GET /api/v1/health, {args.floor_seconds:g} s"
    )
    print(head)
    print("-" * len(head))
    for kind in KINDS:
        load = run.loads[kind]
        print(
            f"{kind:<9} {load.requests:>8} {load.rate:>7.1f} {load.errors:>6} | "
            f"{load.percentile(0.5):>7.1f} {load.percentile(0.95):>7.1f} "
            f"{load.percentile(0.99):>7.1f} {load.percentile(1.0):>7.1f}"
        )
    for kind in KINDS:
        for body, n in run.loads[kind].bodies.most_common(5):
            print(f"  {kind} error x{n}: {body}")
    mixed_rate = run.loads["timeline"].rate + run.loads["feedback"].rate
    print(
        f"\ningest during the recorded window: {run.items_after - run.items_before:+,} items "
        f"({run.items_before:,} -> {run.items_after:,}), {run.checks} sources checked since "
        f"it began, sources ever checked {run.sources_before} -> {run.sources_after}"
    )
    print(
        f"server CPU (share of one core): mixed {run.server_cpu:.0%} at {mixed_rate:.1f} req/s, "
        f"floor {run.floor_cpu:.0%}; feeder writes that failed: {run.feeder_failures}"
    )
    print(
        f"server log: {run.locked_lines} 'database is locked' mentions, "
        f"{run.error_lines} ERROR/Traceback lines"
    )
    for where, n in run.tracebacks.most_common(5):
        print(f"  traceback x{n}: {where}")
    t, h = run.loads["timeline"], run.loads["health"]
    f = run.loads["feedback"]
    print(
        f"\ntimeline p99 / health p99: {t.percentile(0.99) / h.percentile(0.99):.2f}   "
        f"feedback p99 / health p99: {f.percentile(0.99) / h.percentile(0.99):.2f}"
    )
    errors = sum(run.loads[k].errors for k in KINDS)
    verdict = "PASS" if errors == 0 and t.requests and f.requests else "FAIL"
    print(f"errors: {errors} {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="recorded mixed load")
    parser.add_argument("--clients", type=int, default=64, help="concurrent client loops")
    parser.add_argument("--warmup", type=float, default=3.0, help="unrecorded, before each")
    parser.add_argument("--floor-seconds", type=float, default=10.0, help="recorded floor")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"{os.cpu_count()} cores shared by the client, kith serve (uvicorn + in-process "
        "scheduler) and the feed farm"
    )
    work = Path(tempfile.mkdtemp(prefix="kith-bench-load-"))
    farm = Farm(feeds=FEEDS, entries=ENTRIES).start()
    try:
        url = f"sqlite:///{work / 'kith.db'}"
        token, pending = seed(url, farm)
        initial = len(farm.urls) - len(pending)
        with serving(url, farm, work) as server:
            items, took = wait_for_ingest(url, initial)
            print(
                f"farm: {len(farm.urls)} feeds x {ENTRIES} entries; {initial} followed and "
                f"ingested before the load ({items:,} items, {took:.1f} s), {len(pending)} "
                f"followed during it; all due again every {POKE_EVERY:g} s",
                flush=True,
            )
            run = asyncio.run(measure(url, token, pending, server, args))
        report(run, args)
    finally:
        farm.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
