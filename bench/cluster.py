"""A small cluster for scale-out tests and benchmarks: a redis-server of its own (so
it can be killed and restarted), a PostgreSQL database made for the run, the farm's
feeds as one user's sources, and ``kith scheduler`` / ``kith worker`` processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from app.db import upgrade_database
from app.models import Source
from bench.farm import Farm


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    """A redis-server on a loopback port of its own, no persistence (as CI runs it)."""

    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        exe = shutil.which("redis-server")
        assert exe
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # as a crash: whatever it held is gone
            self.proc.wait()
            self.proc = None


def follow(engine: sa.Engine, uid: int, urls: list[str]) -> None:
    """``uid`` follows ``urls``, all due now (inserted directly: no fetch, no guard)."""
    if not urls:
        return
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Source),
            [
                {
                    "user_id": uid,
                    "url": u,
                    "kind": "comments" if "/comments/" in u else "feed",
                    "next_check_at": now,
                    "created_at": now,
                }
                for u in urls
            ],
        )


def seed_sources(url: str, farm: Farm) -> int:
    """One user following every feed of the farm, all due now; returns the user id."""
    from app.db import get_engine, session_scope
    from app.storage import users as user_store

    engine = get_engine(url)
    with session_scope(engine) as s:
        user = user_store.create_user(s, name="farmer")
        assert user.id is not None
        uid = user.id
    follow(engine, uid, farm.urls)
    return uid


def stop_process(proc: subprocess.Popen[bytes], *, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def percentile_ms(latencies: list[float], q: float) -> float:
    """Nearest-rank percentile of latencies in seconds, in milliseconds (NaN if none)."""
    if not latencies:
        return float("nan")
    ordered = sorted(latencies)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_health(
    base: str, proc: subprocess.Popen[bytes], log: Path, *, timeout: float = 60
) -> None:
    """Wait until ``base``/api/v1/health answers 200; raise with the log if the process
    exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the server did not answer:\n{log.read_text(errors='replace')}"
                ) from None
            time.sleep(0.2)


@dataclass
class Cluster:
    """``kith scheduler`` and ``kith worker`` processes sharing one database and Redis."""

    env: dict[str, str]
    work: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        kith = Path(sys.executable).parent / "kith"
        log = (self.work / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [str(kith), *args], stdout=log, stderr=subprocess.STDOUT, env=self.env
        )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.work / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cluster_env(db_url: str, broker_url: str, farm: Farm, **extra: str) -> dict[str, str]:
    return os.environ | {
        "KITH_DATABASE_URL": db_url,
        "KITH_BROKER_URL": broker_url,
        "KITH_ALLOWED_HOSTS": json.dumps(farm.hosts),
        # no politeness, tick or batch override: the defaults a user gets. Only the
        # lease is short, so a killed worker's sources come back within a test
        "KITH_LEASE_SECONDS": "6",
        "KITH_PARSE_WORKERS": "0",
        "KITH_COMMENT_THREADS_PER_SOURCE": "0",
        "KITH_QUEUE_NAME": f"kith-test-{uuid.uuid4().hex[:8]}",
        **extra,
    }


def create_database(admin_url: str, prefix: str = "kith_scale") -> str:
    """A fresh, migrated PostgreSQL database next to ``admin_url``; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    return url


def drop_database(admin_url: str, url: str) -> None:
    from app.db import get_engine

    get_engine.cache_clear()
    name = sa.make_url(url).database
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()
