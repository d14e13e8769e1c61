"""Scale-out on PostgreSQL and Redis: three ``kith worker`` processes and a ``kith
scheduler`` ingest a loopback farm of 500 feeds on 50 hosts while a worker is SIGKILLed
(or Redis is killed and restarted) mid-run; afterwards every source has been fetched and
every entry is stored exactly once. The database's leases are what make it so: a dead
worker's batch, or a task Redis forgot, is claimed again when its leases run out. The
politeness settings are the defaults (4 requests in flight and 2/s with a burst of 8
per host): no host of the farm saw more, across all workers."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.cluster import Cluster, RedisServer, cluster_env, seed_sources
from bench.farm import Farm

FEEDS = 500
ENTRIES = 8
WORKERS = 3
HOSTS = 50  # 10 feeds a host: at the default 2/s a host's share takes about a second


@pytest.fixture(scope="module")
def farm() -> Iterator[Farm]:
    farm = Farm(feeds=FEEDS, entries=ENTRIES, hosts=HOSTS).start()
    yield farm
    farm.stop()


def fetched(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT count(*) FROM source WHERE last_success_at IS NOT NULL"
            ).scalar_one()
        )


def leases_of(engine: sa.Engine, pid: int) -> int:
    owner = f"{socket.gethostname()}-{pid}:%"
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT count(*) FROM source WHERE lease_owner LIKE %(o)s", {"o": owner}
            ).scalar_one()
        )


def run_farm(
    db_url: str,
    redis: RedisServer,
    farm: Farm,
    work: Path,
    disrupt: Callable[[Cluster, sa.Engine], str],
) -> tuple[Cluster, sa.Engine, str]:
    """Seed, start the cluster, call ``disrupt`` once a fifth of the farm is fetched,
    and wait for every source to be fetched (or 150 s)."""
    seed_sources(db_url, farm)
    farm.stats(reset=True)
    engine = sa.create_engine(db_url)
    cluster = Cluster(env=cluster_env(db_url, redis.url, farm), work=work)
    try:
        for n in range(WORKERS):
            cluster.start(f"worker{n}", "worker", "--concurrency", "2")
        cluster.start("scheduler", "scheduler")
        what = ""
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            done = fetched(engine)
            if not what and done >= FEEDS // 5:
                what = disrupt(cluster, engine)
            if done >= FEEDS:
                break
            time.sleep(0.2)
    finally:
        cluster.stop_all()
    return cluster, engine, what


def check_polite(farm: Farm) -> None:
    """What reached each host stayed within the defaults: 4 open at once, and in any
    window no more than the burst (8) plus 2/s (+1 for the gap between taking a token
    and the request arriving)."""
    stats = farm.stats()
    assert max(stats["most"].values()) <= 4, stats["most"]
    for port, starts in stats["starts"].items():
        times = sorted(starts)
        for i in range(len(times)):
            for j in range(i, len(times)):
                allowed = 8 + 2.0 * (times[j] - times[i]) + 1
                assert j - i + 1 <= allowed, (port, times)


def check_exactly_once(engine: sa.Engine, cluster: Cluster) -> None:
    logs = "\n".join(f"--- {n}\n{cluster.log(n)[-3000:]}" for n in cluster.procs)
    with engine.connect() as conn:
        not_fetched = conn.exec_driver_sql(
            "SELECT count(*) FROM source WHERE last_success_at IS NULL"
        ).scalar_one()
        assert not_fetched == 0, f"{not_fetched} sources never fetched\n{logs}"
        per_source = dict(
            conn.exec_driver_sql("SELECT source_id, count(*) FROM item GROUP BY source_id").all()
        )
        total, distinct = conn.exec_driver_sql(
            "SELECT count(*), count(DISTINCT (source_id, dedupe_key)) FROM item"
        ).one()
        errors = conn.exec_driver_sql(
            "SELECT count(*) FROM source WHERE error_code IS NOT NULL"
        ).scalar_one()
    assert errors == 0, logs
    assert total == distinct == FEEDS * ENTRIES, (total, distinct)
    assert len(per_source) == FEEDS and set(per_source.values()) == {ENTRIES}


def test_a_worker_killed_mid_run_loses_nothing(
    scale_pg: str, redis_server: RedisServer, farm: Farm, tmp_path: Path
) -> None:
    def kill_a_busy_worker(cluster: Cluster, engine: sa.Engine) -> str:
        # a worker that holds leases right now: killing it strands a batch in flight
        for _ in range(200):
            for name in ("worker0", "worker1", "worker2"):
                pid = cluster.procs[name].pid
                held = leases_of(engine, pid)
                if held:
                    os.kill(pid, signal.SIGKILL)
                    return f"{name} killed holding {held} leases"
            time.sleep(0.01)
        return "no worker held a lease"

    cluster, engine, what = run_farm(scale_pg, redis_server, farm, tmp_path, kill_a_busy_worker)
    assert "killed holding" in what, what
    killed = next(p for p in cluster.procs.values() if p.returncode == -signal.SIGKILL)
    assert killed is not None
    check_exactly_once(engine, cluster)
    check_polite(farm)
    engine.dispose()


def test_redis_restarted_mid_run_loses_nothing(
    scale_pg: str, redis_server: RedisServer, farm: Farm, tmp_path: Path
) -> None:
    def restart_redis(cluster: Cluster, engine: sa.Engine) -> str:
        redis_server.stop()  # every queued task is gone with it
        time.sleep(1.0)
        redis_server.start()
        return "redis restarted"

    cluster, engine, what = run_farm(scale_pg, redis_server, farm, tmp_path, restart_redis)
    assert what == "redis restarted"
    check_exactly_once(engine, cluster)
    check_polite(farm)
    engine.dispose()


def test_sigterm_lets_a_worker_finish_and_leaves_no_lease_behind(
    scale_pg: str, redis_server: RedisServer, farm: Farm, tmp_path: Path
) -> None:
    stopped: dict[str, object] = {}

    def stop_a_busy_worker(cluster: Cluster, engine: sa.Engine) -> str:
        for _ in range(200):
            for name in ("worker0", "worker1", "worker2"):
                proc = cluster.procs[name]
                if leases_of(engine, proc.pid):
                    proc.send_signal(signal.SIGTERM)
                    stopped["rc"] = proc.wait(timeout=60)  # within its grace period
                    stopped["left"] = leases_of(engine, proc.pid)
                    stopped["name"] = name
                    return f"{name} stopped"
            time.sleep(0.01)
        return "no worker held a lease"

    cluster, engine, what = run_farm(scale_pg, redis_server, farm, tmp_path, stop_a_busy_worker)
    assert what.endswith("stopped"), what
    assert stopped["rc"] == 0 and stopped["left"] == 0, stopped
    log = cluster.log(str(stopped["name"]))
    assert "stopping;" in log and "0 tasks unfinished" in log, log[-2000:]
    check_exactly_once(engine, cluster)
    check_polite(farm)
    engine.dispose()
