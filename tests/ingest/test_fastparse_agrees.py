"""The lxml fast path and feedparser agree on well-formed feeds (issue 3's condition
for using a fast parser at all), and the fast path declines what it does not handle."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench.farm import atom_feed, comments_feed, rss_feed
from ingest.fastparse import parse_xml_fast
from ingest.parse import parse_feed, parse_with_feedparser, strip_doctype

DATA = Path(__file__).resolve().parent.parent / "data"
WELL_FORMED = [
    ("atom-relative.atom", "https://writer.example/blog/feed.atom", False),
    ("atom-xhtml.atom", "https://jo.example/atom.xml", False),
    ("rss1.rdf", "https://planet.example/rss10.xml", False),
    ("wordpress.xml", "https://mira.example/feed/", False),
    ("wp-comments.xml", "https://blog.example/2026/hello-world/feed/", True),
    ("mastodon.rss", "https://social.example/@kim.rss", False),
    ("podcast.xml", "https://twofriends.example/feed.xml", False),
    ("atom-threading.atom", "https://b.example/comments.atom", True),
    ("utf8-bom.atom", "https://bom.example/atom", False),
    ("utf16-bom.xml", "https://zoe.example/rss", False),
    ("cp1252.xml", "https://cafe.example/rss", False),
    ("rss091.xml", "https://ninety.example/rss", False),
    ("unsafe-links.xml", "https://links.example/blog/feed", False),
]


def both(content: bytes, url: str, comments: bool):
    content = strip_doctype(content)
    fast = parse_xml_fast(content, url=url, content_type=None, comments=comments)
    assert fast is not None, "the fast path declined a well-formed feed"
    slow = parse_with_feedparser(content, url=url, comments=comments)
    return fast, slow


def assert_same(fast, slow) -> None:
    assert (fast.title, fast.link, fast.ttl_minutes) == (slow.title, slow.link, slow.ttl_minutes)
    assert len(fast.entries) == len(slow.entries)
    for f, s in zip(fast.entries, slow.entries, strict=True):
        for name in (
            "dedupe_key",
            "url",
            "title",
            "content",
            "published",
            "updated",
            "author",
            "identity",
            "in_reply_to",
            "tags",
        ):
            assert getattr(f, name) == getattr(s, name), (name, f.dedupe_key)


@pytest.mark.parametrize(("name", "url", "comments"), WELL_FORMED)
def test_fast_path_agrees_with_feedparser(name: str, url: str, comments: bool) -> None:
    fast, slow = both((DATA / name).read_bytes(), url, comments)
    assert fast.entries, "sample has entries"
    assert_same(fast, slow)


@pytest.mark.parametrize("make", [rss_feed, atom_feed, comments_feed])
def test_fast_path_agrees_on_generated_feeds(make) -> None:  # type: ignore[no-untyped-def]
    content = make(3, 20, random.Random(1), "https://farm.example")
    fast, slow = both(content, "https://farm.example/feed", make is comments_feed)
    assert len(fast.entries) == 20
    assert_same(fast, slow)


@pytest.mark.parametrize("xhtml", [False, True])
@pytest.mark.parametrize("make", [rss_feed, atom_feed, comments_feed])
def test_fast_path_agrees_on_blog_like_feeds(make, xhtml: bool) -> None:  # type: ignore[no-untyped-def]
    """The ingest benchmark's farm (figures, srcset, relative links, embeds, scripts;
    Atom with xhtml content, whose empty <iframe/> must not swallow what follows)."""
    if xhtml and make is not atom_feed:
        pytest.skip("xhtml content is an Atom construct")
    extra = {"xhtml": True} if xhtml else {}
    content = make(3, 20, random.Random(1), "https://farm.example", blogs=True, **extra)
    fast, slow = both(content, "https://farm.example/feed", make is comments_feed)
    assert len(fast.entries) == 20
    assert_same(fast, slow)
    assert all("&lt;p" not in e.content and "<script" not in e.content for e in fast.entries)


@pytest.mark.parametrize(
    "content",
    [
        b"<rss version='2.0'><channel><title>broken & unescaped</title></channel></rss>",
        b'<?xml version="1.0"?><feed xmlns="http://purl.org/atom/ns#"><title>0.3</title></feed>',
        b"<html><body>not a feed</body></html>",
    ],
)
def test_fast_path_declines_what_it_does_not_handle(content: bytes) -> None:
    assert parse_xml_fast(content, url="https://x.example/", content_type=None) is None


def test_relative_guids_key_alike_on_both_paths() -> None:
    doc = (
        b"<rss version='2.0'><channel><title>t</title><link>https://x.example/</link>"
        b"<item><guid>1234</guid><title>a</title></item>"
        b"<item><guid isPermaLink='false'>5678</guid><title>b</title></item></channel></rss>"
    )
    fast, slow = both(doc, "https://x.example/feed", False)
    assert [e.dedupe_key for e in fast.entries] == ["id:https://x.example/1234", "id:5678"]
    assert_same(fast, slow)


def test_charset_conflict_goes_to_feedparser() -> None:
    doc = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Caf\xe9</title><item><guid>1</guid><title>x</title></item></channel></rss>'
    content = doc.encode("latin-1")
    assert (
        parse_xml_fast(
            content, url="https://x.example/", content_type="text/xml; charset=iso-8859-1"
        )
        is None
    )
    assert (
        parse_feed(
            content, url="https://x.example/", content_type="text/xml; charset=iso-8859-1"
        ).title
        == "Caf\xe9"
    )


def test_odd_dates_and_missing_titles_agree() -> None:
    doc = (
        b"<rss version='2.0'><channel><title>t</title><link>https://x.example/</link>"
        b"<item><guid>a</guid><pubDate>2026-11-23 10:00:00</pubDate>"
        b"<description>&lt;p&gt;Just landed in Lisbon, tired but happy to be back with everyone again after a long, long trip across three continents and more airports than I can count.&lt;/p&gt;</description></item>"
        b"<item><guid>b</guid><title>Dated</title><pubDate>Mon, 23 Nov 2026 10:00:00 EST</pubDate></item>"
        b"</channel></rss>"
    )
    fast, slow = both(doc, "https://x.example/feed", False)
    assert_same(fast, slow)
    untitled, dated = fast.entries
    assert (
        untitled.published is not None
        and untitled.published.isoformat() == "2026-11-23T10:00:00+00:00"
    )
    assert dated.published is not None and dated.published.hour == 15  # EST is UTC-5
    assert untitled.title.startswith("Just landed in Lisbon") and untitled.title.endswith("...")
    assert len(untitled.title) <= 120
