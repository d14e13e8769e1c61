"""Drifting for 5,000 people with 200,000 interactions (target: under 1 s).

    .venv/bin/python -m bench.drifting [--people 5000] [--interactions 200000]

Builds a fresh SQLite database with one user, N people (each with a few recent posts)
and M interactions spread over two years, then times separately: loading the contact
histories from the database (app.storage.people.contact_histories) and computing who is
drifting (ranking.relationships.drifting, pure), and prints how many were found.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from app.db import get_engine, session_scope, upgrade_database
from app.models import Identity, Interaction, Item, Person, Source
from app.storage import people as people_store
from app.storage import users as user_store
from ranking.relationships import drifting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--interactions", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(3)
    now = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix="kith-bench-drift-"))
    try:
        url = f"sqlite:///{work}/kith.db"
        upgrade_database(url)
        engine = get_engine(url)
        with session_scope(engine) as s:
            user = user_store.create_user(s, name="bench")
            uid = user.id
            source = Source(user_id=uid, url="https://bench.example/feed", next_check_at=now)
            s.add(source)
            s.flush()
            s.execute(
                insert(Person),
                [{"user_id": uid, "name": f"P{n}", "created_at": now} for n in range(args.people)],
            )
            pids = [p for (p,) in s.execute(Person.__table__.select().with_only_columns(Person.id))]
            s.execute(
                insert(Identity),
                [
                    {
                        "user_id": uid,
                        "person_id": p,
                        "kind": "url",
                        "value": f"https://p{p}.example",
                        "created_at": now,
                    }
                    for p in pids
                ],
            )
            iids = dict(
                s.execute(
                    Identity.__table__.select().with_only_columns(Identity.person_id, Identity.id)
                ).all()
            )
            s.execute(
                insert(Item),
                [
                    {
                        "user_id": uid,
                        "source_id": source.id,
                        "dedupe_key": f"{p}-{k}",
                        "title": "t",
                        "content": "",
                        "content_hash": "x",
                        "identity_id": iids[p],
                        "fetched_at": now,
                        "published": now - timedelta(days=rng.uniform(0, 60)),
                    }
                    for p in pids
                    for k in range(3)
                ],
            )
            rows = []
            for n in range(args.interactions):
                # everyone has some contact; a few people have most of it
                pid = pids[
                    rng.randrange(len(pids)) if n % 2 else int(rng.paretovariate(1.2)) % len(pids)
                ]
                rows.append(
                    {
                        "user_id": uid,
                        "person_id": pid,
                        "direction": rng.choice(("in", "out")),
                        "kind": "reply",
                        "at": now - timedelta(days=rng.uniform(0, 730)),
                        "external_id": f"e{n}",
                    }
                )
            s.execute(insert(Interaction), rows)
        started = time.perf_counter()
        with session_scope(engine) as s:
            histories = people_store.contact_histories(s, user_id=uid, now=now)
        loaded = time.perf_counter()
        found = drifting(histories, now=now)
        done = time.perf_counter()
        print(
            f"{args.people} people, {args.interactions} interactions, {len(histories)} with contact"
        )
        print(f"load histories from SQLite: {loaded - started:.3f} s")
        print(f"compute drifting (pure):    {done - loaded:.3f} s")
        total = done - started
        print(
            f"total: {total:.3f} s  (target < 1 s: {'met' if total < 1 else 'NOT met'}); "
            f"{len(found)} people drifting"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
