"""Bluesky sync benchmark: 5,000 posts from the fake service (tests/fake_bluesky.py).

    .venv/bin/python -m bench.bluesky [--posts 5000]

A public profile with N posts is synced into a fresh SQLite database with a backfill
cap of N (so the whole history is read), in-process, with the defaults otherwise.
Prints posts/s and the XRPC requests used against the minimum possible: one
getProfile plus ceil(N / 100) pages of getAuthorFeed. A second, incremental sync after
100 new posts shows the cursor path (it stops at the first page that reaches the
newest post already seen).
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
from ingest.atproto_identity import IdentityOptions
from ingest.bluesky import BlueskyOptions
from tests.fake_bluesky import FakeBluesky


async def _no_txt(name: str) -> list[str]:
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=5000)
    args = parser.parse_args()
    fake = FakeBluesky()
    work = Path(tempfile.mkdtemp(prefix="kith-bench-bluesky-"))
    try:
        kim = fake.actor("kim.bsky.social", "Kim Lee")
        start = datetime.now(UTC) - timedelta(days=30)
        text = "post {n}: a link to example.org/{n} and some words for a realistic length ✨"
        for n in range(args.posts):
            body = text.format(n=n)
            at = body.encode().index(b"example.org")
            fake.post(
                kim,
                body,
                created_at=start + timedelta(minutes=n),
                facets=[
                    {
                        "index": {"byteStart": at, "byteEnd": at + len(f"example.org/{n}")},
                        "features": [
                            {
                                "$type": "app.bsky.richtext.facet#link",
                                "uri": f"https://example.org/{n}",
                            }
                        ],
                    }
                ],
            )
        url = f"sqlite:///{work}/kith.db"
        upgrade_database(url)
        settings = Settings(database_url=url, allowed_hosts=fake.hosts)
        with session_scope(get_engine(url)) as s:
            user = user_store.create_user(s, name="bench")
            assert user.id is not None
            source_store.create_source(
                s,
                user_id=user.id,
                url="https://bsky.app/profile/kim.bsky.social",
                kind="bluesky",
                now=datetime.now(UTC),
            )
        defaults = settings.bluesky_options()
        options = RefreshOptions(
            policy=settings.fetch_policy(),
            bluesky=BlueskyOptions(
                appview=fake.appview_base,
                identity=IdentityOptions(plc_url=fake.appview_base, txt=_no_txt),
                backfill=args.posts,
                min_remaining=defaults.min_remaining,
                max_pause=defaults.max_pause,
            ),
        )
        fake.requests.clear()
        started = time.perf_counter()
        stats = refresh_due(get_engine(url), options, include_all=True)
        seconds = time.perf_counter() - started
        used = len(fake.requests)
        minimum = 1 + math.ceil(args.posts / 100)
        print(f"first sync: {stats.line()}")
        print(
            f"posts: {stats.new_items} in {seconds:.2f} s = {stats.new_items / seconds:.0f} posts/s"
        )
        print(
            f"XRPC requests: {used} used, {minimum} minimum possible "
            f"(1 getProfile + {minimum - 1} pages of 100): {used / minimum:.2f}x"
        )
        for n in range(100):
            fake.post(kim, f"new {n}")
        fake.requests.clear()
        started = time.perf_counter()
        stats = refresh_due(get_engine(url), options, include_all=True)
        seconds = time.perf_counter() - started
        print(
            f"incremental sync of 100 new posts: {stats.line()}; requests {len(fake.requests)} "
            f"(minimum 1 getProfile + 2 pages: 100 new posts fill the first page, the second "
            f"reaches the newest post seen before) in {seconds:.2f} s"
        )
    finally:
        fake.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
