"""The unread timeline at 1,000,000 items, half of them read, against the timeline of
today (every item) on the same server in the same run.

    .venv/bin/python -m bench.unread [--items 1000000] [--seconds 10] [--rounds 2]

Seeds a fresh SQLite database as ``bench.api`` does (one user, 1,000 people, items of
1-3 KB HTML), marks every other item read, prints SQLite's plan for the first unread
page (it must stay one range read of ``ix_item_user_unread_rank``), then drives
``GET /api/v1/timeline?state=unread`` and ``GET /api/v1/timeline`` alternately at 32
connections on one ``kith`` server and prints req/s, p50/p99 and the ratio. Target:
the unread view within 10% of the whole timeline's req/s.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from app.db import get_engine
from bench.api import CONNECTIONS, TIMELINE, phase, serving
from bench.api_seed import Seeded, query_plan, seed


def half_read(seeded: Seeded) -> int:
    """Mark every other item read, in batches; returns how many."""
    engine = get_engine(seeded.url)
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    marked = 0
    with engine.connect() as conn:
        top = int(conn.execute(text("SELECT max(id) FROM item")).scalar() or 0)
    for start in range(0, top + 1, 50_000):
        with engine.begin() as conn:
            result = conn.execute(
                text("UPDATE item SET read_at = :now WHERE id % 2 = 0 AND id > :a AND id <= :b"),
                {"now": now, "a": start, "b": start + 50_000},
            )
            marked += result.rowcount or 0
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return marked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kith-bench-unread-"))
    try:
        started = time.perf_counter()
        seeded = seed(work / "kith.db", args.items, random.Random(7), analyze=False)
        marked = half_read(seeded)
        print(
            f"{seeded.items:,} items, {marked:,} marked read; "
            f"seeded in {time.perf_counter() - started:.0f} s"
        )
        plan = query_plan(seeded, state="unread")
        print("plan of the first unread page:", " | ".join(plan))
        uses_index = any("ix_item_user_unread_rank" in step for step in plan)
        print(f"one range read of ix_item_user_unread_rank: {'yes' if uses_index else 'NO'}")
        unread_path, all_path = f"{TIMELINE}?state=unread", TIMELINE
        rates: dict[str, list[float]] = {unread_path: [], all_path: []}
        p50: dict[str, list[float]] = {unread_path: [], all_path: []}
        p99: dict[str, list[float]] = {unread_path: [], all_path: []}
        with serving(["kith", "--database-url", seeded.url], work / "kith.log", cpu=None) as kith:
            for n in range(args.rounds):
                order = [all_path, unread_path] if n % 2 == 0 else [unread_path, all_path]
                for path in order:
                    done = phase(kith, path, seeded.token, warmup=args.warmup, seconds=args.seconds)
                    rates[path].append(done.first.rate)
                    p50[path].append(done.first.percentile(0.5))
                    p99[path].append(done.first.percentile(0.99))
                    print(
                        f"  round {n + 1} {path:<40} {done.first.rate:7.0f} req/s  "
                        f"p50 {p50[path][-1]:6.1f} ms  p99 {p99[path][-1]:6.1f} ms  "
                        f"errors {done.first.errors}"
                    )
        mean = {k: sum(v) / len(v) for k, v in rates.items()}
        ratio = mean[unread_path] / mean[all_path] if mean[all_path] else float("nan")
        print(
            f"\n{CONNECTIONS} connections: unread {mean[unread_path]:.0f} req/s, "
            f"all {mean[all_path]:.0f} req/s, ratio {ratio:.2f} "
            f"(target >= 0.90: {'met' if ratio >= 0.9 else 'NOT met'})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
