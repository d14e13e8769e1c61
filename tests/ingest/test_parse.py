"""Parsing real sample documents (tests/data/) into EntryData."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.errors import ParseError
from ingest.parse import parse_feed, strip_doctype
from ingest.sanitize import plain_text, sanitize_html

DATA = Path(__file__).resolve().parent.parent / "data"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_atom_relative_links_authors_and_dates() -> None:
    feed = parse_feed(load("atom-relative.atom"), url="https://writer.example/blog/feed.atom")
    assert feed.title == "Ada & friends blog"
    first, second = feed.entries
    assert first.url == "https://writer.example/blog/posts/relative"
    assert first.title == "Relative <i>links</i>"  # type="text": the markup is text
    assert first.published == datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    assert first.tags == ("notes", "web")
    assert 'href="https://writer.example/other/"' in first.content
    assert 'src="https://writer.example/blog/img/cat.png"' in first.content
    assert first.author.name == "Ada Writer"
    assert first.identity.kind == "url" and first.identity.value == "https://writer.example/about"
    # an entry without its own author inherits the feed's
    assert second.author.name == "Ada Writer"
    assert second.identity == first.identity


@pytest.mark.parametrize(
    "needle",
    [
        "<script",
        "alert(2)",
        "onerror",
        "javascript:",
        "<base",
        "<form",
        "<input",
        "style=",
        "<iframe",
    ],
)
def test_content_is_sanitized(needle: str) -> None:
    feed = parse_feed(load("atom-relative.atom"), url="https://writer.example/blog/feed.atom")
    assert needle not in feed.entries[0].content


def test_links_get_noopener() -> None:
    html = sanitize_html('<a href="https://x.example/">x</a>')
    assert 'rel="noopener noreferrer"' in html


def test_json_feed() -> None:
    feed = parse_feed(
        load("jsonfeed.json"),
        url="https://lin.example/feed.json",
        content_type="application/feed+json",
    )
    assert [e.dedupe_key for e in feed.entries] == ["id:3", "id:2"]
    assert feed.entries[0].content == "<p>Moved to a new flat!</p>"
    assert feed.entries[0].author.name == "Lin Chen"


def test_comment_feed_threads_and_plain_text_names() -> None:
    feed = parse_feed(
        load("wp-comments.xml"), url="https://blog.example/2026/hello-world/feed/", comments=True
    )
    assert len(feed.entries) == 1  # the duplicate guid is dropped, the first kept
    entry = feed.entries[0]
    assert entry.in_reply_to == "https://blog.example/2026/hello-world/"
    assert entry.author.name == "Bob Builder"
    assert "<" not in entry.title
    assert entry.identity.kind == "feed_author"
    assert entry.identity.value == "blog.example|bob builder"


def test_entities_are_never_expanded_nor_loaded() -> None:
    feed = parse_feed(load("xxe.xml"), url="https://hostile.example/feed")
    entry = feed.entries[0]
    assert "root:" not in entry.title and "root:" not in entry.content
    assert "lollollol" not in entry.content


def test_strip_doctype_removes_the_internal_subset() -> None:
    out = strip_doctype(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    assert out == b'<?xml version="1.0"?><x>&a;</x>'


def test_not_a_feed_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(b"<html><body>hello</body></html>", url="https://x.example/")
    assert info.value.code == "parse_error"


def test_strings_are_refused() -> None:
    with pytest.raises(TypeError):
        parse_feed("/etc/passwd", url="https://x.example/")  # type: ignore[arg-type]


def test_entry_without_guid_or_link_gets_a_content_hash_key() -> None:
    doc = (
        b'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
        b"<description>y</description></item></channel></rss>"
    )
    (entry,) = parse_feed(doc, url="https://x.example/feed").entries
    assert entry.dedupe_key.startswith("hash:")
    assert parse_feed(doc, url="https://x.example/feed").entries[0].dedupe_key == entry.dedupe_key


def test_plain_text_unescapes_and_strips() -> None:
    assert plain_text("Tom &amp; <b>Jerry</b>\n  <script>x</script>") == "Tom & Jerry"
