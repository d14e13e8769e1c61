from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.errors import OPMLError
from ingest.opml import OPMLOutline, parse_opml, render_opml
from ingest.schedule import next_check_after_failure, next_check_after_success, posting_interval

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_opml_round_trip_keeps_folders() -> None:
    outlines = [
        OPMLOutline(url="https://a.example/feed", title="A & co", html_url="https://a.example/"),
        OPMLOutline(url="https://b.example/rss", title="B", folder="Friends"),
        OPMLOutline(url="https://c.example/atom", title=None, folder="Friends"),
    ]
    assert parse_opml(render_opml(outlines)) == [
        outlines[0],
        outlines[1],
        OPMLOutline(url="https://c.example/atom", title="https://c.example/atom", folder="Friends"),
    ]


def test_nested_folders() -> None:
    doc = b"""<opml version="1.0"><body><outline text="Family"><outline text="Cousins">
    <outline xmlUrl="https://x.example/feed" text="X"/></outline></outline></body></opml>"""
    assert parse_opml(doc)[0].folder == "Family/Cousins"


def test_broken_opml_names_the_line() -> None:
    with pytest.raises(OPMLError) as info:
        parse_opml(b'<opml version="2.0">\n<body>\n<outline xmlUrl="x">\n</body></opml>')
    assert info.value.code == "invalid_opml" and info.value.line == 4


def test_opml_with_entities_is_refused() -> None:
    with pytest.raises(OPMLError):
        parse_opml(b'<!DOCTYPE opml [<!ENTITY a "b">]><opml><body/></opml>')


def test_success_schedule_is_clamped() -> None:
    assert next_check_after_success(NOW, interval=timedelta(seconds=10)) == NOW + timedelta(
        minutes=5
    )
    assert next_check_after_success(
        NOW, interval=timedelta(hours=1), ttl_minutes=180
    ) == NOW + timedelta(hours=3)
    assert next_check_after_success(NOW, interval=timedelta(days=9)) == NOW + timedelta(hours=24)


def test_failure_backoff_grows_with_jitter_and_a_cap() -> None:
    waits = [next_check_after_failure(NOW, error_count=n, jitter=0.0) - NOW for n in range(1, 5)]
    assert waits == [timedelta(minutes=5 * 2**k) for k in range(4)]
    jittered = next_check_after_failure(NOW, error_count=1, jitter=0.99) - NOW
    assert timedelta(minutes=5) < jittered < timedelta(minutes=6.25)
    assert next_check_after_failure(NOW, error_count=40, jitter=0.5) - NOW == timedelta(hours=24)
    honoured = next_check_after_failure(NOW, error_count=1, jitter=0, retry_after_seconds=3600)
    assert honoured - NOW == timedelta(hours=1)


def test_posting_frequency_sets_the_interval() -> None:
    daily = [NOW - timedelta(days=d) for d in range(7)]
    assert posting_interval(daily, now=NOW, fallback=timedelta(hours=1)) == timedelta(days=1)
    busy = [NOW - timedelta(hours=h) for h in range(168)] + [NOW - timedelta(days=30)]
    assert posting_interval(busy, now=NOW, fallback=timedelta(hours=1)) == timedelta(hours=1)
    stale = [NOW - timedelta(days=40)]
    assert posting_interval(stale, now=NOW, fallback=timedelta(hours=1)) == timedelta(hours=24)
    assert posting_interval([None, None], now=NOW, fallback=timedelta(hours=2)) == timedelta(
        hours=2
    )
    # a flood is clamped to the 5-minute floor by next_check_after_success
    flood = [NOW - timedelta(seconds=s) for s in range(5000)]
    wait = (
        next_check_after_success(
            NOW, interval=posting_interval(flood, now=NOW, fallback=timedelta(hours=1))
        )
        - NOW
    )
    assert wait == timedelta(minutes=5)


def test_cache_headers_and_ttl_are_floors_priority_cannot_undercut() -> None:
    hour = timedelta(hours=1)
    assert (
        next_check_after_success(NOW, interval=hour, fresh_for_seconds=3 * 3600) - NOW == 3 * hour
    )
    assert next_check_after_success(NOW, interval=hour, fresh_for_seconds=60) - NOW == hour
    assert next_check_after_success(NOW, interval=hour, priority=4) - NOW == timedelta(minutes=15)
    assert next_check_after_success(NOW, interval=hour, priority=4, ttl_minutes=60) - NOW == hour
    assert next_check_after_success(NOW, interval=hour, priority=0.5) - NOW == 2 * hour


def test_retry_after_is_clamped_to_the_cap() -> None:
    far = next_check_after_failure(NOW, error_count=1, jitter=0, retry_after_seconds=30 * 86400)
    assert far - NOW == timedelta(hours=24)
