"""The database `bench.api` serves: one user, 1,000 people, N items, hidden and muted.

A fresh SQLite file (migrated with ``upgrade_database``) gets one user with an API token,
1,000 people (one identity and one feed each) and N items spread over a year, with 1-3 KB
of sanitized-looking HTML, tags and a stored score (``rank_key`` =
``ranking.model.provisional_key(published)`` plus a per-person and a per-item offset,
``why`` to match, ``scored_at`` set); two high-affinity people are muted and some items,
many of them near the top, are hidden.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlmodel import SQLModel

from app.db import get_engine, session_scope, upgrade_database
from app.models import Feedback, Identity, Item, Person, Source
from app.storage import items as item_store
from app.storage import users as user_store
from ranking.model import provisional_key

PEOPLE = 1000
LIMIT = 50
CHUNK = 10_000
_FIRST = (
    "Ada Ben Chloe Dara Emil Fatou Goran Hana Ivo Jun Kofi Lena Mira Nils Olu Pia Quinn "
    "Rafa Sena Timo Uma Vera Wim Xia Yusuf Zoe Aiko Bruno Cleo Dmitri Elif Femi Greta "
    "Hugo Ines Jonas Kaia Luca Maren Nadia"
)
_LAST = (
    "Abara Berg Costa Dahl Eze Fuchs Garcia Holm Ito Jansen Kowalski Lind Moreau Novak "
    "Okafor Petrov Quist Rossi Sato Tan Ueda Varga Weber Yilmaz Zhou"
)
_WORDS = (
    "garden ferry bread lighthouse river letter kitchen harbour orchard bicycle lantern "
    "market winter island meadow chapter festival violin tide pottery sourdough trail "
    "mountain choir workshop library apricot compost telescope quilt"
)
FIRST, LAST, WORDS = _FIRST.split(), _LAST.split(), _WORDS.split()
PERSON, IDENTITY, SOURCE, ITEM = (
    SQLModel.metadata.tables[name] for name in ("person", "identity", "source", "item")
)


@dataclass(frozen=True, slots=True)
class Seeded:
    """A seeded database: its URL, the user's raw API token, items, seconds to seed."""

    url: str
    token: str
    items: int
    seconds: float


def sentence(rng: random.Random, words: int) -> str:
    """A capitalised run of random words."""
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()


def html_pool(rng: random.Random, size: int = 256) -> list[str]:
    """Bodies of 1-3 KB shaped like nh3's output: paragraphs, links, emphasis, a list."""
    pool = []
    for n in range(size):
        target = rng.randint(1000, 3000)
        parts: list[str] = []
        while sum(map(len, parts)) < target:
            kind = rng.random()
            if kind < 0.15:
                items = "".join(f"<li>{sentence(rng, rng.randint(3, 8))}</li>" for _ in range(3))
                parts.append(f"<ul>{items}</ul>")
            elif kind < 0.3:
                parts.append(
                    f'<p>{sentence(rng, 8)} <a href="https://example.org/{n}/{len(parts)}" '
                    f'rel="noopener noreferrer">{sentence(rng, 3)}</a> '
                    f"<em>{rng.choice(WORDS)}</em>.</p>"
                )
            else:
                parts.append(f"<p>{sentence(rng, rng.randint(12, 40))}.</p>")
        pool.append("".join(parts))
    return pool


def seed(path: Path, items: int, rng: random.Random, *, analyze: bool) -> Seeded:
    """A fresh database at ``path`` with one user, its people, their feeds and items."""
    started = time.perf_counter()
    url = f"sqlite:///{path}"
    upgrade_database(url)
    engine = get_engine(url)
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        user = user_store.create_user(s, name="bench")
        assert user.id is not None
        uid = user.id
        _, token = user_store.create_token(s, user_id=uid)
    names = [f"{FIRST[n % len(FIRST)]} {LAST[n // len(FIRST) % len(LAST)]}" for n in range(PEOPLE)]
    with engine.begin() as conn:
        conn.execute(
            insert(Person), [{"user_id": uid, "name": name, "created_at": now} for name in names]
        )
        pids: list[int] = list(conn.scalars(select(PERSON.c.id).order_by(PERSON.c.id)))
        sites = {pid: f"https://p{pid}.example" for pid in pids}
        conn.execute(
            insert(Identity),
            [
                {
                    "user_id": uid,
                    "person_id": pid,
                    "kind": "url",
                    "value": sites[pid],
                    "display_name": name,
                    "created_at": now,
                }
                for pid, name in zip(pids, names, strict=True)
            ],
        )
        conn.execute(
            insert(Source),
            [
                {
                    "user_id": uid,
                    "url": f"{sites[pid]}/feed.xml",
                    "kind": "feed",
                    "title": f"{name}\u2019s blog",
                    "site_url": sites[pid],
                    "next_check_at": now + timedelta(days=1),
                    "last_success_at": now,
                    "created_at": now,
                }
                for pid, name in zip(pids, names, strict=True)
            ],
        )
        identity: dict[int, int] = {
            pid: iid for pid, iid in conn.execute(select(IDENTITY.c.person_id, IDENTITY.c.id))
        }
        source: dict[int, int] = {
            pid: sid
            for pid, sid in conn.execute(
                select(IDENTITY.c.person_id, SOURCE.c.id).join(
                    SOURCE, SOURCE.c.site_url == IDENTITY.c.value
                )
            )
        }
    affinity = {pid: max(-2.0, min(2.0, rng.gauss(0, 0.8))) for pid in pids}
    by_name = dict(zip(pids, names, strict=True))
    bodies = html_pool(rng)
    titles = [sentence(rng, rng.randint(3, 9)) for _ in range(1024)]
    tag_sets = [rng.sample(WORDS, rng.randint(1, 3)) for _ in range(1024)]
    # published oldest first, so ids grow with time as they do when feeds are polled
    ages = sorted((rng.uniform(0, 365) for _ in range(items)), reverse=True)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA cache_size=-262144")
        for start in range(0, items, CHUNK):
            rows = []
            for n in range(start, min(start + CHUNK, items)):
                pid = rng.choice(pids)
                published = now - timedelta(days=ages[n])
                tags = tag_sets[rng.randrange(len(tag_sets))]
                extra = round(rng.uniform(-1.0, 1.0), 4)
                link = f"{sites[pid]}/{published:%Y/%m}/{n}"
                rows.append(
                    {
                        "user_id": uid,
                        "source_id": source[pid],
                        "dedupe_key": link,
                        "url": link,
                        "title": f"{titles[rng.randrange(len(titles))]} ({n})",
                        "content": f"<p>Post {n}.</p>" + bodies[rng.randrange(len(bodies))],
                        "content_hash": f"{n:064x}",
                        "published": published,
                        "fetched_at": published + timedelta(minutes=20),
                        "author_name": by_name[pid],
                        "identity_id": identity[pid],
                        "tags": tags,
                        "language": "en",
                        "rank_key": provisional_key(published) + affinity[pid] + extra,
                        "why": [
                            [
                                "affinity",
                                f"you often open {by_name[pid].split()[0]}\u2019s posts",
                                round(affinity[pid], 4),
                            ],
                            ["item", f"posts tagged {tags[0]}", extra],
                        ],
                        "scored_at": now,
                    }
                )
            conn.execute(insert(Item), rows)
            conn.commit()
        muted = sorted(pids, key=affinity.__getitem__)[-2:]
        conn.execute(update(PERSON).where(PERSON.c.id.in_(muted)).values(muted=True))
        top = conn.scalars(select(ITEM.c.id).order_by(ITEM.c.rank_key.desc()).limit(40 * LIMIT))
        # a fresh database: the item ids are 1..items
        hidden = set(list(top)[::9]) | set(rng.sample(range(1, items + 1), items // 1000))
        seen = rng.sample(range(1, items + 1), items // 50)
        feedback = [
            {"user_id": uid, "item_id": i, "action": "hide", "at": now, "learned": True}
            for i in sorted(hidden)
        ] + [
            {
                "user_id": uid,
                "item_id": i,
                "action": "seen" if k % 4 else "open",
                "rank": k % 30 + 1,
                "at": now,
                "learned": True,
            }
            for k, i in enumerate(seen)
        ]
        for start in range(0, len(feedback), CHUNK):
            conn.execute(insert(Feedback), feedback[start : start + CHUNK])
        if analyze:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return Seeded(url=url, token=token, items=items, seconds=time.perf_counter() - started)


def query_plan(seeded: Seeded, *, state: str = "all") -> list[str]:
    """SQLite's plan for the first page's query as ``read_timeline`` builds it (for one
    read ``state``), minus the primary-key lookups."""
    engine = get_engine(seeded.url)
    statements: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with session_scope(engine) as s:
            user = user_store.user_for_token(s, raw=seeded.token)
            assert user is not None and user.id is not None
            item_store.read_timeline(s, user_id=user.id, limit=LIMIT, state=state)
        statement, parameters = next(
            (st, p) for st, p in statements if st.lstrip().startswith("SELECT") and "item" in st
        )
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
        engine.dispose()
    return [row[3] for row in rows if "PRIMARY KEY" not in row[3]]
