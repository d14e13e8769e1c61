"""Comment feeds are recognised by one rule (ingest.kinds), on both parse paths, and an
ordinary blog is never misfiled as one.

The sample builders here are realistic WordPress output (RSS 2.0 and Atom comment
feeds) and are reused by the app and browser tests.
"""

from __future__ import annotations

import pytest

from ingest.kinds import (
    as_comments,
    is_comment_link,
    is_comments_url,
    is_post_feed_url,
    judge,
    looks_like_comments,
)
from ingest.parse import parse_feed, parse_with_feedparser

RSS_NS = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'
)


def wp_comments_rss(
    site: str,
    comments: list[tuple[str, str, int]],
    *,
    title: str | None = None,
    post_title: str | None = None,
) -> bytes:
    """A WordPress RSS 2.0 comment feed. comments: (post slug, commenter, comment id).

    With ``post_title`` it is one post's feed ("Comments on: X", items "By: Name"),
    else the site-wide one ("Comments for Site", items "Comment on X by Name")."""
    feed_title = title or (f"Comments on: {post_title}" if post_title else "Comments for Site")
    items = "".join(
        "<item>"
        + (
            f"<title>By: {who}</title>"
            if post_title
            else f"<title>Comment on {slug.title()} by {who}</title>"
        )
        + f"<link>{site}/2026/11/{slug}/#comment-{n}</link>"
        f"<dc:creator><![CDATA[{who}]]></dc:creator>"
        f"<pubDate>Mon, {10 + n % 18} Nov 2026 10:00:00 +0000</pubDate>"
        f'<guid isPermaLink="false">{site}/?p=12#comment-{n}</guid>'
        f"<description><![CDATA[Comment {n} by {who}]]></description>"
        f"<content:encoded><![CDATA[<p>Comment {n} by {who}</p>]]></content:encoded>"
        "</item>"
        for slug, who, n in comments
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" {RSS_NS}><channel>'
        f"<title>{feed_title}</title>"
        f'<atom:link href="{site}/comments/feed/" rel="self" type="application/rss+xml" />'
        f"<link>{site}/</link><description>A blog</description>"
        f"<lastBuildDate>Mon, 30 Nov 2026 10:00:00 +0000</lastBuildDate>"
        f"<sy:updatePeriod>hourly</sy:updatePeriod>{items}</channel></rss>"
    ).encode()


def wp_comments_atom(site: str, comments: list[tuple[str, str, int]], *, title: str) -> bytes:
    """A WordPress Atom comment feed: entries carry thr:in-reply-to (RFC 4685)."""
    entries = "".join(
        f"<entry><title>By: {who}</title>"
        f'<link rel="alternate" href="{site}/2026/11/{slug}/#comment-{n}" type="text/html" />'
        f"<author><name>{who}</name></author>"
        f"<id>{site}/?p=12#comment-{n}</id>"
        f"<updated>2026-11-{10 + n % 18}T10:00:00Z</updated>"
        f"<published>2026-11-{10 + n % 18}T10:00:00Z</published>"
        f'<thr:in-reply-to ref="{site}/?p=12" href="{site}/2026/11/{slug}/" type="text/html" />'
        f'<content type="html" xml:base="{site}/2026/11/{slug}/#comment-{n}">'
        f"&lt;p&gt;Comment {n}&lt;/p&gt;</content></entry>"
        for slug, who, n in comments
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:thr="http://purl.org/syndication/thread/1.0" xml:lang="en-US">'
        f'<title type="text">{title}</title><subtitle type="text">A blog</subtitle>'
        f"<updated>2026-11-30T10:00:00Z</updated>"
        f'<link rel="alternate" type="text/html" href="{site}/" />'
        f"<id>{site}/comments/feed/atom/</id>{entries}</feed>"
    ).encode()


def blog_rss(site: str, posts: list[tuple[str, str]], *, title: str = "Notes") -> bytes:
    """An ordinary WordPress blog feed. posts: (slug, title); each names its comment feed."""
    items = "".join(
        f"<item><title>{post_title}</title><link>{site}/2026/11/{slug}/</link>"
        f"<comments>{site}/2026/11/{slug}/#respond</comments>"
        f"<dc:creator><![CDATA[Ann Author]]></dc:creator>"
        f"<pubDate>Mon, {10 + n} Nov 2026 10:00:00 +0000</pubDate>"
        f'<guid isPermaLink="false">{site}/?p={100 + n}</guid>'
        f"<description><![CDATA[About {slug}]]></description>"
        f'<wfw:commentRss xmlns:wfw="http://wellformedweb.org/CommentAPI/">'
        f"{site}/2026/11/{slug}/feed/</wfw:commentRss>"
        f'<slash:comments xmlns:slash="http://purl.org/rss/1.0/modules/slash/">3</slash:comments>'
        "</item>"
        for n, (slug, post_title) in enumerate(posts)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" {RSS_NS}><channel>'
        f"<title>{title}</title><link>{site}/</link><description>A blog</description>"
        f"{items}</channel></rss>"
    ).encode()


SITE = "https://alice.example"
COMMENTS = [("hello", "Bob Builder", 7), ("hello", "Carol Jones", 8), ("trip", "Dan Dee", 9)]
PARSERS = [parse_feed, parse_with_feedparser]


@pytest.mark.parametrize("parse", PARSERS, ids=["fast", "feedparser"])
@pytest.mark.parametrize(
    ("body", "url"),
    [
        (wp_comments_rss(SITE, COMMENTS), "https://alice.example/comments/feed/"),
        (wp_comments_rss(SITE, COMMENTS), "https://feeds.example/x.xml"),  # any address
        (
            wp_comments_rss(SITE, COMMENTS[:2], post_title="Hello"),
            "https://alice.example/2026/11/hello/feed/",
        ),
        (wp_comments_atom(SITE, COMMENTS, title="Comments for Site"), "https://a.example/f"),
        # a title in no language known here: the markup alone says it
        (wp_comments_atom(SITE, COMMENTS, title="Коментари"), "https://a.example/f"),
        (
            wp_comments_rss(SITE, COMMENTS, title="Kommentare für Alices Blog"),
            "https://alice.example/?feed=comments-rss2",
        ),
    ],
    ids=["site-wide", "site-wide-odd-url", "one-post", "atom", "atom-untitled", "german"],
)
def test_wordpress_comment_feeds_are_recognised(parse, body: bytes, url: str) -> None:
    feed = parse(body, url=url)
    verdict = judge(feed, url)
    assert verdict.comments, verdict
    assert looks_like_comments(feed, url)


@pytest.mark.parametrize("parse", PARSERS, ids=["fast", "feedparser"])
def test_a_blog_with_a_post_titled_comments_on_stays_a_feed(parse) -> None:
    body = blog_rss(SITE, [("budget", "Comments on the budget"), ("walk", "A walk")])
    for url in ("https://alice.example/feed/", "https://alice.example/blog/feed/"):
        verdict = judge(parse(body, url=url), url)
        assert not verdict.comments, verdict
    # even a single post, titled so, is one entry of a blog and not a comment
    single = blog_rss(SITE, [("budget", "Comments on the budget")])
    assert not looks_like_comments(
        parse(single, url="https://a.example/feed/"), "https://a.example/feed/"
    )


@pytest.mark.parametrize("parse", PARSERS, ids=["fast", "feedparser"])
def test_one_weak_signal_is_not_enough(parse) -> None:
    # a blog named like a comment feed, its posts ordinary
    named = blog_rss(SITE, [("a", "First"), ("b", "Second")], title="Comments on Culture")
    verdict = judge(parse(named, url="https://c.example/feed/"), "https://c.example/feed/")
    assert not verdict.comments and verdict.reasons[0] == "a comment feed's title", verdict
    # posts without comment feeds of their own, titled "By: ..." (one weak signal)
    plain = (
        b"<rss version='2.0'><channel><title>Interviews</title><link>https://i.example/</link>"
        b"<item><title>By: the sea</title><link>https://i.example/sea</link></item>"
        b"<item><title>By: the river</title><link>https://i.example/river</link></item>"
        b"</channel></rss>"
    )
    assert not looks_like_comments(parse(plain, url="https://i.example/f"), "https://i.example/f")


def test_two_weak_signals_are_enough_for_an_empty_comment_feed() -> None:
    body = wp_comments_rss(SITE, [], post_title="Hello")
    url = "https://alice.example/2026/11/hello/feed/"
    verdict = judge(parse_feed(body, url=url), url)
    assert verdict.comments and verdict.score == 2, verdict
    # the same empty feed at an address that says nothing is left a feed
    assert not looks_like_comments(parse_feed(body, url=url), "https://x.example/f.xml")


def test_as_comments_threads_entries_by_their_comment_links() -> None:
    url = "https://alice.example/comments/feed/"
    plain = parse_feed(wp_comments_rss(SITE, COMMENTS), url=url)
    assert all(e.in_reply_to is None for e in plain.entries)
    threaded = as_comments(plain)
    as_parsed = parse_feed(wp_comments_rss(SITE, COMMENTS), url=url, comments=True)
    assert threaded == as_parsed  # the same as parsing it as comments
    assert threaded.entries[0].in_reply_to == "https://alice.example/2026/11/hello/"
    assert as_comments(threaded) is threaded


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://a.example/p/#comment-12", True),
        ("https://a.example/p/#div-comment-3", True),
        ("https://b.blogspot.com/2026/11/p.html?showComment=1700#c123", True),
        ("https://a.example/p/#c123", False),  # without Blogger's query: any anchor
        ("https://a.example/p/#comments", False),
        ("https://a.example/p/", False),
        (None, False),
    ],
)
def test_comment_links(link: str | None, expected: bool) -> None:
    assert is_comment_link(link) is expected


@pytest.mark.parametrize(
    ("url", "comments", "post"),
    [
        ("https://a.example/comments/feed/", True, False),
        ("https://a.example/comments/feed/atom/", True, False),
        ("https://a.example/?feed=comments-rss2", True, False),
        ("https://b.blogspot.com/feeds/comments/default", True, False),
        ("https://b.blogspot.com/feeds/123/comments/default", True, False),
        ("https://a.example/2026/11/hello/feed/", False, True),
        ("https://a.example/notes/hello-world/feed/atom/", False, True),
        ("https://a.example/?p=12&feed=rss2", False, True),
        ("https://a.example/feed/", False, False),
        ("https://a.example/blog/feed/", False, False),
        ("https://a.example/category/news/feed/", False, False),
        ("https://a.example/tag/x/feed/", False, False),
        ("https://a.example/2026/11/feed/", False, False),
        ("https://a.example/feed/atom/", False, False),
        ("https://a.example/about-comments/feed.xml", False, False),
    ],
)
def test_comment_feed_addresses(url: str, comments: bool, post: bool) -> None:
    assert is_comments_url(url) is comments
    assert is_post_feed_url(url) is post
