"""Fever sync against Kith's own API, and the digest mail's cost over building the digest.

    .venv/bin/python -m bench.fever [--people 20] [--posts 100] [--users 20]

Part 1: one user follows ``--people`` feeds of ``--posts`` posts each (loopback feed
server, ingested once). With the app on uvicorn (a fresh SQLite file, default settings), a
native app's first sync through Fever (auth, groups, feeds, unread_item_ids, then items
with_ids in batches of 50, as Reeder does) is timed against reading the same unread items
through GET /api/v1/timeline?state=unread (pages of 200, as the reader's API clients
page). Prints both, items/s and the ratio.

Part 2: ``--users`` users subscribed to the daily digest mail; one run of
send_due_digests to an aiosmtpd server on loopback against building the same digests
only (build_digest + reach_out), in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr

from app.apps import passwords as app_passwords
from app.config import Settings
from app.db import get_engine, session_scope, upgrade_database
from app.jobs.digest import build_digest
from app.jobs.digest_mail import due_period, send_due_digests
from app.jobs.refresh import RefreshOptions, refresh_due
from app.main import create_app
from app.people.reach import reach_out
from app.storage import digest_mail as mail_store
from app.storage import sources as source_store
from app.storage import users as user_store
from tests.helpers import FeedServer, Reply

NOW = datetime.now(UTC)


def rss(name: str, n: int) -> bytes:
    site = f"https://{name.lower()}.example"
    items = "".join(
        f"<item><guid>{site}/{i}</guid><link>{site}/{i}</link><title>{name} post {i}</title>"
        f"<author>{name.lower()}@{name.lower()}.example ({name} Person)</author>"
        f"<pubDate>{(NOW - timedelta(hours=i + 1)).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
        f"</pubDate><description>&lt;p&gt;{'words ' * 60}&lt;/p&gt;</description></item>"
        for i in range(n)
    )
    return f"<rss version='2.0'><channel><title>{name}</title>{items}</channel></rss>".encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed(settings: Settings, feeds: FeedServer, user_id: int, people: int, posts: int) -> None:
    engine = get_engine(settings.database_url)
    with session_scope(engine) as s:
        for p in range(people):
            path = f"/u{user_id}/p{p}"
            feeds.routes[path] = Reply(200, rss(f"P{user_id}x{p}", posts))
            source_store.create_source(s, user_id=user_id, url=feeds.url(path), now=NOW)
    refresh_due(engine, RefreshOptions(policy=settings.fetch_policy()))


def part_fever(settings: Settings, feeds: FeedServer, people: int, posts: int) -> None:
    engine = get_engine(settings.database_url)
    with session_scope(engine) as s:
        user = user_store.create_user(s, name="bench", password="bench horse")
        assert user.id is not None
        _, token = user_store.create_token(s, user_id=user.id)
        _, raw = app_passwords.create(s, user=user, name="bench", now=NOW)
        user_id = user.id
    key = hashlib.md5(f"bench:{raw}".encode()).hexdigest()
    seed(settings, feeds, user_id, people, posts)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(200):
            try:
                if http.get("/api/v1/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)

        def fever_sync() -> tuple[int, int]:
            calls = 0

            def call(query: str, **data: str) -> dict[str, object]:
                nonlocal calls
                calls += 1
                resp = http.post("/fever/?api" + query, data={"api_key": key, **data})
                body: dict[str, object] = resp.json()
                assert body["auth"] == 1, body
                return body

            call("")
            call("&groups")
            call("&feeds")
            unread = [int(i) for i in str(call("&unread_item_ids")["unread_item_ids"]).split(",")]
            got = 0
            for start in range(0, len(unread), 50):
                batch = ",".join(map(str, unread[start : start + 50]))
                got += len(call("&items", with_ids=batch)["items"])  # type: ignore[arg-type]
            return got, calls

        def api_sync() -> tuple[int, int]:
            calls, got, cursor = 1, 0, None
            auth = {"Authorization": f"Bearer {token}"}
            http.get("/api/v1/people", params={"limit": 200}, headers=auth)
            while True:
                params: dict[str, str | int] = {"limit": 200, "state": "unread"}
                if cursor:
                    params["cursor"] = cursor
                page = http.get("/api/v1/timeline", params=params, headers=auth).json()
                calls += 1
                got += len(page["items"])
                cursor = page["next_cursor"]
                if not cursor:
                    return got, calls

        fever_sync(), api_sync()  # warm both
        runs = {}
        for name, run in (("fever", fever_sync), ("api", api_sync)):
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                got, calls = run()
                best = min(best, time.perf_counter() - started)
            runs[name] = (best, got, calls)
    server.should_exit = True
    thread.join(timeout=10)
    (f_s, f_n, f_c), (a_s, a_n, a_c) = runs["fever"], runs["api"]
    print(f"fever first sync: {f_n} items in {f_c} calls, {f_s:.2f} s ({f_n / f_s:,.0f} items/s)")
    print(f"api unread pages: {a_n} items in {a_c} calls, {a_s:.2f} s ({a_n / a_s:,.0f} items/s)")
    print(f"fever/api time ratio: {f_s / a_s:.2f}x (best of 3 each)")


def part_mail(settings: Settings, feeds: FeedServer, users: int) -> None:
    from aiosmtpd.controller import Controller

    class Sink:
        count = 0

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
            Sink.count += 1
            return "250 OK"

    engine = get_engine(settings.database_url)
    ids = []
    for n in range(users):
        with session_scope(engine) as s:
            user = user_store.create_user(s, name=f"mail{n}", password="x" * 12)
            assert user.id is not None
            ids.append(user.id)
            mail_store.put_subscription(
                s, user_id=user.id, frequency="daily", email=f"m{n}@example.org", hour_utc=0
            )
        seed(settings, feeds, user.id, 3, 20)
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    cfg = settings.model_copy(
        update={"smtp_url": SecretStr(f"smtp://127.0.0.1:{port}?starttls=off")}
    )
    period = due_period("daily", 0, NOW)
    assert period is not None
    started = time.perf_counter()
    with session_scope(engine) as s:
        for user_id in ids:
            build_digest(s, user_id=user_id, since=period.since, now=NOW)
            reach_out(s, user_id=user_id, now=NOW, limit=5)
    build = time.perf_counter() - started
    started = time.perf_counter()
    report = send_due_digests(engine, cfg, NOW)
    send = time.perf_counter() - started
    controller.stop()
    assert report.sent == users == Sink.count, (report, Sink.count)
    print(f"digest build only: {users} users in {build:.2f} s ({build / users * 1000:.0f} ms/user)")
    print(f"digest mail sent:  {users} users in {send:.2f} s ({send / users * 1000:.0f} ms/user)")
    print(f"send/build ratio: {send / build:.2f}x (claim, render both parts, SMTP, record)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kith-bench-fever-"))
    feeds = FeedServer()
    try:
        settings = Settings(
            database_url=f"sqlite:///{work / 'kith.db'}",
            allowed_hosts=[feeds.hostport],
            secret_key="bench-" + "x" * 32,
        )
        upgrade_database(settings.database_url)
        part_fever(settings, feeds, args.people, args.posts)
        part_mail(settings, feeds, args.users)
    finally:
        feeds.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
