"""Timeline API throughput and latency against a plain FastAPI endpoint, side by side.

    .venv/bin/python -m bench.api [--sizes 10000,100000,1000000] [--seconds 10] [--warmup 2]
                                  [--rounds 2]

For each size ``bench/api_seed.py`` seeds a fresh SQLite database (1,000 people, N items
of 1-3 KB HTML, muted people, hidden items). Two servers then run, one process each,
both started by ``bench/api_app.py`` with ``kith serve``'s uvicorn options and pinned to
the same core:

- Kith (``app.main.create_app``, no scheduler): ``GET /api/v1/timeline?limit=50``;
- the reference of issue 17: a plain FastAPI app whose synchronous ``def`` returns a
  constant dict of 50 items shaped like Kith's (a few hundred bytes of HTML each),
  default response class.

One aiohttp client (keep-alive, 32 connections, 32 loops) drives them alternately,
``--rounds`` times each (ABBA order: reference, Kith, Kith, reference ...), ``--warmup``
seconds unrecorded and ``--seconds`` recorded per phase; the ratio is Kith's req/s over
the reference's in the same rounds, and the per-round ratios are printed as the spread.
Then the timeline paged (each loop follows ``next_cursor`` to page 5; latency of pages
2-5) and over one connection (the service time, no queueing).

Any answer other than 200 is an error; the CPU each side used is printed (a server at
100% of its core is the bottleneck, not the client). Targets: at 100,000 and 1,000,000
items the timeline's req/s is at least 0.8x the reference's; p50 at 32 connections stays
within 1.2x of the 10,000-item p50 up to 1,000,000. Exits 0 either way: a benchmark,
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
from pathlib import Path

import aiohttp

from bench.api_seed import LIMIT, Seeded, query_plan, seed
from bench.cluster import cpu_seconds, percentile_ms, stop_process, wait_for_health

CONNECTIONS = 32
DEEP_PAGES = 5
TIMELINE = "/api/v1/timeline"
REFERENCE = "/reference"


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

    def __add__(self, other: Load) -> Load:
        return Load(
            self.requests + other.requests,
            self.errors + other.errors,
            self.seconds + other.seconds,
            self.latencies + other.latencies,
        )


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
    """One size's figures: the alternating rounds, then the timeline paged and alone."""

    seeded: Seeded
    plan: list[str]
    page_bytes: int
    reference_bytes: int
    reference: list[Phase]
    timeline: list[Phase]
    paged: Phase
    single: Phase

    def total(self, phases: list[Phase]) -> Load:
        load = phases[0].first
        for p in phases[1:]:
            load = load + p.first
        return load

    def ratios(self) -> list[float]:
        return [ratio(t.first, r.first) for t, r in zip(self.timeline, self.reference, strict=True)]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Server:
    """A running ``bench.api_app``: its base URL and process id."""

    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        return cpu_seconds(self.pid)


@contextmanager
def serving(args: list[str], log: Path, *, cpu: int | None) -> Iterator[Server]:
    """Run ``bench.api_app ARGS`` on a loopback port (pinned to ``cpu``) until the end."""
    port = free_port()
    cmd = [sys.executable, "-m", "bench.api_app", *args, "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        if cpu is not None:
            os.sched_setaffinity(proc.pid, {cpu})
        base = f"http://127.0.0.1:{port}"
        wait_for_health(base, proc, log)
        yield Server(base=base, pid=proc.pid)
    finally:
        stop_process(proc)


def fetch(url: str, token: str) -> bytes:
    """One answer, as the server sends it."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
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


def phase(
    server: Server,
    path: str,
    token: str,
    *,
    warmup: float,
    seconds: float,
    pages: int = 1,
    connections: int = CONNECTIONS,
) -> Phase:
    """Drive one endpoint; note how busy the server and this client were."""
    wall, server_cpu, client_cpu = time.perf_counter(), server.cpu_seconds(), time.process_time()
    first, deeper = asyncio.run(
        drive(
            server.base + path,
            token=token,
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


def measure(
    seeded: Seeded, work: Path, *, warmup: float, seconds: float, rounds: int, cpu: int | None
) -> Result:
    """Serve one seeded database beside the reference; drive them alternately, then the
    timeline paged and over one connection."""
    kith_args = ["kith", "--database-url", seeded.url]
    with (
        serving(kith_args, work / "kith.log", cpu=cpu) as kith,
        serving(["reference"], work / "reference.log", cpu=cpu) as ref,
    ):
        page = fetch(kith.base + f"{TIMELINE}?limit={LIMIT}", seeded.token)
        reference_page = fetch(ref.base + REFERENCE, seeded.token)
        reference: list[Phase] = []
        timeline: list[Phase] = []
        for n in range(rounds):
            order = [(ref, REFERENCE, reference), (kith, TIMELINE, timeline)]
            for server, path, out in order if n % 2 == 0 else order[::-1]:
                out.append(phase(server, path, seeded.token, warmup=warmup, seconds=seconds))
        return Result(
            seeded=seeded,
            plan=query_plan(seeded),
            page_bytes=len(page),
            reference_bytes=len(reference_page),
            reference=reference,
            timeline=timeline,
            paged=phase(
                kith, TIMELINE, seeded.token, pages=DEEP_PAGES, warmup=warmup, seconds=seconds
            ),
            single=phase(
                kith, TIMELINE, seeded.token, connections=1, warmup=warmup, seconds=seconds
            ),
        )


def ratio(timeline: Load, reference: Load) -> float:
    """Timeline req/s over reference req/s (NaN when the reference served nothing)."""
    return timeline.rate / reference.rate if reference.requests else float("nan")


def report(results: list[Result]) -> None:
    """The table, the rounds, the deeper pages, errors and CPU, then the targets."""
    head = (
        f"{'items':>9} {'seed s':>7} | {'timeline req/s':>14} {'p50 ms':>7} {'p99 ms':>7} | "
        f"{'reference req/s':>15} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5} | per round"
    )
    print(
        f"\nfirst page: GET {TIMELINE}?limit={LIMIT} vs the plain endpoint (GET {REFERENCE}), "
        f"{CONNECTIONS} connections, all rounds"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        t, c = r.total(r.timeline), r.total(r.reference)
        rounds = " ".join(f"{x:.2f}" for x in r.ratios())
        print(
            f"{r.seeded.items:>9,} {r.seeded.seconds:>7.1f} | {t.rate:>14.1f} "
            f"{t.percentile(0.5):>7.1f} {t.percentile(0.99):>7.1f} | {c.rate:>15.1f} "
            f"{c.percentile(0.5):>7.1f} {c.percentile(0.99):>7.1f} | {ratio(t, c):>5.2f} | "
            f"{rounds}"
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
    print("\nerrors (non-200 or failed), page sizes, CPU used (share of one core, server/client)")
    for r in results:
        phases = [*r.reference, *r.timeline, r.paged, r.single]
        errors = sum(p.first.errors + p.deeper.errors for p in phases)
        cpu = "  ".join(
            f"{name} {p.server_cpu:.0%}/{p.client_cpu:.0%}"
            for name, p in (("reference", r.reference[0]), ("timeline", r.timeline[0]))
        )
        print(
            f"{r.seeded.items:>9,}  errors {errors}  page {r.page_bytes / 1024:.0f} KiB "
            f"(reference {r.reference_bytes / 1024:.0f} KiB)  cpu {cpu}"
        )
    print("\nquery plan of the first page (EXPLAIN QUERY PLAN, primary-key lookups left out)")
    for r in results:
        print(f"{r.seeded.items:>9,}  {' | '.join(r.plan)}")
    targets(results)


def targets(results: list[Result]) -> None:
    """The issue's targets: the ratio at 100k and 1M, p50 growth from 10k."""
    by_size = {r.seeded.items: r for r in results}
    print("\ntargets")
    for size in (100_000, 1_000_000):
        if size not in by_size:
            print(f"  timeline / reference req/s at {size:,} items: not run")
            continue
        r = by_size[size]
        share = ratio(r.total(r.timeline), r.total(r.reference))
        spread = f"rounds {min(r.ratios()):.2f}-{max(r.ratios()):.2f}"
        verdict = "PASS" if share >= 0.8 else "FAIL"
        print(
            f"  timeline / reference req/s at {size:>9,} items >= 0.8: {share:5.2f}  {verdict}"
            f"  ({spread})"
        )
    if 10_000 not in by_size:
        print("  p50 growth from 10,000 items: not run")
        return
    small = by_size[10_000].total(by_size[10_000].timeline).percentile(0.5)
    for size in (100_000, 1_000_000):
        if size in by_size:
            large = by_size[size].total(by_size[size].timeline).percentile(0.5)
            growth = large / small
            verdict = "PASS" if growth <= 1.2 else "FAIL"
            print(f"  p50 at {size:>9,} items / p50 at 10,000 <= 1.2:  {growth:5.2f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="items per run")
    parser.add_argument("--seconds", type=float, default=10.0, help="recorded per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded, before each")
    parser.add_argument("--rounds", type=int, default=2, help="phases of each side, alternated")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after seeding")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= 2:
        client_cpu, server_cpu = cores[0], cores[1]
        os.sched_setaffinity(0, {client_cpu})
        where = f"client pinned to core {client_cpu}, both servers to core {server_cpu}"
    else:
        server_cpu = None
        where = "they take turns on it"
    print(f"{len(cores)} cores: the load client and the servers share this machine ({where})")
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    print(
        f"servers: bench.api_app kith / reference, one uvicorn process each ({http}, {loop}) "
        f"with kith serve's options; client: aiohttp, {CONNECTIONS} connections, "
        f"{args.rounds} rounds of {args.warmup:g} s warm-up + {args.seconds:g} s recorded"
    )
    results = []
    for items in sizes:
        work = Path(tempfile.mkdtemp(prefix="kith-bench-api-"))
        try:
            seeded = seed(work / "kith.db", items, random.Random(items), analyze=args.analyze)
            print(f"seeded {items:,} items in {seeded.seconds:.1f} s", flush=True)
            results.append(
                measure(
                    seeded,
                    work,
                    warmup=args.warmup,
                    seconds=args.seconds,
                    rounds=args.rounds,
                    cpu=server_cpu,
                )
            )
        except Exception as exc:  # one size failing does not lose the others' figures
            print(f"{items:,} items: failed: {exc!r}", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    report(results)
    print(f"\ntotal: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
