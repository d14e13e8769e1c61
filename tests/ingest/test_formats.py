"""Every format and encoding Kith reads, from real sample documents in tests/data/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.parse import parse_feed
from ingest.types import Enclosure

DATA = Path(__file__).resolve().parent.parent / "data"


def parse(name: str, url: str, **kw):
    return parse_feed((DATA / name).read_bytes(), url=url, **kw)


def test_rss_091_keys_by_link() -> None:
    feed = parse("rss091.xml", "https://ninety.example/rss")
    (entry,) = feed.entries
    assert feed.title == "Ninety-one"
    assert entry.dedupe_key == "link:https://ninety.example/first"
    assert entry.identity.kind == "feed_author" and entry.identity.display_name == "Ninety-one"


def test_rss_10_rdf() -> None:
    feed = parse("rss1.rdf", "https://planet.example/rss10.xml")
    assert [e.author.name for e in feed.entries] == ["Hanna Nilsen", "Ola Dahl"]
    assert feed.entries[0].tags == ("home",)
    assert feed.entries[1].content == "<p>After forty years at the yard I am <b>retired</b>.</p>"


def test_atom_03_goes_through_feedparser() -> None:
    feed = parse("atom03.xml", "https://old.example/atom")
    (entry,) = feed.entries
    assert entry.title == "Still on Atom 0.3"
    assert entry.content == "<p>Hello from <b>2004</b></p>"
    assert entry.published == datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    assert entry.author.name == "Olga Old"


def test_atom_xhtml_content_and_titles() -> None:
    feed = parse("atom-xhtml.atom", "https://jo.example/atom.xml")
    first, second = feed.entries
    assert first.title == "A new job"
    assert (
        '<a href="https://jo.example/library" rel="noopener noreferrer">library</a>'
        in first.content
    )
    assert 'src="https://jo.example/images/desk.jpg"' in first.content  # relative to the document
    assert second.title == "Plain & simple"
    assert second.content == "Text with &lt;tags&gt; that are text."
    assert second.identity.kind == "email_sha256"


def test_json_feed_11() -> None:
    feed = parse("jsonfeed.json", "https://lin.example/feed.json")
    assert feed.entries[1].content == "<p>Plain text &amp; more</p>"


@pytest.mark.parametrize(
    ("name", "url", "title", "entry_title"),
    [
        ("utf16-bom.xml", "https://zoe.example/rss", "Zoë’s blog", "Crème brûlée — ½ recipe"),
        ("cp1252.xml", "https://cafe.example/rss", "Café notes", "“Smart” quotes — and €"),
        ("utf8-bom.atom", "https://bom.example/atom", "BOM blog", "Grüße"),
    ],
)
def test_encodings(name: str, url: str, title: str, entry_title: str) -> None:
    feed = parse(name, url)
    assert feed.title == title and feed.entries[0].title == entry_title


def test_http_charset_overrides_a_wrong_declaration() -> None:
    body = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Ærø</title><item><guid>1</guid><title>Ø</title></item></channel></rss>'
    feed = parse_feed(
        body.encode("iso-8859-1"),
        url="https://x.example/",
        content_type="application/rss+xml; charset=iso-8859-1",
    )
    assert feed.title == "Ærø" and feed.entries[0].title == "Ø"


def test_relative_and_unsafe_links() -> None:
    (entry,) = parse("unsafe-links.xml", "https://links.example/blog/feed").entries
    assert entry.url is None  # javascript: is never a link
    assert entry.enclosures == (
        Enclosure(url="https://links.example/audio/ep1.mp3", type="audio/mpeg", length=999),
        Enclosure(url="https://cdn.links.example/photo.jpg", type="image/jpeg", length=None),
    )
    assert entry.tags == ("Notes", "Web & more")
    assert 'href="https://links.example/blog/relative/page"' in entry.content
    assert 'src="https://cdn.example/x.png"' in entry.content


@pytest.mark.parametrize(
    "needle",
    [
        "<script",
        "alert(",
        "javascript",
        "vbscript",
        "data:",
        "<svg",
        "<style",
        "style=",
        "<object",
        "<embed",
        "<iframe",
        "srcdoc",
        "<form",
        "formaction",
        "<base",
        "<meta",
        "onerror",
        "onload",
        "onclick",
    ],
)
def test_hostile_content_is_neutralised(needle: str) -> None:
    (entry,) = parse("unsafe-links.xml", "https://links.example/blog/feed").entries
    assert needle not in entry.content.lower()
    assert "click" in entry.content and "css" in entry.content  # the text itself survives


def test_threading_and_comment_metadata() -> None:
    (comment,) = parse("atom-threading.atom", "https://b.example/comments.atom").entries
    assert comment.in_reply_to == "https://b.example/hello"
    assert comment.comments_feed == "https://b.example/hello/comments.atom"
    assert comment.comment_count == 4
    post = parse("wordpress.xml", "https://mira.example/feed/").entries[0]
    assert (
        post.comments_feed == "https://mira.example/2026/11/23/baby/feed/"
        and post.comment_count == 4
    )
    assert post.tags == ("Family", "News")


def test_podcast_authors_and_enclosures() -> None:
    first, second = parse("podcast.xml", "https://twofriends.example/feed.xml").entries
    assert first.author.name == "Ade Bello" and first.author.email == "ade@twofriends.example"
    assert second.author.name == "Ben Adeyemi"  # the feed's own author as the fallback
    assert first.enclosures[0].url == "https://twofriends.example/12.mp3"
