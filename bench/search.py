"""Search at scale: 20 typical queries through ``GET /api/v1/search`` against a
``LIKE '%word%'`` scan of the same table, at 100,000 and 1,000,000 items.

Each size gets a fresh SQLite database (migrated, so the FTS5 triggers index every row
as it is inserted, as ingest does) with one user, 1,000 people and items whose title and
text are drawn from a 30,000-word vocabulary with a Zipf distribution (s = 1.05): a few
words are in most items, most words in few. The queries: rare words, common words, two
words, phrases taken from stored items, and person: filters. Each runs 5 times through
the real route (FastAPI's TestClient, the app as ``kith serve`` builds it); p50 and p99
are over all runs. The scan runs the first word of 5 of the queries once each.

    .venv/bin/python -m bench.search            # 100k and 1M (about 10 minutes)
    .venv/bin/python -m bench.search --sizes 20000
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text

from app.config import Settings
from app.db import get_engine, session_scope, upgrade_database
from app.main import create_app
from app.models import Identity, Item, Person, Source
from app.storage import users as user_store

PEOPLE, VOCABULARY, CHUNK, REPEATS = 1000, 30_000, 20_000, 5
_SYLLABLES = "ka lo mi ne ru sa ti vo be da fe gi ho ju ly mo pa qui re so tu va we xo yi ze"
SYLLABLES = _SYLLABLES.split()


def vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words, key=lambda w: rng.random())  # rank 0 is the most common


def seed(path: Path, items: int, words: list[str], seed_: int) -> tuple[str, str, list[str]]:
    url = f"sqlite:///{path}"
    upgrade_database(url)
    engine = get_engine(url)
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        user = user_store.create_user(s, name="bench")
        assert user.id is not None
        uid = user.id
        _, token = user_store.create_token(s, user_id=uid)
    rng = random.Random(seed_)
    names = [
        f"{w.title()} {v.title()}" for w, v in zip(words[5000:6000], words[7000:8000], strict=True)
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(Person), [{"user_id": uid, "name": n, "created_at": now} for n in names]
        )
        pids = list(conn.scalars(select(Person.id).order_by(Person.id)))  # type: ignore[arg-type]
        conn.execute(
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
        conn.execute(
            insert(Source),
            [
                {
                    "user_id": uid,
                    "url": f"https://p{p}.example/feed",
                    "kind": "feed",
                    "title": f"p{p}",
                    "next_check_at": now + timedelta(days=1),
                    "created_at": now,
                }
                for p in pids
            ],
        )
        ident = dict(conn.execute(select(Identity.person_id, Identity.id)).all())  # type: ignore[call-overload]
        source = dict(conn.execute(select(Source.title, Source.id)).all())  # type: ignore[call-overload]
    ranks = np.arange(1, VOCABULARY + 1, dtype=np.float64)
    p = ranks**-1.05
    p /= p.sum()
    gen = np.random.default_rng(seed_)
    vocab = np.array(words)
    with engine.connect() as conn:
        for start in range(0, items, CHUNK):
            n = min(CHUNK, items - start)
            lengths = gen.integers(20, 140, size=n)
            drawn = vocab[gen.choice(VOCABULARY, size=int(lengths.sum()) + n * 6, p=p)]
            rows, at = [], 0
            for k in range(n):
                body = drawn[at : at + lengths[k]]
                title = drawn[at + lengths[k] : at + lengths[k] + 6]
                at += lengths[k] + 6
                half = len(body) // 2
                pid = pids[rng.randrange(PEOPLE)]
                published = now - timedelta(days=365 * (items - start - k) / items)
                key = f"https://p{pid}.example/{start + k}"
                rows.append(
                    {
                        "user_id": uid,
                        "source_id": source[f"p{pid}"],
                        "dedupe_key": key,
                        "url": key,
                        "title": " ".join(title).capitalize(),
                        "content": "<p>"
                        + " ".join(body[:half])
                        + ".</p><p><em>"
                        + " ".join(body[half:])
                        + "</em> &amp; more.</p>",
                        "content_hash": f"{start + k:064x}",
                        "published": published,
                        "fetched_at": published,
                        "identity_id": ident[pid],
                        "rank_key": 0.0,
                        "tags": [],
                        "why": [],
                    }
                )
            conn.execute(insert(Item), rows)
            conn.commit()
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
        samples = [
            r[0] for r in conn.execute(text("SELECT content FROM item ORDER BY random() LIMIT 3"))
        ]
    engine.dispose()
    phrases = []
    for content in samples:
        w = content.removeprefix("<p>").split()
        phrases.append(f'"{w[3]} {w[4]}"')
    return url, token, phrases + [names[3], names[400]]


def queries(words: list[str], extra: list[str]) -> list[tuple[str, str]]:
    """(kind, q): 20 typical searches."""
    rare = [words[i] for i in (4000, 8000, 12000, 16000, 20000, 26000)]
    common = [words[i] for i in (3, 12, 40, 120, 300)]
    pairs = [
        f"{words[50]} {words[900]}",
        f"{words[200]} {words[3000]}",
        f"{words[20]} {words[60]}",
        f"{words[1500]} {words[9000]}",
    ]
    phrases, people = extra[:3], extra[3:]
    persons = [f'{words[100]} person:"{people[0]}"', f"{words[2000]} person:{people[1].split()[0]}"]
    return (
        [("rare", q) for q in rare]
        + [("common", q) for q in common]
        + [("two words", q) for q in pairs]
        + [("phrase", q) for q in phrases]
        + [("person:", q) for q in persons]
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(size: int, words: list[str], work: Path) -> dict[str, float]:
    started = time.perf_counter()
    url, token, extra = seed(work / f"search-{size}.db", size, words, 7)
    seeded = time.perf_counter() - started
    qs = queries(words, extra)
    settings = Settings(database_url=url, secret_key="bench")
    times: list[float] = []
    per_kind: dict[str, list[float]] = {}
    hits: dict[str, int] = {}
    with TestClient(create_app(settings)) as client:
        h = {"Authorization": f"Bearer {token}"}
        for _, q in qs:  # warm the page cache
            client.get("/api/v1/search", params={"q": q}, headers=h)
        for _ in range(REPEATS):
            for kind, q in qs:
                t = time.perf_counter()
                resp = client.get("/api/v1/search", params={"q": q}, headers=h)
                elapsed = time.perf_counter() - t
                assert resp.status_code == 200, resp.text
                hits[q] = len(resp.json()["items"])
                times.append(elapsed)
                per_kind.setdefault(kind, []).append(elapsed)
    engine = get_engine(url)
    scans: list[float] = []
    with engine.connect() as conn:
        for _, q in qs[::4]:
            word = q.strip('"').split()[0]
            t = time.perf_counter()
            conn.execute(
                text(
                    "SELECT count(*) FROM item WHERE user_id = 1 AND "
                    "(title LIKE :p OR content LIKE :p)"
                ),
                {"p": f"%{word}%"},
            ).scalar()
            scans.append(time.perf_counter() - t)
        matches = {
            q: conn.execute(
                text("SELECT count(*) FROM item_fts WHERE item_fts MATCH :m"),
                {"m": '"' + q.split()[0].strip('"') + '"'},
            ).scalar()
            for _, q in qs
        }
    engine.dispose()
    p50, p99, scan = pct(times, 0.5), pct(times, 0.99), statistics.median(scans)
    print(
        f"\n== {size:,} items (seeded with the index in {seeded:.0f} s; "
        f"{(work / f'search-{size}.db').stat().st_size / 1e6:.0f} MB)"
    )
    for kind, ts in per_kind.items():
        print(f"  {kind:10} p50 {pct(ts, 0.5) * 1000:7.1f} ms   max {max(ts) * 1000:7.1f} ms")
    for kind, q in qs:
        print(f"    {kind:10} {q!r:48} first word in {matches[q]:>8,} items, page {hits[q]}")
    print(
        f"  search through the API: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
        f"({len(times)} requests)"
    )
    print(f"  LIKE '%word%' scan:     p50 {scan * 1000:.1f} ms ({len(scans)} scans)")
    print(f"  scan p50 / search p50 = {scan / p50:.0f}x (target >= 50x)")
    return {"p50": p50, "p99": p99, "scan": scan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    words = vocabulary(random.Random(42))
    with tempfile.TemporaryDirectory(prefix="kith-bench-search-") as tmp:
        results = {size: run(size, words, Path(tmp)) for size in args.sizes}
    if len(results) > 1:
        small, big = results[min(results)], results[max(results)]
        print(
            f"\np50 at {max(results):,} / p50 at {min(results):,} = "
            f"{big['p50'] / small['p50']:.2f} (target <= 1.5)"
        )


if __name__ == "__main__":
    main()
