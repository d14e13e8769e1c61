"""The refresh job: every failure is recorded on its source and nothing stored is lost."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import func, select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import Item, Source
from app.storage import sources as source_store
from app.storage import users as user_store
from tests.helpers import FeedServer, Reply, rss

FEED = rss(("a", "First", "<p>1</p>"), ("b", "Second", "<p>2</p>"))


def setup_source(settings: Settings, url: str) -> tuple[sa.Engine, int]:
    engine = get_engine(settings.database_url)
    with session_scope(engine) as s:
        user = user_store.create_user(s, name="alice")
        assert user.id is not None
        src = source_store.create_source(s, user_id=user.id, url=url, now=datetime.now(UTC))
        assert src.id is not None
        return engine, src.id


def run(settings: Settings, engine: sa.Engine, **kw: object):
    return refresh_due(
        engine, RefreshOptions(policy=settings.fetch_policy()), include_all=True, **kw
    )  # type: ignore[arg-type]


def source_row(engine: sa.Engine, sid: int) -> Source:
    with session_scope(engine) as s:
        src = s.get(Source, sid)
        assert src is not None
        return src


def item_count(engine: sa.Engine) -> int:
    with session_scope(engine) as s:
        return s.exec(select(func.count()).select_from(Item)).one()


def test_second_pass_on_unchanged_feed_adds_nothing(
    settings: Settings, feed_server: FeedServer
) -> None:
    feed_server.routes["/feed"] = Reply(200, FEED)
    engine, _ = setup_source(settings, feed_server.url("/feed"))
    first = run(settings, engine)
    second = run(settings, engine)
    assert (first.new_items, second.new_items, second.updated) == (2, 0, 0)
    assert item_count(engine) == 2


def test_not_modified_is_cheap_and_clean(settings: Settings, feed_server: FeedServer) -> None:
    def handler(req):
        if req.headers.get("If-None-Match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        return Reply(200, FEED, {"ETag": '"v1"'})

    feed_server.routes["/feed"] = handler
    engine, sid = setup_source(settings, feed_server.url("/feed"))
    run(settings, engine)
    stats = run(settings, engine)
    assert (stats.sources, stats.new_items, stats.errors) == (1, 0, 0)
    assert feed_server.requests[-1][1].get("If-None-Match") == '"v1"'
    assert source_row(engine, sid).error_code is None


XXE = (Path(__file__).resolve().parent.parent / "data" / "xxe.xml").read_bytes()

BAD_REPLIES = {
    "server_error": (Reply(500, b"boom"), "server_error"),
    "rate_limited": (Reply(429, b"", {"Retry-After": "3600"}), "rate_limited"),
    "gone": (Reply(410, b"gone"), "gone"),
    "not_found": (Reply(404, b"gone fishing"), "not_found"),
    "not_a_feed": (Reply(200, b"<html>not a feed</html>"), "parse_error"),
    "gzip_bomb": (
        Reply(200, gzip.compress(b"\0" * 20_000_000), {"Content-Encoding": "gzip"}),
        "response_too_large",
    ),
    "oversized": (Reply(200, b"x" * 300_000), "response_too_large"),
    "slow_drip": (Reply(200, b"x" * 50, drip_delay=0.2), "timeout"),
    "never_answers": (Reply(200, b"late", hang=3), "timeout"),
    "huge_headers": (Reply(200, b"<rss/>", {"X-Junk": "j" * 100_000}), "protocol_error"),
    "redirect_to_loopback": (
        Reply(302, b"", {"Location": "http://127.1/"}),
        "destination_not_allowed",
    ),
    "redirect_loop": (Reply(302, b"", {"Location": "/feed"}), "too_many_redirects"),
}


@pytest.mark.parametrize("case", sorted(BAD_REPLIES))
def test_failures_keep_items_and_show_the_error(
    settings: Settings, feed_server: FeedServer, case: str
) -> None:
    reply, code = BAD_REPLIES[case]
    settings = settings.model_copy(
        update={"fetch_deadline_seconds": 1.0, "fetch_max_bytes": 200_000}
    )
    feed_server.routes["/feed"] = Reply(200, FEED)
    engine, sid = setup_source(settings, feed_server.url("/feed"))
    run(settings, engine)
    feed_server.routes["/feed"] = reply
    stats = run(settings, engine)
    assert stats.errors == 1
    with session_scope(engine) as s:
        _, raw = user_store.create_token(s, user_id=1)
    from app.main import create_app

    with TestClient(create_app(settings)) as client:
        body = client.get(
            f"/api/v1/sources/{sid}", headers={"Authorization": f"Bearer {raw}"}
        ).json()
        titles = sorted(
            i["title"]
            for i in client.get(
                "/api/v1/timeline", headers={"Authorization": f"Bearer {raw}"}
            ).json()["items"]
        )
    assert body["error_code"] == code and body["error_message"] and body["error_count"] == 1
    assert datetime.fromisoformat(body["next_check_at"]) > datetime.now(UTC)
    assert titles == ["First", "Second"]  # what was stored before is untouched
    assert item_count(engine) == 2
    if code == "gone":
        assert body["paused"] is True
        return
    run(settings, engine)
    assert source_row(engine, sid).error_count == 2
    # one success resets the error state
    feed_server.routes["/feed"] = Reply(200, FEED)
    run(settings, engine)
    src = source_row(engine, sid)
    assert (src.error_code, src.error_count) == (None, 0)


def test_error_is_readable_through_the_api(settings: Settings, feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Reply(500, b"boom")
    engine, sid = setup_source(settings, feed_server.url("/feed"))
    run(settings, engine)
    with session_scope(engine) as s:
        _, raw = user_store.create_token(s, user_id=1)
    from app.main import create_app

    with TestClient(create_app(settings)) as client:
        body = client.get(
            f"/api/v1/sources/{sid}", headers={"Authorization": f"Bearer {raw}"}
        ).json()
    assert body["error_code"] == "server_error" and body["error_count"] == 1
    assert body["error_message"].startswith("HTTP 500")


def test_retry_after_is_honoured(settings: Settings, feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Reply(429, b"", {"Retry-After": "7200"})
    engine, sid = setup_source(settings, feed_server.url("/feed"))
    before = datetime.now(UTC)
    run(settings, engine)
    wait = (source_row(engine, sid).next_check_at - before).total_seconds()
    assert 7100 < wait < 7400


def test_gone_pauses_the_source(settings: Settings, feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Reply(410, b"gone")
    engine, sid = setup_source(settings, feed_server.url("/feed"))
    run(settings, engine)
    src = source_row(engine, sid)
    assert src.paused and src.error_code == "gone"
    assert run(settings, engine).sources == 0  # a paused source is not fetched again


def test_permanent_redirect_moves_the_source(settings: Settings, feed_server: FeedServer) -> None:
    feed_server.routes["/old"] = Reply(301, b"", {"Location": "/new"})
    feed_server.routes["/new"] = Reply(200, FEED)
    engine, sid = setup_source(settings, feed_server.url("/old"))
    run(settings, engine)
    assert source_row(engine, sid).url == feed_server.url("/new")


def test_redirect_into_private_space_is_refused_and_url_kept(
    settings: Settings, feed_server: FeedServer
) -> None:
    feed_server.routes["/old"] = Reply(301, b"", {"Location": "http://127.0.0.1:1/admin"})
    engine, sid = setup_source(settings, feed_server.url("/old"))
    run(settings, engine)
    src = source_row(engine, sid)
    assert src.url == feed_server.url("/old") and src.error_code == "destination_not_allowed"


def test_one_failing_source_does_not_hold_up_others(
    settings: Settings, feed_server: FeedServer
) -> None:
    feed_server.routes["/bad"] = Reply(200, b"x" * 50, drip_delay=0.5)
    feed_server.routes["/good"] = Reply(200, FEED)
    settings = settings.model_copy(update={"fetch_deadline_seconds": 1.5})
    engine, bad = setup_source(settings, feed_server.url("/bad"))
    with session_scope(engine) as s:
        good = source_store.create_source(
            s, user_id=1, url=feed_server.url("/good"), now=datetime.now(UTC)
        )
    stats = run(settings, engine)
    assert (stats.sources, stats.errors, stats.new_items) == (2, 1, 2)
    assert source_row(engine, bad).error_code == "timeout"
    assert good.id is not None and source_row(engine, good.id).error_code is None


def test_billion_laughs_and_xxe_store_nothing_harmful(
    settings: Settings, feed_server: FeedServer
) -> None:
    feed_server.routes["/feed"] = Reply(200, FEED)
    engine, sid = setup_source(settings, feed_server.url("/feed"))
    run(settings, engine)
    feed_server.routes["/feed"] = Reply(200, XXE)
    stats = run(settings, engine)
    assert stats.errors == 0 and stats.new_items == 1
    with session_scope(engine) as s:
        items = s.exec(select(Item)).all()
    assert len(items) == 3  # the two stored before, untouched, and the hostile one
    assert all("root:" not in i.title + i.content and "lollol" not in i.content for i in items)


def test_posting_frequency_drives_the_next_check(
    settings: Settings, feed_server: FeedServer
) -> None:
    now = datetime.now(UTC)
    from email.utils import format_datetime

    items = "".join(
        f"<item><guid>{n}</guid><title>t{n}</title><pubDate>{format_datetime(now - timedelta(hours=12 * n))}</pubDate></item>"
        for n in range(14)
    )
    feed_server.routes["/feed"] = Reply(
        200, f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()
    )
    engine, sid = setup_source(settings, feed_server.url("/feed"))
    run(settings, engine)
    src = source_row(engine, sid)
    assert src.check_interval_seconds == 12 * 3600  # 14 posts a week: every 12 hours
    assert (
        timedelta(hours=11, minutes=59) < src.next_check_at - now < timedelta(hours=12, minutes=5)
    )


def test_priority_hook_checks_valued_sources_sooner(
    settings: Settings, feed_server: FeedServer
) -> None:
    undated = b"<rss version='2.0'><channel><title>t</title><item><guid>1</guid><title>x</title></item></channel></rss>"
    feed_server.routes["/feed"] = Reply(200, undated)  # no dates: the default interval applies
    engine, sid = setup_source(settings, feed_server.url("/feed"))
    before = datetime.now(UTC)
    options = RefreshOptions(
        policy=settings.fetch_policy(), interval=timedelta(hours=4), priority=lambda _id: 4.0
    )
    refresh_due(engine, options, include_all=True)
    wait = source_row(engine, sid).next_check_at - before
    assert timedelta(minutes=59) < wait < timedelta(minutes=62)


def test_progress_is_reported_per_source(settings: Settings, feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Reply(200, FEED)
    engine, _ = setup_source(settings, feed_server.url("/feed"))
    seen: list[tuple[int, int]] = []
    refresh_due(
        engine,
        RefreshOptions(policy=settings.fetch_policy()),
        include_all=True,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 1)]
