"""What following blog comment threads costs: parse+store rate on the ingest farm with
and without thread following.

    .venv/bin/python -m bench.threads [--feeds 300] [--entries 50] [--comments 10]

Farm as in bench/ingest.py, except that every RSS post names its comment feed
(wfw:commentRss) with ``--comments`` comments. Run A refreshes every source with thread
following off. Run B turns it on for a user whose own site is the farm (so every post
qualifies, up to the per-source limit of 5 threads) and refreshes twice: the feeds, then
the threads they led to. Each run starts from a fresh SQLite database, in-process.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.config import Settings
from app.db import get_engine, session_scope, upgrade_database
from app.jobs.refresh import RefreshOptions, refresh_due
from app.jobs.threads import ThreadOptions
from app.storage import people as people_store
from app.storage import sources as source_store
from app.storage import users as user_store
from bench.farm import Farm


def prepare(work: Path, name: str, farm: Farm) -> tuple[str, Settings]:
    url = f"sqlite:///{work}/{name}.db"
    upgrade_database(url)
    settings = Settings(database_url=url, allowed_hosts=[f"127.0.0.1:{farm.port}"])
    now = datetime.now(UTC)
    with session_scope(get_engine(url)) as s:
        user = user_store.create_user(s, name="bench")
        assert user.id is not None
        people_store.set_self_identities(
            s, user_id=user.id, name="bench", identities=[("url", farm.base)], now=now
        )
        for feed_url in farm.urls:
            source_store.create_source(s, user_id=user.id, url=feed_url, now=now)
    return url, settings


def run(url: str, settings: Settings, threads: int) -> tuple[float, int, int]:
    options = RefreshOptions(
        policy=settings.fetch_policy(),
        interval=timedelta(hours=1),
        concurrency=20,
        threads=ThreadOptions(threads_per_source=threads),
    )
    started = time.perf_counter()
    first = refresh_due(get_engine(url), options, include_all=True)
    entries, sources = first.new_items, first.sources
    if threads:
        second = refresh_due(get_engine(url), options)  # the thread sources just created
        entries += second.new_items
        sources += second.sources
    return time.perf_counter() - started, entries, sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--comments", type=int, default=10)
    args = parser.parse_args()
    farm = Farm(args.feeds, args.entries, thread_comments=args.comments).start()
    work = Path(tempfile.mkdtemp(prefix="kith-bench-threads-"))
    try:
        rows = []
        for label, threads in (("without thread following", 0), ("with thread following", 5)):
            url, settings = prepare(work, label.split()[0], farm)
            seconds, entries, sources = run(url, settings, threads)
            rows.append((label, seconds, entries, sources))
        print(
            f"farm: {args.feeds} feeds x {args.entries} entries; RSS posts carry a comment "
            f"feed of {args.comments} comments"
        )
        print(f"{'':28}{'sources':>9}{'entries':>9}{'seconds':>9}{'entries/s':>11}")
        for label, seconds, entries, sources in rows:
            print(f"{label:28}{sources:>9}{entries:>9}{seconds:>8.2f}s{entries / seconds:>11.0f}")
        base, follow = rows
        print(
            f"thread following: {follow[3] - base[3]} more sources, "
            f"{follow[2] - base[2]} more entries, {follow[1] / base[1]:.2f}x the time; "
            f"rate {follow[2] / follow[1] / (base[2] / base[1]):.2f}x"
        )
    finally:
        farm.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
