"""The last step of every parse path: raw entries -> FeedData.

Whichever reader produced them (lxml fast path, feedparser, JSON Feed), entries get
their dedupe key, plain-text title, author (falling back to the feed's), identity
evidence and thread link here, so the paths cannot drift apart.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

from ingest.sanitize import plain_text
from ingest.types import AuthorData, Enclosure, EntryData, FeedData, IdentityEvidence


@dataclass(frozen=True, slots=True)
class RawEntry:
    """An entry as a reader found it: ``body`` already sanitized, ``title`` may hold markup."""

    guid: str
    link: str | None
    title: str
    body: str
    published: datetime | None
    updated: datetime | None
    author: AuthorData | None
    tags: Sequence[str] = field(default=())
    enclosures: Sequence[Enclosure] = field(default=())
    comments_feed: str | None = None
    comment_count: int | None = None
    # Atom threading (thr:in-reply-to): the parent's URL, else its id
    thread_parent: str | None = None


_RSS_AUTHOR = re.compile(r"^\s*(\S+@[^\s(]+)\s*\((.*)\)\s*$")


def parse_rss_author(raw: str) -> tuple[str | None, str | None]:
    """(name, email) from an RSS ``<author>``: ``a@b.example (Name)``, an address, or a name.

    Bounded input and a linear pattern: feedparser's own regex here is quadratic.
    """
    raw = raw.strip()[:500]
    if not raw:
        return None, None
    match = _RSS_AUTHOR.match(raw)
    if match:
        return plain_text(match.group(2), limit=200) or None, match.group(1)
    if "@" in raw and " " not in raw:
        return None, raw
    return plain_text(raw, limit=200) or None, None


def normalize_url(url: str) -> str:
    """A stable form of a profile/home URL for identity keys."""
    url, _ = urldefrag(url.strip())
    parts = urlsplit(url)
    path = parts.path.rstrip("/") or ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def identity_for(author: AuthorData, *, site: str, fallback_name: str) -> IdentityEvidence:
    """The identity key an author is recognised by, strongest evidence first."""
    name = author.name or fallback_name
    if author.uri and urlsplit(author.uri).scheme.lower() in ("http", "https"):
        return IdentityEvidence(kind="url", value=normalize_url(author.uri), display_name=name)
    if author.email and "@" in author.email:
        digest = hashlib.sha256(author.email.strip().lower().encode()).hexdigest()
        return IdentityEvidence(kind="email_sha256", value=digest, display_name=name)
    return IdentityEvidence(
        kind="feed_author", value=f"{site}|{name.casefold()}", display_name=name
    )


def to_count(value: object) -> int | None:
    """A non-negative count from feed text (``slash:comments``, ``thr:total``)."""
    text = str(value or "").strip()
    return min(int(text), 10**9) if text.isdigit() else None


def make_enclosure(
    url: str | None, type_: str | None, length: object, base: str
) -> Enclosure | None:
    """An http(s) enclosure, resolved against ``base``; anything else is dropped."""
    if not url or not url.strip():
        return None
    absolute = urljoin(base, url.strip())
    if urlsplit(absolute).scheme.lower() not in ("http", "https"):
        return None
    return Enclosure(
        url=absolute[:2048], type=(type_ or None) and type_[:100], length=to_count(length)
    )


def dedupe_key(guid: str, link: str | None, title: str, body: str) -> str:
    """guid, else link, else a hash of title and content."""
    guid = guid.strip()
    if guid:
        return "id:" + guid[:1000]
    if link:
        return "link:" + link[:1000]
    digest = hashlib.sha256((title + "\x00" + body).encode("utf-8", "replace")).hexdigest()
    return "hash:" + digest


def build_feed(
    *,
    url: str,
    title: str,
    link: str | None,
    feed_author: AuthorData | None,
    raw_entries: Iterable[RawEntry],
    ttl_minutes: int | None,
    comments: bool,
) -> FeedData:
    site = urlsplit(link or url).netloc.lower()
    feed_title = plain_text(title, limit=300) or site
    entries: list[EntryData] = []
    seen: set[str] = set()
    for raw in raw_entries:
        entry_title = plain_text(raw.title, limit=500)
        key = dedupe_key(raw.guid, raw.link, entry_title, raw.body)
        if not entry_title and raw.body:  # microblogs have no titles: show their first words
            text = plain_text(raw.body, limit=2000)
            entry_title = text if len(text) <= 120 else text[:117].rstrip() + "..."
        if key in seen:  # the same guid twice in one document: the first one wins
            continue
        seen.add(key)
        author = raw.author or feed_author or AuthorData()
        in_reply_to = raw.thread_parent
        if in_reply_to is None and comments and raw.link:
            post, fragment = urldefrag(raw.link)
            in_reply_to = post if fragment else None  # WordPress: post#comment-N
        clean_tags = (plain_text(t, limit=100) for t in raw.tags if isinstance(t, str))
        entries.append(
            EntryData(
                dedupe_key=key,
                url=raw.link,
                title=entry_title,
                content=raw.body,
                published=raw.published,
                updated=raw.updated,
                author=author,
                identity=identity_for(author, site=site, fallback_name=feed_title),
                in_reply_to=in_reply_to,
                tags=tuple(dict.fromkeys(t for t in clean_tags if t)),
                enclosures=tuple({e.url: e for e in reversed(raw.enclosures)}.values())[::-1][:20],
                comments_feed=raw.comments_feed,
                comment_count=raw.comment_count,
            )
        )
    return FeedData(title=feed_title, link=link, entries=tuple(entries), ttl_minutes=ttl_minutes)
