"""Parsing in worker processes, under a time budget."""

from __future__ import annotations

import asyncio
import time

import pytest

from ingest.errors import ParseError
from ingest.parse import cap_author_fields, parse_with_feedparser
from ingest.pool import ParsePool, ParseTimeout
from ingest.types import FeedData
from tests.helpers import rss


def slow_job(content: bytes, url: str, content_type: str | None, comments: bool):
    """Stands in for a parse that never ends (a worker stuck in a regex)."""
    if content == b"slow":
        time.sleep(60)
    from ingest.pool import parse_job

    return parse_job(content, url, content_type, comments)


def test_parse_in_workers() -> None:
    pool = ParsePool(workers=2, budget_seconds=30)
    doc = rss(("a", "A", "<p>x</p>"), ("b", "B", "<p>y</p>"))

    async def go():
        return await asyncio.gather(
            *(
                pool.parse(doc, url="https://x.example/", content_type=None, comments=False)
                for _ in range(4)
            )
        )

    results = asyncio.run(go())
    assert all(isinstance(r, FeedData) and len(r.entries) == 2 for r in results)


def test_errors_come_back_with_their_code() -> None:
    pool = ParsePool(workers=1, budget_seconds=30)
    with pytest.raises(ParseError) as info:
        asyncio.run(
            pool.parse(
                b"<html>no</html>", url="https://x.example/", content_type=None, comments=False
            )
        )
    assert info.value.code == "parse_error"


def test_a_parse_over_budget_is_killed_and_others_still_finish() -> None:
    pool = ParsePool(workers=2, budget_seconds=1.5, job=slow_job)
    doc = rss(("a", "A", "<p>x</p>"))

    async def go():
        slow = pool.parse(b"slow", url="https://slow.example/", content_type=None, comments=False)
        fast = [
            pool.parse(doc, url="https://x.example/", content_type=None, comments=False)
            for _ in range(3)
        ]
        return await asyncio.gather(slow, *fast, return_exceptions=True)

    slow, *fast = asyncio.run(go())
    assert isinstance(slow, ParseTimeout) and slow.code == "parse_timeout"
    assert all(isinstance(r, FeedData) for r in fast), fast
    # the pool works again afterwards
    again = asyncio.run(
        pool.parse(doc, url="https://x.example/", content_type=None, comments=False)
    )
    assert len(again.entries) == 1


def test_inline_mode_parses_without_processes() -> None:
    pool = ParsePool(workers=0, budget_seconds=1)
    result = asyncio.run(
        pool.parse(
            rss(("a", "A", "x")), url="https://x.example/", content_type=None, comments=False
        )
    )
    assert result.entries[0].title == "A"


def test_a_64k_author_is_cut_before_feedparser_sees_it() -> None:
    author = b"a" * 65536 + b"@example.org (Eve)"
    doc = (
        b"<rss version='2.0'><channel><title>t & broken</title><item><guid>1</guid><title>x</title><author>"
        + author
        + b"</author></item></channel></rss>"
    )
    capped = cap_author_fields(doc)
    assert len(capped) < 2000
    feed = parse_with_feedparser(doc, url="https://x.example/")
    assert feed.entries[0].dedupe_key == "id:https://x.example/1"
    assert len(feed.entries[0].author.email or feed.entries[0].author.name or "") <= 1100
