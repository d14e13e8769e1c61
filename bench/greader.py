"""A native app's unread sync through the Google Reader API against the same reads
through Kith's own API, on one server in the same run.

    .venv/bin/python -m bench.greader [--items 100000] [--rounds 2] [--ids-page 1000]

Seeds a fresh SQLite database with ``bench/api_seed.py`` (one user, 1,000 people, N
unread items of 1-3 KB HTML, muted people, hidden items), creates an app password for
the user through :mod:`app.apps.passwords`, and serves it with ``bench.api_app kith``
(``kith serve``'s uvicorn options, default settings, scheduler off). One client on one
keep-alive connection (httpx), as an app syncs, makes one unrecorded pass of each, then
two passes alternately (ABBA, ``--rounds`` each):

- Google Reader: ClientLogin once before the rounds (apps keep the token), then
  ``stream/items/ids`` over the reading list with ``xt=user/-/state/com.google/read``
  and ``n=--ids-page`` following ``continuation``, then ``POST stream/items/contents``
  with the ids in batches of ``--batch``;
- Kith's API: ``GET /api/v1/timeline?state=unread&limit=--batch`` following
  ``next_cursor``.

The batch is 200 for both: the timeline's ``limit`` is capped at 200 (a batch of 250
would need 250-item pages, which the API refuses). Prints per side the items, requests,
seconds, items/s, req/s and p50/p99 per request kind, whether both passes read the same
items, and the time ratio. Target: the Google Reader pass within 2x of the API's time.
Exits 0 either way: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlmodel import select

from app.apps import passwords as app_passwords
from app.db import get_engine, session_scope
from app.models import User
from bench.api import serving
from bench.api_seed import seed
from bench.cluster import percentile_ms

BATCH = 200  # the timeline's limit cap (app/api/timeline.py: le=200)
GREADER = "/reader"
READING_LIST = "user/-/state/com.google/reading-list"
READ = "user/-/state/com.google/read"


@dataclass
class Pass:
    """One sync: the item ids read, and each request's latency by kind."""

    ids: list[int] = field(default_factory=list)
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def timed(self, kind: str, call: Callable[[], httpx.Response]) -> httpx.Response:
        began = time.perf_counter()
        answer = call()
        answer.read()
        self.latencies.setdefault(kind, []).append(time.perf_counter() - began)
        self.errors += answer.status_code != 200
        return answer


def greader_pass(http: httpx.Client, auth: str, *, ids_page: int, batch: int) -> Pass:
    """Unread ids with continuation, then their contents in batches."""
    done = Pass()
    headers = {"Authorization": f"GoogleLogin auth={auth}"}
    started = time.perf_counter()
    refs: list[str] = []
    cont: str | None = None
    while True:
        params = {"s": READING_LIST, "xt": READ, "n": str(ids_page), "output": "json"}
        if cont:
            params["c"] = cont
        body = done.timed(
            "ids",
            lambda p=params: http.get(  # type: ignore[misc]
                f"{GREADER}/reader/api/0/stream/items/ids", params=p, headers=headers
            ),
        ).json()
        refs += [r["id"] for r in body["itemRefs"]]
        cont = body.get("continuation")
        if not cont or not body["itemRefs"]:
            break
    for start in range(0, len(refs), batch):
        form = {"i": refs[start : start + batch]}
        body = done.timed(
            "contents",
            lambda f=form: http.post(  # type: ignore[misc]
                f"{GREADER}/reader/api/0/stream/items/contents", data=f, headers=headers
            ),
        ).json()
        done.ids += [int(item["id"].rsplit("/", 1)[-1], 16) for item in body["items"]]
    done.seconds = time.perf_counter() - started
    return done


def api_pass(http: httpx.Client, token: str, *, batch: int) -> Pass:
    """The unread timeline, page by page."""
    done = Pass()
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    cursor: str | None = None
    while True:
        params = {"state": "unread", "limit": str(batch)} | ({"cursor": cursor} if cursor else {})
        body = done.timed(
            "pages",
            lambda p=params: http.get("/api/v1/timeline", params=p, headers=headers),  # type: ignore[misc]
        ).json()
        done.ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    done.seconds = time.perf_counter() - started
    return done


def app_password_for(url: str, name: str) -> str:
    """A new app password for the seeded user (the raw password, as the API shows it)."""
    engine = get_engine(url)
    try:
        with session_scope(engine) as s:
            user = s.exec(select(User).where(User.name == name)).one()
            _, raw = app_passwords.create(s, user=user, name="bench", now=datetime.now(UTC))
    finally:
        engine.dispose()
    return raw


def client_login(http: httpx.Client, user: str, password: str) -> str:
    answer = http.post(f"{GREADER}/accounts/ClientLogin", data={"Email": user, "Passwd": password})
    assert answer.status_code == 200, answer.text
    return answer.text.split("Auth=")[1].strip()


def summary(name: str, passes: list[Pass]) -> float:
    """Print one side's figures; returns its mean seconds per pass."""
    seconds = sum(p.seconds for p in passes) / len(passes)
    items = len(passes[0].ids)
    requests = sum(p.requests for p in passes) / len(passes)
    errors = sum(p.errors for p in passes)
    print(
        f"{name:<15} {items:>7,} items {requests:>5.0f} requests {seconds:6.2f} s  "
        f"{items / seconds:7,.0f} items/s {requests / seconds:6.1f} req/s  errors {errors}"
    )
    kinds: dict[str, list[float]] = {}
    for p in passes:
        for kind, lat in p.latencies.items():
            kinds.setdefault(kind, []).extend(lat)
    for kind, lat in kinds.items():
        print(
            f"{'':<15} {kind:<9} {len(lat) // len(passes):>5} a pass  "
            f"p50 {percentile_ms(lat, 0.5):7.1f} ms  p99 {percentile_ms(lat, 0.99):7.1f} ms"
        )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ids-page", type=int, default=1000, help="n of stream/items/ids")
    parser.add_argument("--batch", type=int, default=BATCH, help="ids per contents call")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kith-bench-greader-"))
    try:
        started = time.perf_counter()
        seeded = seed(work / "kith.db", args.items, random.Random(7), analyze=True)
        password = app_password_for(seeded.url, "bench")
        print(f"{seeded.items:,} unread items seeded in {time.perf_counter() - started:.0f} s")
        print(
            f"Google Reader: ids n={args.ids_page}, contents in batches of {args.batch}; "
            f"API: timeline?state=unread pages of {args.batch} (its limit cap is {BATCH})"
        )
        runs: dict[str, list[Pass]] = {"greader": [], "api": []}
        args_kith = ["kith", "--database-url", seeded.url]
        with (
            serving(args_kith, work / "kith.log", cpu=None) as kith,
            httpx.Client(base_url=kith.base, timeout=120) as http,
        ):
            auth = client_login(http, "bench", password)
            sides = {
                "greader": lambda: greader_pass(
                    http, auth, ids_page=args.ids_page, batch=args.batch
                ),
                "api": lambda: api_pass(http, seeded.token, batch=args.batch),
            }
            for run in sides.values():  # warm both (caches, pages, the first connection)
                run()
            for n in range(args.rounds):
                order = ["greader", "api"] if n % 2 == 0 else ["api", "greader"]
                for side in order:
                    runs[side].append(sides[side]())
        same = set(runs["greader"][0].ids) == set(runs["api"][0].ids)
        print()
        g = summary("Google Reader", runs["greader"])
        a = summary("API timeline", runs["api"])
        print(f"\nthe same items on both sides: {'yes' if same else 'NO'}")
        ratio = g / a if a else float("nan")
        print(
            f"Google Reader pass / API pass time: {ratio:.2f}x over {args.rounds} rounds "
            f"(target <= 2x: {'met' if ratio <= 2 else 'NOT met'})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
