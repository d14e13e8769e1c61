"""`kith prune` on 1,000,000 items while the API serves: time, peak memory (RSS) of the
prune process, and what a concurrent client of a live `kith serve` sees.

A fresh SQLite database (the embedded default) is seeded with one user's items: 90% older
than the default retention (365 days), of which 1% saved and 1% liked (they stay), and 10%
recent. A live server (`kith serve --no-scheduler`, defaults otherwise) answers two
clients in a loop: `GET /api/v1/timeline?limit=50` and `POST /items/{id}/feedback`
(`seen`, a write that needs SQLite's one writer). Each client runs first with no prune
(the baseline) and then while `kith prune` runs, in the same run; p50/p99 and errors of
both phases and their ratio are printed.

    .venv/bin/python -m bench.prune              # 1,000,000 items (about 10 minutes)
    .venv/bin/python -m bench.prune --items 100000
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from app.db import get_engine, session_scope, upgrade_database
from app.models import Feedback, Item, Source
from app.storage import users as user_store

KITH = str(Path(sys.executable).with_name("kith"))
NOW = datetime.now(UTC)


def seed(url: str, n: int) -> tuple[str, list[int]]:
    """One user with ``n`` items; returns its token and the ids of recent items."""
    engine = get_engine(url)
    rng = random.Random(7)
    with session_scope(engine) as s:
        user = user_store.create_user(s, name="bench")
        assert user.id is not None
        _, token = user_store.create_token(s, user_id=user.id)
        source = Source(user_id=user.id, url="https://bench.example/feed")
        s.add(source)
        s.flush()
        user_id, source_id = user.id, source.id
    old = int(n * 0.9)
    started = time.monotonic()
    for start in range(0, n, 20_000):
        rows = []
        for i in range(start, min(start + 20_000, n)):
            age = rng.uniform(400, 800) if i < old else rng.uniform(0, 300)
            published = NOW - timedelta(days=age)
            rows.append(
                {
                    "user_id": user_id,
                    "source_id": source_id,
                    "dedupe_key": f"k{i}",
                    "url": f"https://bench.example/{i}",
                    "title": f"Post {i}",
                    "content": f"<p>post {i} " + "text " * 30 + "</p>",
                    "content_hash": "h",
                    "published": published,
                    "fetched_at": published,
                    "saved_at": published if i < old and i % 100 == 0 else None,
                    "rank_key": (published - NOW).total_seconds() / 86400 * 0.3,
                    "tags": [],
                    "enclosures": [],
                    "why": [],
                }  # fmt: skip
            )
        with session_scope(engine) as s:
            s.execute(sa.insert(Item.__table__), rows)  # type: ignore[attr-defined]
        print(f"\rseeded {min(start + 20_000, n):,} items", end="", flush=True)
    with session_scope(engine) as s:
        liked = (
            s.execute(
                sa.select(Item.id)
                .where(Item.user_id == user_id, Item.dedupe_key.like("%1"))  # type: ignore[arg-type,attr-defined]
                .order_by(Item.published)
                .limit(old // 100)  # type: ignore[arg-type]
            )
            .scalars()
            .all()
        )
        s.execute(
            sa.insert(Feedback.__table__),  # type: ignore[attr-defined]
            [
                {"user_id": user_id, "item_id": i, "action": "like", "at": NOW, "learned": True}
                for i in liked
            ],  # fmt: skip
        )
        recent = (
            s.execute(
                sa.select(Item.id)
                .where(Item.user_id == user_id)
                .order_by(Item.id.desc())
                .limit(2000)  # type: ignore[arg-type,union-attr]
            )
            .scalars()
            .all()
        )
    print(f" in {time.monotonic() - started:.0f} s")
    engine.dispose()
    return token, list(recent)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Client(threading.Thread):
    """Calls one route in a loop and keeps (phase, latency, ok) for every call."""

    def __init__(self, base: str, token: str, kind: str, items: list[int]) -> None:
        super().__init__(daemon=True)
        self.base, self.kind, self.items = base, kind, items
        self.headers = {"Authorization": f"Bearer {token}"}
        self.phase = "baseline"
        self.samples: list[tuple[str, float, bool]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        rng = random.Random(self.kind)
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30) as http:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    if self.kind == "timeline":
                        r = http.get("/api/v1/timeline", params={"limit": 50})
                        good = r.status_code == 200
                    else:
                        item = rng.choice(self.items)
                        body = {"action": "seen", "rank": rng.randint(1, 50)}
                        r = http.post(f"/api/v1/items/{item}/feedback", json=body)
                        good = r.status_code == 204
                except httpx.HTTPError:
                    good = False
                self.samples.append((self.phase, time.perf_counter() - started, good))
                if self.kind != "timeline":
                    time.sleep(0.05)  # a reader's pace, not a flood


def figures(samples: list[tuple[str, float, bool]], phase: str) -> tuple[float, float, int, int]:
    times = sorted(t for p, t, _ in samples if p == phase)
    errors = sum(1 for p, _, good in samples if p == phase and not good)
    if not times:
        return 0.0, 0.0, 0, errors
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.median(times) * 1000, p99 * 1000, len(times), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--baseline-seconds", type=float, default=20.0)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="kith-bench-prune-")
    url = f"sqlite:///{folder}/kith.db"
    upgrade_database(url)
    token, recent = seed(url, args.items)
    env = {**os.environ, "KITH_DATABASE_URL": url, "KITH_SECRET_KEY": "bench"}
    port = free_port()
    server = subprocess.Popen(
        [KITH, "serve", "--no-scheduler", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        clients = [Client(base, token, "timeline", recent), Client(base, token, "feedback", recent)]
        for c in clients:
            c.start()
        time.sleep(args.baseline_seconds)
        for c in clients:
            c.phase = "prune"
        started = time.monotonic()
        prune = subprocess.Popen(
            [KITH, "prune"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        _, status, usage = os.wait4(prune.pid, 0)
        seconds = time.monotonic() - started
        line = prune.stdout.read().strip() if prune.stdout else ""
        for c in clients:
            c.phase = "after"
            c.stop.set()
            c.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"kith prune on {args.items:,} items: exit {os.waitstatus_to_exitcode(status)}, "
          f"{seconds:.1f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MB")  # fmt: skip
    print(f"  {line}")
    print(f"{'client':<10} {'phase':<9} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for c in clients:
        base_fig = figures(c.samples, "baseline")
        during = figures(c.samples, "prune")
        for phase, (p50, p99, calls, errors) in (("no prune", base_fig), ("prune", during)):
            print(f"{c.kind:<10} {phase:<9} {calls:>6} {p50:>8.1f} {p99:>8.1f} {errors:>6}")
        if base_fig[0] and base_fig[1]:
            print(f"{c.kind:<10} ratio     {'':>6} {during[0] / base_fig[0]:>8.2f} "
                  f"{during[1] / base_fig[1]:>8.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
