"""Ingest benchmark: Kith vs lemon24/reader on the same loopback farm, in the same run.

    make bench            # or: .venv/bin/python -m bench.ingest [--feeds 300] [--entries 50]

The farm (bench/farm.py, ``blogs=True``) serves RSS 2.0 with content:encoded, Atom
(10% of the feeds with xhtml content) and WordPress-style comment feeds, entries of
1-8 KB of blog-like HTML, 10% of the feeds with 200+ entries, spread over 12 hosts
(ports) of which 2 are slow, from its own process, with ETag/304 and gzip. Each tool
gets a fresh SQLite database and makes two passes: a first one that stores everything
and a second, unchanged one (conditional GETs answered 304).

Two clocks are printed for each pass: "work" is the refresh itself (Kith: the
`seconds=` that `kith ingest --once --all` prints; reader: the time of
`update_feeds(workers=4)`), "command" is the whole process (interpreter start-up,
imports, opening the database, for Kith also scoring the new items). The floor is
Kith's own fetch and parse of the same farm with the same defaults (one guarded
client, the same concurrency and per-host limits, the same parser processes) with
nothing stored. The issue's targets: first pass >= 5x reader's entries/s and >= 70% of
the floor, unchanged pass <= 0.2x reader's time (both on "work", the like-for-like
measure), peak memory of Kith's whole process tree (parser workers included) < 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.farm import Farm

READER_SETUP = r"""
import sys
from reader import make_reader
r = make_reader(sys.argv[1])
for u in open(sys.argv[2]).read().split():
    r.add_feed(u, allow_invalid_url=True)
"""
READER_PASS = r"""
import json, sys, time
from reader import make_reader
r = make_reader(sys.argv[1])
t = time.perf_counter()
r.update_feeds(workers=4, scheduled=False)
print(json.dumps({"seconds": time.perf_counter() - t, "entries": r.get_entry_counts().total}))
"""


FLOOR = r"""
import asyncio, json, sys, time
from urllib.parse import urlsplit
from app.config import get_settings
from app.jobs.tasks import refresh_options
from ingest.fetch import fetch, make_client
from ingest.pool import ParsePool

async def main(urls):
    options = refresh_options(get_settings())  # the defaults a user gets
    pool = ParsePool(workers=options.parse_workers, budget_seconds=options.parse_budget_seconds)
    pool.warm_up()
    in_flight = asyncio.Semaphore(options.concurrency)
    hosts = {}
    entries = 0
    async with make_client(options.policy) as client:
        async def one(url):
            nonlocal entries
            async with in_flight:
                host = hosts.setdefault(urlsplit(url).netloc, asyncio.Semaphore(options.per_host))
                async with host:
                    got = await fetch(client, url, options.policy)
                feed = await pool.parse(got.content, url=got.url, content_type=got.content_type,
                                        comments=False)
                entries += len(feed.entries)
        await asyncio.gather(*(one(u) for u in urls))
    return entries

urls = open(sys.argv[1]).read().split()
t = time.perf_counter()
n = asyncio.run(main(urls))
print(json.dumps({"seconds": time.perf_counter() - t, "entries": n}))
"""


def tree_rss_mb(root: int) -> float:
    """Resident memory of a process and all its descendants (parser workers included)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(rss.get(pid, 0) for pid in tree) / (1024 * 1024)


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak memory in MB of the whole process tree (sampled), stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_rss_mb(proc.pid))
        time.sleep(0.05)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()}")
    return elapsed, peak, out.decode()


def kith_seconds(output: str) -> float:
    match = re.search(r"seconds=([0-9.]+)", output)
    if not match:
        raise SystemExit(f"no seconds= in kith output: {output!r}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--entries", type=int, default=50)
    args = parser.parse_args()

    python = sys.executable
    kith = str(Path(python).parent / "kith")
    farm = Farm(args.feeds, args.entries, blogs=True).start()
    work = Path(tempfile.mkdtemp(prefix="kith-bench-"))
    total = farm.total
    try:
        env = {
            **os.environ,
            "KITH_DATABASE_URL": f"sqlite:///{work}/kith.db",
            "KITH_ALLOWED_HOSTS": json.dumps(farm.hosts),
        }
        help_wall, _, _ = run([kith, "--help"], env)
        subprocess.run([kith, "user", "add", "bench"], env=env, check=True, capture_output=True)
        opml = work / "farm.opml"
        outlines = "".join(f'<outline text="f" xmlUrl="{u}"/>' for u in farm.urls)
        opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>')
        subprocess.run(
            [kith, "import-opml", str(opml), "--user", "bench"],
            env=env,
            check=True,
            capture_output=True,
        )
        urls = work / "urls.txt"
        urls.write_text("\n".join(farm.urls))
        _, floor_mem, floor_out = run([python, "-c", FLOOR, str(urls)], env)
        floor = json.loads(floor_out)

        k1_wall, k1_mem, k1_out = run([kith, "ingest", "--once", "--all"], env)
        k2_wall, k2_mem, k2_out = run([kith, "ingest", "--once", "--all"], env)
        kith_peak = max(k1_mem, k2_mem)
        k1, k2 = kith_seconds(k1_out), kith_seconds(k2_out)
        print(f"kith pass 1: {k1_out.strip()}")
        print(f"kith pass 2: {k2_out.strip()}")
        if f"new_items={total}" not in k1_out:
            print(f"WARNING: kith stored a different number of entries than {total}")

        db = str(work / "reader.sqlite")
        subprocess.run([python, "-c", READER_SETUP, db, str(urls)], env=env, check=True)
        r1_wall, r1_mem, r1_out = run([python, "-c", READER_PASS, db], env)
        r2_wall, r2_mem, r2_out = run([python, "-c", READER_PASS, db], env)
        r1, r2 = json.loads(r1_out), json.loads(r2_out)

        print(
            f"\nfarm: {args.feeds} feeds, {total} entries ({farm.slow_feeds} feeds on slow "
            f"hosts; reader stored {r1['entries']}, the floor parsed {floor['entries']})"
        )
        print(
            f"{'':26}{'pass 1 work':>12}{'entries/s':>11}{'pass 1 command':>16}"
            f"{'pass 2 work':>13}{'pass 2 command':>16}"
        )
        print(
            f"{'kith ingest --once --all':26}{k1:>11.2f}s{total / k1:>11.0f}{k1_wall:>15.2f}s"
            f"{k2:>12.2f}s{k2_wall:>15.2f}s"
        )
        print(
            f"{'reader update_feeds(4)':26}{r1['seconds']:>11.2f}s"
            f"{r1['entries'] / r1['seconds']:>11.0f}{r1_wall:>15.2f}s"
            f"{r2['seconds']:>12.2f}s{r2_wall:>15.2f}s"
        )
        print(
            f"{'floor: fetch + parse':26}{floor['seconds']:>11.2f}s"
            f"{floor['entries'] / floor['seconds']:>11.0f}"
        )
        first = (total / k1) / (r1["entries"] / r1["seconds"])
        of_floor = (total / k1) / (floor["entries"] / floor["seconds"])
        second = k2 / r2["seconds"]
        print(
            f"\nfirst pass, entries/s kith/reader:   {first:5.2f}x work "
            f"({(total / k1_wall) / (r1['entries'] / r1_wall):.2f}x command)   target >= 5x: "
            f"{'met' if first >= 5 else 'NOT met'}"
        )
        print(
            f"first pass, kith/floor (no storage): {of_floor:5.0%} work   target >= 70%: "
            f"{'met' if of_floor >= 0.7 else 'NOT met'}"
        )
        print(
            f"unchanged pass, time kith/reader:    {second:5.2f}x work "
            f"({k2_wall / r2_wall:.2f}x command)   target <= 0.2x: "
            f"{'met' if second <= 0.2 else 'NOT met'}"
        )
        print(
            f"kith peak memory (process tree, parser workers included): {kith_peak:.0f} MB   "
            f"target < 200 MB: {'met' if kith_peak < 200 else 'NOT met'}  "
            f"(reader: {max(r1_mem, r2_mem):.0f} MB, floor: {floor_mem:.0f} MB)"
        )
        print(
            f"start-up: `kith --help` {help_wall:.2f} s; whole `kith ingest --once --all` "
            f"{k1_wall:.2f} s first pass ({k1_wall - k1:.2f} s beyond the refresh: start-up, "
            f"migrations check, scoring the new items), {k2_wall:.2f} s unchanged"
        )
    finally:
        farm.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
