"""Timeline API throughput and latency against a trivial endpoint on the same server.

    .venv/bin/python -m bench.api [--sizes 10000,100000,1000000] [--seconds 10] [--warmup 2]

For each size a fresh SQLite file (migrated with ``upgrade_database``) gets one user with
an API token, 1,000 people (one identity and one feed each) and N items spread over a
year, with 1-3 KB of sanitized-looking HTML, tags and a stored score (``rank_key`` =
``ranking.model.provisional_key(published)`` plus a per-person and a per-item offset,
``why`` to match, ``scored_at`` set); two high-affinity people are muted and some items,
many of them near the top, are hidden. Then ``bench/api_app.py`` serves it from one
uvicorn process, and an aiohttp client (keep-alive, 32 connections, 32 loops) drives,
``--warmup`` seconds unrecorded and then ``--seconds`` recorded, in turn:

- ``GET /bench/constant``: the trivial FastAPI endpoint of the target: an ``async def``
  returning a real 50-item timeline page (captured from the same server just before) as
  constant Python data, which FastAPI encodes as it does for any endpoint;
- ``GET /bench/raw``: the same page as ready-made bytes: the floor of server + framework
  + middleware for a body of that size (reported, not a target: no route that reads a
  database and encodes a page can come near half of it; see docs/design-notes.md);
- ``GET /api/v1/timeline?limit=50``: the first page (the headline figures);
- the timeline paged: each loop follows ``next_cursor`` to page 5 and starts again;
  latency is that of pages 2-5, req/s counts every page;
- the first page again over one connection: the service time, without the queueing
  that makes up most of the latency at 32 connections.

Any answer other than 200 is an error; the CPU each side used is printed too (a server
at 100% of its core is the bottleneck, not the client). Targets: at 100,000 items the
timeline's req/s is at least half the constant route's (its share of the raw floor is
printed beside it); p50 at 1,000,000 items is at
most 1.5x p50 at 10,000. The client shares the machine with the server (each is pinned
to its own core when there are two or more). Exits 0 either way: this is a benchmark,
not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import event, insert, select, update
from sqlmodel import SQLModel

from app.db import get_engine, session_scope, upgrade_database
from app.models import Feedback, Identity, Item, Person, Source
from app.storage import items as item_store
from app.storage import users as user_store
from bench.cluster import cpu_seconds, percentile_ms, stop_process, wait_for_health
from ranking.model import provisional_key

PEOPLE = 1000
LIMIT = 50
CONNECTIONS = 32
DEEP_PAGES = 5
CHUNK = 10_000
_FIRST = (
    "Ada Ben Chloe Dara Emil Fatou Goran Hana Ivo Jun Kofi Lena Mira Nils Olu Pia Quinn "
    "Rafa Sena Timo Uma Vera Wim Xia Yusuf Zoe Aiko Bruno Cleo Dmitri Elif Femi Greta "
    "Hugo Ines Jonas Kaia Luca Maren Nadia"
)
_LAST = (
    "Abara Berg Costa Dahl Eze Fuchs Garcia Holm Ito Jansen Kowalski Lind Moreau Novak "
    "Okafor Petrov Quist Rossi Sato Tan Ueda Varga Weber Yilmaz Zhou"
)
_WORDS = (
    "garden ferry bread lighthouse river letter kitchen harbour orchard bicycle lantern "
    "market winter island meadow chapter festival violin tide pottery sourdough trail "
    "mountain choir workshop library apricot compost telescope quilt"
)
FIRST, LAST, WORDS = _FIRST.split(), _LAST.split(), _WORDS.split()
PERSON, IDENTITY, SOURCE, ITEM = (
    SQLModel.metadata.tables[name] for name in ("person", "identity", "source", "item")
)


@dataclass(frozen=True, slots=True)
class Seeded:
    """A seeded database: its URL, the user's raw API token, items, seconds to seed."""

    url: str
    token: str
    items: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Load:
    """Requests of one kind completed in the recorded window."""

    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the recorded latencies, in milliseconds."""
        return percentile_ms(self.latencies, q)


@dataclass(frozen=True, slots=True)
class Phase:
    """One endpoint driven: first pages, deeper pages, and how busy each side was (the
    share of one core, over warm-up and recording)."""

    first: Load
    deeper: Load
    server_cpu: float
    client_cpu: float


@dataclass(frozen=True, slots=True)
class Result:
    """One size's figures."""

    seeded: Seeded
    plan: list[str]
    page_bytes: int
    constant: Phase
    raw: Phase
    timeline: Phase
    paged: Phase
    single: Phase


def sentence(rng: random.Random, words: int) -> str:
    """A capitalised run of random words."""
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()


def html_pool(rng: random.Random, size: int = 256) -> list[str]:
    """Bodies of 1-3 KB shaped like nh3's output: paragraphs, links, emphasis, a list."""
    pool = []
    for n in range(size):
        target = rng.randint(1000, 3000)
        parts: list[str] = []
        while sum(map(len, parts)) < target:
            kind = rng.random()
            if kind < 0.15:
                items = "".join(f"<li>{sentence(rng, rng.randint(3, 8))}</li>" for _ in range(3))
                parts.append(f"<ul>{items}</ul>")
            elif kind < 0.3:
                parts.append(
                    f'<p>{sentence(rng, 8)} <a href="https://example.org/{n}/{len(parts)}" '
                    f'rel="noopener noreferrer">{sentence(rng, 3)}</a> '
                    f"<em>{rng.choice(WORDS)}</em>.</p>"
                )
            else:
                parts.append(f"<p>{sentence(rng, rng.randint(12, 40))}.</p>")
        pool.append("".join(parts))
    return pool


def seed(path: Path, items: int, rng: random.Random, *, analyze: bool) -> Seeded:
    """A fresh database at ``path`` with one user, its people, their feeds and items."""
    started = time.perf_counter()
    url = f"sqlite:///{path}"
    upgrade_database(url)
    engine = get_engine(url)
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        user = user_store.create_user(s, name="bench")
        assert user.id is not None
        uid = user.id
        _, token = user_store.create_token(s, user_id=uid)
    names = [f"{FIRST[n % len(FIRST)]} {LAST[n // len(FIRST) % len(LAST)]}" for n in range(PEOPLE)]
    with engine.begin() as conn:
        conn.execute(
            insert(Person), [{"user_id": uid, "name": name, "created_at": now} for name in names]
        )
        pids: list[int] = list(conn.scalars(select(PERSON.c.id).order_by(PERSON.c.id)))
        sites = {pid: f"https://p{pid}.example" for pid in pids}
        conn.execute(
            insert(Identity),
            [
                {
                    "user_id": uid,
                    "person_id": pid,
                    "kind": "url",
                    "value": sites[pid],
                    "display_name": name,
                    "created_at": now,
                }
                for pid, name in zip(pids, names, strict=True)
            ],
        )
        conn.execute(
            insert(Source),
            [
                {
                    "user_id": uid,
                    "url": f"{sites[pid]}/feed.xml",
                    "kind": "feed",
                    "title": f"{name}\u2019s blog",
                    "site_url": sites[pid],
                    "next_check_at": now + timedelta(days=1),
                    "last_success_at": now,
                    "created_at": now,
                }
                for pid, name in zip(pids, names, strict=True)
            ],
        )
        identity: dict[int, int] = {
            pid: iid for pid, iid in conn.execute(select(IDENTITY.c.person_id, IDENTITY.c.id))
        }
        source: dict[int, int] = {
            pid: sid
            for pid, sid in conn.execute(
                select(IDENTITY.c.person_id, SOURCE.c.id).join(
                    SOURCE, SOURCE.c.site_url == IDENTITY.c.value
                )
            )
        }
    affinity = {pid: max(-2.0, min(2.0, rng.gauss(0, 0.8))) for pid in pids}
    by_name = dict(zip(pids, names, strict=True))
    bodies = html_pool(rng)
    titles = [sentence(rng, rng.randint(3, 9)) for _ in range(1024)]
    tag_sets = [rng.sample(WORDS, rng.randint(1, 3)) for _ in range(1024)]
    # published oldest first, so ids grow with time as they do when feeds are polled
    ages = sorted((rng.uniform(0, 365) for _ in range(items)), reverse=True)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA cache_size=-262144")
        for start in range(0, items, CHUNK):
            rows = []
            for n in range(start, min(start + CHUNK, items)):
                pid = rng.choice(pids)
                published = now - timedelta(days=ages[n])
                tags = tag_sets[rng.randrange(len(tag_sets))]
                extra = round(rng.uniform(-1.0, 1.0), 4)
                link = f"{sites[pid]}/{published:%Y/%m}/{n}"
                rows.append(
                    {
                        "user_id": uid,
                        "source_id": source[pid],
                        "dedupe_key": link,
                        "url": link,
                        "title": f"{titles[rng.randrange(len(titles))]} ({n})",
                        "content": f"<p>Post {n}.</p>" + bodies[rng.randrange(len(bodies))],
                        "content_hash": f"{n:064x}",
                        "published": published,
                        "fetched_at": published + timedelta(minutes=20),
                        "author_name": by_name[pid],
                        "identity_id": identity[pid],
                        "tags": tags,
                        "language": "en",
                        "rank_key": provisional_key(published) + affinity[pid] + extra,
                        "why": [
                            [
                                "affinity",
                                f"you often open {by_name[pid].split()[0]}\u2019s posts",
                                round(affinity[pid], 4),
                            ],
                            ["item", f"posts tagged {tags[0]}", extra],
                        ],
                        "scored_at": now,
                    }
                )
            conn.execute(insert(Item), rows)
            conn.commit()
        muted = sorted(pids, key=affinity.__getitem__)[-2:]
        conn.execute(update(PERSON).where(PERSON.c.id.in_(muted)).values(muted=True))
        top = conn.scalars(select(ITEM.c.id).order_by(ITEM.c.rank_key.desc()).limit(40 * LIMIT))
        # a fresh database: the item ids are 1..items
        hidden = set(list(top)[::9]) | set(rng.sample(range(1, items + 1), items // 1000))
        seen = rng.sample(range(1, items + 1), items // 50)
        feedback = [
            {"user_id": uid, "item_id": i, "action": "hide", "at": now, "learned": True}
            for i in sorted(hidden)
        ] + [
            {
                "user_id": uid,
                "item_id": i,
                "action": "seen" if k % 4 else "open",
                "rank": k % 30 + 1,
                "at": now,
                "learned": True,
            }
            for k, i in enumerate(seen)
        ]
        for start in range(0, len(feedback), CHUNK):
            conn.execute(insert(Feedback), feedback[start : start + CHUNK])
        if analyze:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return Seeded(url=url, token=token, items=items, seconds=time.perf_counter() - started)


def query_plan(seeded: Seeded) -> list[str]:
    """SQLite's plan for the first page's query as ``read_timeline`` builds it, minus the
    primary-key lookups."""
    engine = get_engine(seeded.url)
    statements: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with session_scope(engine) as s:
            user = user_store.user_for_token(s, raw=seeded.token)
            assert user is not None and user.id is not None
            item_store.read_timeline(s, user_id=user.id, limit=LIMIT)
        statement, parameters = next(
            (st, p) for st, p in statements if st.lstrip().startswith("SELECT") and "item" in st
        )
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
        engine.dispose()
    return [row[3] for row in rows if "PRIMARY KEY" not in row[3]]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Server:
    """A running ``bench.api_app``: its base URL, its process id, and the file its
    constant route answers (written before that route is first asked)."""

    base: str
    pid: int
    constant: Path

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        return cpu_seconds(self.pid)


@contextmanager
def serving(seeded: Seeded, work: Path, *, cpu: int | None) -> Iterator[Server]:
    """Run ``bench.api_app`` on a loopback port (pinned to ``cpu``) until the block ends."""
    port = free_port()
    constant = work / "constant.json"
    log = work / "server.log"
    cmd = [sys.executable, "-m", "bench.api_app", "--database-url", seeded.url]
    cmd += ["--constant", str(constant), "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        if cpu is not None:
            os.sched_setaffinity(proc.pid, {cpu})
        base = f"http://127.0.0.1:{port}"
        wait_for_health(base, proc, log)
        yield Server(base=base, pid=proc.pid, constant=constant)
    finally:
        stop_process(proc)


def fetch_page(base: str, token: str) -> bytes:
    """The first timeline page, as the server sends it."""
    request = urllib.request.Request(
        f"{base}/api/v1/timeline?limit={LIMIT}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        body: bytes = resp.read()
        return body


async def drive(
    url: str, *, token: str, pages: int, connections: int, warmup: float, seconds: float
) -> tuple[Load, Load]:
    """``connections`` loops request ``url``, following ``next_cursor`` up to ``pages``
    pages before starting again; returns what first pages and deeper pages did in the
    recorded window (requests started after the warm-up and completed before its end)."""
    loop = asyncio.get_running_loop()
    record_from = loop.time() + warmup
    stop = record_from + seconds
    counts = [[0, 0], [0, 0]]  # [first, deeper] x [requests, errors]
    latencies: tuple[list[float], list[float]] = ([], [])
    headers = {"Authorization": f"Bearer {token}"}

    async def worker(session: aiohttp.ClientSession) -> None:
        while loop.time() < stop:
            cursor: str | None = None
            for page in range(pages):
                params = {"limit": str(LIMIT)} | ({"cursor": cursor} if cursor else {})
                began = loop.time()
                try:
                    async with session.get(url, headers=headers, params=params) as resp:
                        body = await resp.read()
                        ok = resp.status == 200
                except aiohttp.ClientError:
                    body, ok = b"", False
                ended = loop.time()
                if record_from <= began and ended <= stop:
                    kind = min(page, 1)
                    counts[kind][0] += 1
                    counts[kind][1] += not ok
                    latencies[kind].append(ended - began)
                if not ok or page + 1 == pages or ended > stop:
                    break
                cursor = json.loads(body)["next_cursor"]
                if cursor is None:
                    break

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    first, deeper = (
        Load(requests=c[0], errors=c[1], seconds=seconds, latencies=lat)
        for c, lat in zip(counts, latencies, strict=True)
    )
    return first, deeper


def measure(
    seeded: Seeded, work: Path, *, warmup: float, seconds: float, cpu: int | None
) -> Result:
    """Serve one seeded database; drive the constant route, then the timeline: first
    pages, paged, and first pages over one connection."""
    with serving(seeded, work, cpu=cpu) as server:
        page = fetch_page(server.base, seeded.token)
        server.constant.write_bytes(page)

        def phase(path: str, *, pages: int = 1, connections: int = CONNECTIONS) -> Phase:
            """Drive one endpoint; note how busy the server and this client were."""
            wall, server_cpu, client_cpu = (
                time.perf_counter(),
                server.cpu_seconds(),
                time.process_time(),
            )
            first, deeper = asyncio.run(
                drive(
                    server.base + path,
                    token=seeded.token,
                    pages=pages,
                    connections=connections,
                    warmup=warmup,
                    seconds=seconds,
                )
            )
            wall = time.perf_counter() - wall
            return Phase(
                first=first,
                deeper=deeper,
                server_cpu=(server.cpu_seconds() - server_cpu) / wall,
                client_cpu=(time.process_time() - client_cpu) / wall,
            )

        return Result(
            seeded=seeded,
            plan=query_plan(seeded),
            page_bytes=len(page),
            constant=phase("/bench/constant"),
            raw=phase("/bench/raw"),
            timeline=phase("/api/v1/timeline"),
            paged=phase("/api/v1/timeline", pages=DEEP_PAGES),
            single=phase("/api/v1/timeline", connections=1),
        )


def ratio(timeline: Load, constant: Load) -> float:
    """Timeline req/s over constant req/s (NaN when the constant route served nothing)."""
    return timeline.rate / constant.rate if constant.requests else float("nan")


def report(results: list[Result]) -> None:
    """The table, the deeper pages, errors and CPU, then the targets."""
    head = (
        f"{'items':>9} {'seed s':>7} | {'timeline req/s':>14} {'p50 ms':>7} {'p99 ms':>7} | "
        f"{'constant req/s':>14} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5} | "
        f"{'raw req/s':>9} {'ratio':>5}"
    )
    print(
        f"\nfirst page: GET /api/v1/timeline?limit={LIMIT} vs GET /bench/constant (FastAPI "
        "encodes the same page from data) and GET /bench/raw (the same page as bytes)"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        t, c, raw = r.timeline.first, r.constant.first, r.raw.first
        print(
            f"{r.seeded.items:>9,} {r.seeded.seconds:>7.1f} | {t.rate:>14.1f} "
            f"{t.percentile(0.5):>7.1f} {t.percentile(0.99):>7.1f} | {c.rate:>14.1f} "
            f"{c.percentile(0.5):>7.1f} {c.percentile(0.99):>7.1f} | {ratio(t, c):>5.2f} | "
            f"{raw.rate:>9.1f} {ratio(t, raw):>5.2f}"
        )
    print(
        f"\npaged: each loop follows next_cursor to page {DEEP_PAGES}; req/s counts every page, "
        f"p50/p99 are pages 2-{DEEP_PAGES}"
    )
    for r in results:
        first, deeper = r.paged.first, r.paged.deeper
        print(
            f"{r.seeded.items:>9,}  req/s {first.rate + deeper.rate:6.1f}  "
            f"p50 {deeper.percentile(0.5):6.1f} ms  p99 {deeper.percentile(0.99):6.1f} ms"
        )
    print("\none connection: first pages with no queueing (the service time)")
    for r in results:
        one = r.single.first
        print(
            f"{r.seeded.items:>9,}  req/s {one.rate:6.1f}  p50 {one.percentile(0.5):6.1f} ms  "
            f"p99 {one.percentile(0.99):6.1f} ms"
        )
    print(
        "\nerrors (non-200 or failed) constant/raw/first/paged/one, page size, CPU used "
        "(share of one core, server/client)"
    )
    for r in results:
        phases = (
            ("constant", r.constant),
            ("raw", r.raw),
            ("first", r.timeline),
            ("paged", r.paged),
            ("one", r.single),
        )
        errors = "/".join(str(p.first.errors + p.deeper.errors) for _, p in phases)
        cpu = "  ".join(f"{name} {p.server_cpu:.0%}/{p.client_cpu:.0%}" for name, p in phases)
        print(
            f"{r.seeded.items:>9,}  errors {errors}  page {r.page_bytes / 1024:.0f} KiB  cpu {cpu}"
        )
    by_size = {r.seeded.items: r for r in results}
    print("\nquery plan of the first page (EXPLAIN QUERY PLAN, primary-key lookups left out)")
    for r in results:
        print(f"{r.seeded.items:>9,}  {' | '.join(r.plan)}")
    print("\ntargets")
    if 100_000 in by_size:
        r = by_size[100_000]
        share = ratio(r.timeline.first, r.constant.first)
        verdict = "PASS" if share >= 0.5 else "FAIL"
        print(
            f"  timeline req/s / constant req/s at 100,000 items >= 0.5: {share:5.2f}  {verdict}"
            f"  (of the raw floor: {ratio(r.timeline.first, r.raw.first):.2f})"
        )
    else:
        print("  timeline req/s / constant req/s at 100,000 items: not run")
    if 10_000 in by_size and 1_000_000 in by_size:
        small, large = by_size[10_000].timeline.first, by_size[1_000_000].timeline.first
        growth = large.percentile(0.5) / small.percentile(0.5)
        verdict = "PASS" if growth <= 1.5 else "FAIL"
        print(f"  p50 at 1,000,000 items / p50 at 10,000 <= 1.5:          {growth:5.2f}  {verdict}")
    else:
        print("  p50 at 1,000,000 items / p50 at 10,000: not run")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="items per run")
    parser.add_argument("--seconds", type=float, default=10.0, help="recorded per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded, before each")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after seeding")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= 2:
        client_cpu, server_cpu = cores[0], cores[1]
        os.sched_setaffinity(0, {client_cpu})
        where = f"client pinned to core {client_cpu}, server to core {server_cpu}"
    else:
        server_cpu = None
        where = "they take turns on it"
    print(f"{len(cores)} cores: the load client and the server share this machine ({where})")
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    print(
        f"server: bench.api_app, one uvicorn process ({http}, {loop}) with kith serve's "
        f"settings, no scheduler; client: aiohttp, {CONNECTIONS} connections, "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s recorded per endpoint"
    )
    results = []
    for items in sizes:
        work = Path(tempfile.mkdtemp(prefix="kith-bench-api-"))
        try:
            seeded = seed(work / "kith.db", items, random.Random(items), analyze=args.analyze)
            print(f"seeded {items:,} items in {seeded.seconds:.1f} s", flush=True)
            results.append(
                measure(seeded, work, warmup=args.warmup, seconds=args.seconds, cpu=server_cpu)
            )
        except Exception as exc:  # one size failing does not lose the others' figures
            print(f"{items:,} items: failed: {exc!r}", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    report(results)
    print(f"\ntotal: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
