"""Is this feed a blog's comment feed? One rule, for every door a source comes in by.

Discovery asks it before subscribing; the refresh job asks it after every parse of a
source filed as a plain feed (an OPML import, the reader's add form, the CLI and the
API without discovery never look). Pure: a parsed document and its URL in, a verdict
with its reasons out.

Signals, each with a weight; a feed is a comment feed at a score of two or more, so
no single weak signal (a blog named "Comments on Culture", a post titled "Comments
on the budget", a feed at ``/blog/feed/``) ever misfiles a blog:

* strong (2): most entries carry RFC 4685 ``thr:in-reply-to``; most entries link to
  ``post#comment-N`` (WordPress) or ``?showComment=N#cN`` (Blogger);
* weak (1): the feed title is a comment-feed title ("Comments on: X", "Comments for
  X" and WordPress's translations of them); most entry titles are "By: Name" or
  "Comment on X by Name" (and translations); the URL is a comment feed's
  (``/comments/feed/``, ``?feed=comments-rss2``, Blogger's ``/feeds/comments/``);
  the URL is a per-post feed (``/2026/11/hello/feed/``, ``?p=12&feed=rss2``);
* against (-2): most entries name a comment feed of their own (``wfw:commentRss``,
  ``link rel="replies"``) and none replies to anything: those are posts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urldefrag, urlsplit

from ingest.types import EntryData, FeedData

THRESHOLD = 2

# WordPress's "Comments on: %s" / "Comments for %s" and their translations (fr, de,
# es, it, pt, nl): a title that starts so, with the preposition as a whole word
_FEED_TITLE = re.compile(
    r"^(?:comments (?:on|for)"
    r"|commentaires (?:sur|pour)"
    r"|kommentare (?:zu|zum|zur|für)"
    r"|comentarios (?:en|para|sobre)"
    r"|commenti (?:a|su|per)"
    r"|comentários (?:em|sobre|para)"
    r"|reacties (?:op|voor))(?:\s*:|\s)",
    re.IGNORECASE,
)
# "By: %s" and "Comment on %1$s by %2$s", translated alike; the colon is required
_BY = re.compile(r"^(?:by|par|von|por|di|da|door)\s*:\s*\S", re.IGNORECASE)
_COMMENT_ON_BY = re.compile(
    r"^(?:comment on .+ by"
    r"|commentaire sur .+ par"
    r"|kommentar zu .+ von"
    r"|comentario en .+ por"
    r"|commento (?:a|su) .+ d[ai]"
    r"|comentário (?:em|sobre) .+ por"
    r"|reactie op .+ door) \S",
    re.IGNORECASE,
)
_COMMENT_FRAGMENT = re.compile(r"^(?:div-)?comment-?\d+$", re.IGNORECASE)
_BLOGGER_FRAGMENT = re.compile(r"^c\d+$")
_COMMENTS_PATH = re.compile(
    r"/comments/feed(?:/(?:atom|rss2?|rdf))?/?$|/feeds/(?:\d+/)?comments/", re.IGNORECASE
)
# archive feeds (a category's, a tag's, an author's posts), not one post's comments
_ARCHIVES = frozenset({"category", "tag", "author", "type", "series", "topics", "topic"})
_FEED_FORMATS = frozenset({"rss", "rss2", "atom", "rdf"})


@dataclass(frozen=True, slots=True)
class KindVerdict:
    """The verdict and the signals behind it (each reason names one signal)."""

    comments: bool
    score: int
    reasons: tuple[str, ...]


def looks_like_comments(feed: FeedData, url: str) -> bool:
    """True when ``feed`` (fetched from ``url``) is a blog's comment feed."""
    return judge(feed, url).comments


def judge(feed: FeedData, url: str) -> KindVerdict:
    """Weigh every signal; see the module docstring for the rule."""
    reasons: list[str] = []
    score = 0
    entries = feed.entries

    def most(test: list[bool]) -> bool:
        return bool(test) and sum(test) * 2 >= len(test)

    if most([e.in_reply_to is not None and not _is_fragment_parent(e) for e in entries]):
        score += 2
        reasons.append("entries carry thr:in-reply-to")
    if most([is_comment_link(e.url) for e in entries]):
        score += 2
        reasons.append("entries link to #comment anchors")
    if _FEED_TITLE.match(feed.title.strip()):
        score += 1
        reasons.append("a comment feed's title")
    if most([_comment_title(e.title) for e in entries]):
        score += 1
        reasons.append("entries titled as comments (By: name)")
    if is_comments_url(url):
        score += 1
        reasons.append("a comment feed's URL")
    elif is_post_feed_url(url):
        score += 1
        reasons.append("a single post's feed URL")
    if most([e.comments_feed is not None for e in entries]) and not any(
        e.in_reply_to for e in entries
    ):
        score -= 2
        reasons.append("entries have comment feeds of their own (posts)")
    return KindVerdict(comments=score >= THRESHOLD, score=score, reasons=tuple(reasons))


def as_comments(feed: FeedData) -> FeedData:
    """``feed`` as if parsed as a comment feed: an entry linking to ``post#comment-N``
    replies to ``post`` (the rule :func:`ingest.assemble.build_feed` applies to feeds
    parsed with ``comments=True``). Entries already threaded are kept as they are."""
    changed = False
    entries: list[EntryData] = []
    for entry in feed.entries:
        parent = comment_parent(entry.url) if entry.in_reply_to is None else None
        if parent is not None:
            entry = replace(entry, in_reply_to=parent)
            changed = True
        entries.append(entry)
    return replace(feed, entries=tuple(entries)) if changed else feed


def comment_parent(link: str | None) -> str | None:
    """The post a WordPress-style comment link (``post#fragment``) belongs to."""
    if not link:
        return None
    post, fragment = urldefrag(link)
    return post if fragment else None


def is_comment_link(link: str | None) -> bool:
    """``post#comment-12`` (WordPress) or ``post.html?showComment=1#c12`` (Blogger)."""
    if not link:
        return False
    _, fragment = urldefrag(link)
    if _COMMENT_FRAGMENT.match(fragment):
        return True
    return bool(_BLOGGER_FRAGMENT.match(fragment)) and "showComment=" in link


def is_comments_url(url: str) -> bool:
    """A site's or a post's comment feed by its address (WordPress, Blogger)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if any(v.startswith("comments-") for v in query.get("feed", [])):
        return True
    return bool(_COMMENTS_PATH.search(parts.path))


def is_post_feed_url(url: str) -> bool:
    """One post's feed (its comments, on WordPress): ``/2026/11/hello/feed/``,
    ``/notes/hello-world/feed/`` or ``?p=12&feed=rss2``; never a site's
    (``/feed/``, ``/blog/feed/``), a date archive's, a category's, a tag's or an
    author's feed."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if query.get("feed") and (query.get("p") or query.get("page_id")):
        return True
    segments = [s.lower() for s in parts.path.split("/") if s]
    if len(segments) >= 2 and segments[-1] in _FEED_FORMATS and segments[-2] == "feed":
        segments = segments[:-1]  # /feed/atom/
    if not segments or segments[-1] != "feed":
        return False
    before = segments[:-1]
    if len(before) < 2 or before[-1].isdigit():
        return False
    return not any(s in _ARCHIVES for s in before)


def _comment_title(title: str) -> bool:
    title = title.strip()
    return bool(_BY.match(title) or _COMMENT_ON_BY.match(title))


def _is_fragment_parent(entry: EntryData) -> bool:
    """In a feed parsed as comments, ``in_reply_to`` may come from the link's fragment
    (not from thr:in-reply-to markup): that is the link signal, not counted twice."""
    return entry.url is not None and comment_parent(entry.url) == entry.in_reply_to
