"""Scale-out throughput with the defaults: entries/s with N ``kith worker`` processes.

    .venv/bin/python -m bench.scale [--feeds 300] [--entries 50] [--workers 1,2,3,4]
                                    [--farms one,spread,steady] [--hosts 50] [--stagger 30]

Three loopback farms (``bench/farm.py``, a separate process), each ``--feeds`` feeds of
``--entries`` entries: ``one``, every feed on one host (the feeds of github.com, or the
accounts of one Mastodon instance), and ``spread``, the feeds dealt over ``--hosts``
hosts (ports); ``steady``, the spread farm with the sources falling due one by one over
``--stagger`` seconds (the steady state: a delay there is the scheduler's, not a
backlog's; with a 30 s tick it would be up to 30 s). For each farm and worker count a
fresh PostgreSQL database gets one user following every feed, a fresh redis-server
starts on its own port, and a ``kith scheduler`` plus N ``kith worker`` processes ingest
the farm until every source is fetched; the same farm is also ingested by the embedded
default (the scheduler running the tasks in its own process, no broker) on PostgreSQL.
Nothing is tuned: no politeness, tick, lease, batch, concurrency or parser override, so
both sides obey the default per-host limits (4 requests in flight, 2/s, burst 8) and the
one-host farm is bound by them (300 feeds at 2/s after a burst of 8: at least 146 s on
either side).

Printed per run: seconds from the first lease (processes already started) to the last
source fetched, entries stored, entries/s, the ratio to the embedded run's time on the
same farm, the delay from "source due" (its next check, or the first lease if later) to
its first request reaching the farm (p50/p99), what the busiest host saw (requests open
at once; requests in the busiest 10 s window, against the 8 + 2/s x 10 = 28 allowed),
and the check that nothing was lost or duplicated. Needs PostgreSQL on 127.0.0.1:5432
(or ``KITH_TEST_POSTGRES_URL``) and a ``redis-server`` binary. Exits 0: a benchmark, not
a test.
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
    delays: list[float]  # seconds from due to first request, per source
    most_open: int  # requests open at once at the busiest host
    most_10s: int  # requests in the busiest 10 s window at the busiest host

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


def _due(engine: sa.Engine) -> dict[str, float]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT url, next_check_at FROM source").all()
    return {str(url): when.timestamp() for url, when in rows}


def _window(times: list[float], width: float) -> int:
    """Most of ``times`` inside any window ``width`` seconds long."""
    times = sorted(times)
    best = lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] > width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _stagger(engine: sa.Engine, *, start: float, over: float, feeds: int) -> None:
    """Sources fall due one after another, ``over`` seconds in all from ``start``
    seconds from now: the steady state, where a delay is the scheduler's, not a backlog's."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE source SET next_check_at = now() + make_interval(secs => %(a)s + "
            "(id - (SELECT min(id) FROM source)) * %(b)s)",
            {"a": start, "b": over / max(feeds, 1)},
        )


def run_once(admin: str, farm: Farm, *, workers: int, timeout: float, stagger: float = 0.0) -> Run:
    url = create_database(admin, prefix="kith_bench_scale")
    redis = RedisServer(port=free_port()).start() if workers else None
    work = Path(tempfile.mkdtemp(prefix="kith-bench-scale-"))
    engine = sa.create_engine(url)
    try:
        seed_sources(url, farm)
        if stagger:
            _stagger(engine, start=8.0, over=stagger, feeds=farm.feeds)  # 8 s: start-up
        due = _due(engine)
        farm.stats(reset=True)
        env = cluster_env(url, redis.url if redis else "", farm)
        for name in ("KITH_LEASE_SECONDS", "KITH_PARSE_WORKERS"):  # the defaults, all
            env.pop(name, None)
        if not workers:
            env.pop("KITH_BROKER_URL")  # the embedded default: tasks run in the scheduler
        cluster = Cluster(env=env, work=work)
        try:
            for n in range(workers):
                cluster.start(f"worker{n}", "worker")  # the default --concurrency
            deadline = time.perf_counter() + 60
            while time.perf_counter() < deadline and not all(
                "taking tasks" in cluster.log(f"worker{n}") for n in range(workers)
            ):
                time.sleep(0.1)
            cluster.start("scheduler", "scheduler")
            # the clock starts at the first lease: process start-up is not throughput
            while time.perf_counter() < deadline and not _leased(engine):
                time.sleep(0.02)
            started, started_wall = time.perf_counter(), time.time()
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
        stats = farm.stats()
        delays = [
            first - max(due.get(u, started_wall), started_wall)
            for u, first in stats["first"].items()
        ]
        label = f"{workers} worker{'s' if workers != 1 else ''}" if workers else "embedded"
        return Run(
            label,
            seconds,
            entries,
            fetched,
            duplicates,
            delays,
            max(stats["most"].values()),
            max(_window(t, 10.0) for t in stats["starts"].values()),
        )
    finally:
        engine.dispose()
        if redis is not None:
            redis.stop()
        drop_database(admin, url)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_farm(
    admin: str, name: str, hosts: int, args: argparse.Namespace, stagger: float = 0.0
) -> bool:
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    farm = Farm(feeds=args.feeds, entries=args.entries, hosts=hosts).start()
    due = f", falling due one by one over {stagger:.0f} s" if stagger else ", all due at once"
    print(f"\nfarm '{name}': {args.feeds} feeds x {args.entries} entries on {hosts} host(s){due}")
    try:
        runs = [run_once(admin, farm, workers=0, timeout=args.timeout, stagger=stagger)]
        print(f"  {runs[-1].label}: {runs[-1].seconds:.1f} s", flush=True)
        for n in counts:
            runs.append(run_once(admin, farm, workers=n, timeout=args.timeout, stagger=stagger))
            print(f"  {runs[-1].label}: {runs[-1].seconds:.1f} s", flush=True)
    finally:
        farm.stop()
    expected = args.feeds * args.entries
    floor = 8 + 2.0 * 10  # burst + rate x 10 s: what the defaults allow per host
    head = (
        f"{'run':>10} | {'seconds':>7} {'entries':>8} {'entries/s':>9} | {'time/embedded':>13} | "
        f"{'due->fetch p50/p99 s':>20} | {'host: open, /10s':>16} | lost/dup"
    )
    print(head)
    print("-" * len(head))
    for r in runs:
        lost = (expected - r.entries) + (args.feeds - r.fetched)
        delay = f"{_pct(r.delays, 0.5):.2f} / {_pct(r.delays, 0.99):.2f}"
        host = f"{r.most_open} / 4, {r.most_10s} / {floor:.0f}"
        print(
            f"{r.label:>10} | {r.seconds:7.1f} {r.entries:8,} {r.rate:9.0f} | "
            f"{r.seconds / runs[0].seconds:13.2f} | {delay:>20} | {host:>16} | "
            f"{lost}/{r.duplicates}"
        )
    return all(
        r.entries == expected and r.duplicates == 0 and r.fetched == args.feeds for r in runs
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--workers", default="1,2,3,4")
    parser.add_argument(
        "--farms", default="one,spread,steady", help="steady: 'spread' due one by one"
    )
    parser.add_argument("--stagger", type=float, default=30.0, help="seconds, for 'steady'")
    parser.add_argument("--hosts", type=int, default=50, help="hosts of the 'spread' farm")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    admin = os.environ.get("KITH_TEST_POSTGRES_URL", DEFAULT_PG)
    print(
        f"{os.cpu_count()} cores; loopback farms; PostgreSQL; every setting at its default "
        f"(per host: 4 in flight, 2/s, burst 8); host {socket.gethostname()}"
    )
    ok = True
    for name in [f.strip() for f in args.farms.split(",") if f.strip()]:
        hosts = 1 if name == "one" else args.hosts
        stagger = args.stagger if name == "steady" else 0.0
        ok = bench_farm(admin, name, hosts, args, stagger) and ok
    print(f"\nnothing lost or duplicated in any run: {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
