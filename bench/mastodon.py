"""Mastodon sync benchmark: 5,000 statuses from the fake instance (tests/fake_mastodon.py).

    .venv/bin/python -m bench.mastodon [--statuses 5000]

A public account with N statuses is synced into a fresh SQLite database with a backfill
cap of N (so the whole history is read), in-process. Prints statuses/s and the HTTP
requests used against the minimum possible: one lookup plus ceil(N / 40) pages.
A second, incremental sync after 100 new statuses shows the min_id path.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.config import Settings
from app.db import get_engine, session_scope, upgrade_database
from app.jobs.refresh import RefreshOptions, refresh_due
from app.storage import sources as source_store
from app.storage import users as user_store
from tests.fake_mastodon import FakeMastodon


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statuses", type=int, default=5000)
    args = parser.parse_args()
    fake = FakeMastodon()
    work = Path(tempfile.mkdtemp(prefix="kith-bench-mastodon-"))
    try:
        kim = fake.account("kim", "Kim Lee")
        start = datetime.now(UTC) - timedelta(days=30)
        for n in range(args.statuses):
            fake.status(
                kim,
                f"<p>status {n} with a <a href='https://example.org/{n}'>link</a> and some "
                "words to make it a realistic length for a toot on a quiet afternoon</p>",
                created_at=start + timedelta(minutes=n),
            )
        url = f"sqlite:///{work}/kith.db"
        upgrade_database(url)
        settings = Settings(database_url=url, allowed_hosts=[fake.host])
        with session_scope(get_engine(url)) as s:
            user = user_store.create_user(s, name="bench")
            assert user.id is not None
            source_store.create_source(
                s, user_id=user.id, url=f"{fake.base}/@kim", kind="mastodon", now=datetime.now(UTC)
            )
        options = RefreshOptions(policy=settings.fetch_policy(), mastodon_backfill=args.statuses)
        fake.requests.clear()
        started = time.perf_counter()
        stats = refresh_due(get_engine(url), options, include_all=True)
        seconds = time.perf_counter() - started
        used = len(fake.requests)
        minimum = 1 + math.ceil(args.statuses / 40)
        print(f"first sync: {stats.line()}")
        rate = stats.new_items / seconds
        print(f"statuses: {stats.new_items} in {seconds:.2f} s = {rate:.0f} statuses/s")
        print(
            f"HTTP requests: {used} used, {minimum} minimum possible "
            f"(1 lookup + {minimum - 1} pages of 40): {used / minimum:.2f}x"
        )
        for n in range(100):
            fake.status(kim, f"<p>new {n}</p>")
        fake.requests.clear()
        stats = refresh_due(get_engine(url), options, include_all=True)
        print(
            f"incremental sync of 100 new statuses: {stats.line()}; requests {len(fake.requests)}"
            f" (minimum {math.ceil(100 / 40)})"
        )
    finally:
        fake.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
