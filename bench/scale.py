"""Scale-out throughput: entries/s with 1, 2 and 4 ``kith worker`` processes.

    .venv/bin/python -m bench.scale [--feeds 500] [--entries 20] [--workers 1,2,4]

One loopback farm (``bench/farm.py``, a separate process) serves ``--feeds`` feeds of
``--entries`` entries each. For each worker count a fresh PostgreSQL database gets one
user following every feed, a fresh redis-server starts on its own port, and a ``kith
scheduler`` plus N ``kith worker --concurrency 2`` processes ingest the farm until every
source is fetched. The same farm is also ingested by the embedded default (the
scheduler running the tasks in its own process, no broker) on PostgreSQL: the floor.

Printed per run: seconds from the first lease (processes already started) to the last
source fetched, entries stored,
entries/s, the speed-up over one worker and over the embedded run, and the check that
nothing was lost or duplicated (every source fetched, every entry stored exactly once).
On a 2-core machine the point is that throughput grows until the cores run out and
never loses or duplicates, not the absolute figure. Needs PostgreSQL on 127.0.0.1:5432
(or ``KITH_TEST_POSTGRES_URL``) and a ``redis-server`` binary. Exits 0: a benchmark,
not a test.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bench.cluster import (
    Cluster,
    RedisServer,
    cluster_env,
    create_database,
    drop_database,
    free_port,
    seed_sources,
)
from bench.farm import Farm

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Run:
    label: str
    seconds: float
    entries: int
    fetched: int
    duplicates: int

    @property
    def rate(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


def _state(engine: sa.Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        fetched = conn.exec_driver_sql(
            "SELECT count(*) FROM source WHERE last_success_at IS NOT NULL"
        ).scalar_one()
        total, distinct = conn.exec_driver_sql(
            "SELECT count(*), count(DISTINCT (source_id, dedupe_key)) FROM item"
        ).one()
    return int(fetched), int(total), int(total) - int(distinct)


def _leased(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.exec_driver_sql(
                "SELECT count(*) FROM source WHERE lease_owner IS NOT NULL "
                "OR last_success_at IS NOT NULL"
            ).scalar_one()
        )


def run_once(admin: str, farm: Farm, *, workers: int, timeout: float) -> Run:
    url = create_database(admin, prefix="kith_bench_scale")
    redis = RedisServer(port=free_port()).start() if workers else None
    work = Path(tempfile.mkdtemp(prefix="kith-bench-scale-"))
    engine = sa.create_engine(url)
    try:
        seed_sources(url, farm)
        env = cluster_env(
            url,
            redis.url if redis else "",
            farm,
            KITH_LEASE_SECONDS="60",
            KITH_BATCH_SIZE="20",
            KITH_FETCH_PER_HOST="1000",  # one host serves the farm: no politeness cap here
        )
        if not workers:
            env.pop("KITH_BROKER_URL")  # the embedded default: tasks run in the scheduler
        cluster = Cluster(env=env, work=work)
        try:
            for n in range(workers):
                cluster.start(f"worker{n}", "worker", "--concurrency", "2")
            deadline = time.perf_counter() + 60
            while time.perf_counter() < deadline and not all(
                "taking tasks" in cluster.log(f"worker{n}") for n in range(workers)
            ):
                time.sleep(0.1)
            cluster.start("scheduler", "scheduler")
            # the clock starts at the first lease: process start-up is not throughput
            while time.perf_counter() < deadline and not _leased(engine):
                time.sleep(0.02)
            started = time.perf_counter()
            fetched = 0
            while time.perf_counter() - started < timeout:
                fetched, _, _ = _state(engine)
                if fetched >= farm.feeds:
                    break
                time.sleep(0.05)
            seconds = time.perf_counter() - started
        finally:
            cluster.stop_all()
        fetched, entries, duplicates = _state(engine)
        label = f"{workers} worker{'s' if workers != 1 else ''}" if workers else "embedded"
        return Run(label, seconds, entries, fetched, duplicates)
    finally:
        engine.dispose()
        if redis is not None:
            redis.stop()
        drop_database(admin, url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    admin = os.environ.get("KITH_TEST_POSTGRES_URL", DEFAULT_PG)
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    print(
        f"{os.cpu_count()} cores; farm: {args.feeds} feeds x {args.entries} entries on "
        f"loopback; PostgreSQL; each worker: --concurrency 2; host {socket.gethostname()}"
    )
    farm = Farm(feeds=args.feeds, entries=args.entries).start()
    try:
        runs = [run_once(admin, farm, workers=0, timeout=args.timeout)]
        print(f"  {runs[-1].label}: {runs[-1].seconds:.1f} s", flush=True)
        for n in counts:
            runs.append(run_once(admin, farm, workers=n, timeout=args.timeout))
            print(f"  {runs[-1].label}: {runs[-1].seconds:.1f} s", flush=True)
    finally:
        farm.stop()
    expected = args.feeds * args.entries
    one = next((r for r in runs if r.label == "1 worker"), None)
    head = (
        f"{'run':>10} | {'seconds':>7} {'entries':>8} {'entries/s':>9} | "
        f"{'x 1 worker':>10} {'x embedded':>10} | lost/dup"
    )
    print("\n" + head)
    print("-" * len(head))
    for r in runs:
        vs_one = f"{r.rate / one.rate:10.2f}" if one and one.rate else f"{'-':>10}"
        lost = (expected - r.entries) + (args.feeds - r.fetched)
        print(
            f"{r.label:>10} | {r.seconds:7.1f} {r.entries:8,} {r.rate:9.0f} | {vs_one} "
            f"{r.rate / runs[0].rate:10.2f} | {lost}/{r.duplicates}"
        )
    ok = all(r.entries == expected and r.duplicates == 0 and r.fetched == args.feeds for r in runs)
    print(f"\nnothing lost or duplicated in any run: {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
