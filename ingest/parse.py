"""Feed bytes -> :class:`FeedData`: feedparser for the format zoo, nh3 for the HTML.

feedparser only ever receives bytes: given a string it would open local paths and
fetch URLs itself. The DTD is removed before parsing, so no entity is ever declared,
expanded or loaded from outside (billion laughs, XXE).
"""

from __future__ import annotations

import calendar
import hashlib
import html
import json
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

import feedparser

from ingest.errors import ParseError
from ingest.sanitize import plain_text, sanitize_html
from ingest.types import AuthorData, EntryData, FeedData, IdentityEvidence

# A DOCTYPE with or without an internal subset, anywhere in the prolog.
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_PROLOG_SCAN = 64 * 1024


def strip_doctype(content: bytes) -> bytes:
    """Remove every DOCTYPE declaration near the start of the document."""
    head, tail = content[:_PROLOG_SCAN], content[_PROLOG_SCAN:]
    if b"<!" not in head.upper() or b"DOCTYPE" not in head.upper():
        return content
    return _DOCTYPE.sub(b"", head) + tail


def normalize_url(url: str) -> str:
    """A stable form of a profile/home URL for identity keys."""
    url, _ = urldefrag(url.strip())
    parts = urlsplit(url)
    path = parts.path.rstrip("/") or ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def safe_link(value: str | None, base: str) -> str | None:
    """An absolute http(s) link, or None for anything else (``javascript:`` ...)."""
    if not value:
        return None
    absolute = urljoin(base, value.strip())
    if urlsplit(absolute).scheme.lower() not in ("http", "https"):
        return None
    return absolute


def _when(entry: Any, *keys: str) -> datetime | None:
    for key in keys:
        parsed = entry.get(key)
        if isinstance(parsed, time.struct_time):
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _content(entry: Any) -> str:
    best = ""
    for block in entry.get("content") or ():
        value = block.get("value") or ""
        if len(value) > len(best):
            best = value
    summary = entry.get("summary") or ""
    return best if len(best) >= len(summary) else summary


def _author(entry: Any, feed: Any) -> AuthorData:
    detail = entry.get("author_detail") or {}
    name = plain_text(detail.get("name") or entry.get("author"), limit=200)
    uri = detail.get("href")
    email = detail.get("email")
    if not (name or uri or email):
        fdetail = feed.get("author_detail") or {}
        name = plain_text(fdetail.get("name") or feed.get("author"), limit=200)
        uri = fdetail.get("href")
        email = fdetail.get("email")
    return AuthorData(name=name or None, uri=uri or None, email=email or None)


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


def _make_entry(
    *,
    key: str,
    link: str | None,
    title: str,
    body: str,
    published: datetime | None,
    updated: datetime | None,
    author: AuthorData,
    tags: Iterable[Any],
    site: str,
    feed_title: str,
    comments: bool,
) -> EntryData:
    """One EntryData, whichever format it came from."""
    in_reply_to = None
    if comments and link:
        post, fragment = urldefrag(link)
        in_reply_to = post if fragment else None  # WordPress: post#comment-N
    clean_tags = (plain_text(t, limit=100) for t in tags if isinstance(t, str))
    return EntryData(
        dedupe_key=key,
        url=link,
        title=title,
        content=body,
        published=published,
        updated=updated,
        author=author,
        identity=identity_for(author, site=site, fallback_name=feed_title),
        in_reply_to=in_reply_to,
        tags=tuple(dict.fromkeys(t for t in clean_tags if t)),
    )


def _dedupe_key(entry: Any, link: str | None, title: str, content: str) -> str:
    guid = (entry.get("id") or "").strip()
    if guid:
        return "id:" + guid[:1000]
    if link:
        return "link:" + link[:1000]
    digest = hashlib.sha256((title + "\x00" + content).encode("utf-8", "replace")).hexdigest()
    return "hash:" + digest


def parse_feed(
    content: bytes,
    *,
    url: str,
    content_type: str | None = None,
    comments: bool = False,
) -> FeedData:
    """Parse a fetched feed. ``comments`` marks a blog comment feed (replies to posts)."""
    if not isinstance(content, bytes | bytearray):
        raise TypeError("parse_feed takes bytes only")
    if _looks_like_json(content, content_type):
        return _parse_json_feed(bytes(content), url=url, comments=comments)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(bytes(strip_doctype(bytes(content))), response_headers=headers)
    except Exception as exc:  # feedparser is robust, but a crash here must not escape
        raise ParseError(f"the feed could not be parsed: {exc}", url=url) from exc
    feed = parsed.get("feed") or {}
    if not parsed.get("version") and not parsed.get("entries"):
        reason = parsed.get("bozo_exception")
        detail = f" ({reason})" if reason else ""
        raise ParseError(f"not an RSS, Atom or JSON feed{detail}", url=url)

    feed_link = safe_link(feed.get("link"), url)
    site = urlsplit(feed_link or url).netloc.lower()
    feed_title = plain_text(feed.get("title"), limit=300) or site
    entries: list[EntryData] = []
    seen: set[str] = set()
    for entry in parsed.get("entries") or ():
        link = safe_link(entry.get("link"), url)
        title = plain_text(entry.get("title"), limit=500)
        body = sanitize_html(_content(entry))
        key = _dedupe_key(entry, link, title, body)
        if key in seen:  # the same guid twice in one document: the first one wins
            continue
        seen.add(key)
        entries.append(
            _make_entry(
                key=key,
                link=link,
                title=title,
                body=body,
                published=_when(entry, "published_parsed", "updated_parsed", "created_parsed"),
                updated=_when(entry, "updated_parsed"),
                author=_author(entry, feed),
                tags=(tag.get("term") for tag in entry.get("tags") or ()),
                site=site,
                feed_title=feed_title,
                comments=comments,
            )
        )
    ttl = feed.get("ttl")
    return FeedData(
        title=feed_title,
        link=feed_link,
        entries=tuple(entries),
        ttl_minutes=int(ttl) if isinstance(ttl, str) and ttl.isdigit() else None,
    )


def _looks_like_json(content: bytes | bytearray, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return bytes(content[:64]).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _json_author(obj: object) -> AuthorData | None:
    if not isinstance(obj, dict):
        return None
    name = plain_text(str(obj.get("name") or ""), limit=200) or None
    uri = obj.get("url") if isinstance(obj.get("url"), str) else None
    return AuthorData(name=name, uri=uri) if (name or uri) else None


def _parse_json_feed(content: bytes, *, url: str, comments: bool) -> FeedData:
    """JSON Feed 1.0/1.1 (feedparser 6 does not read it)."""
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"not a JSON feed: {exc}", url=url) from exc
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise ParseError("not a JSON feed: no jsonfeed.org version", url=url)
    feed_link = safe_link(doc.get("home_page_url"), url)
    site = urlsplit(feed_link or url).netloc.lower()
    feed_title = plain_text(str(doc.get("title") or ""), limit=300) or site
    feed_authors = [a for a in map(_json_author, doc.get("authors") or [doc.get("author")]) if a]
    entries: list[EntryData] = []
    seen: set[str] = set()
    for raw in doc.get("items") or ():
        if not isinstance(raw, dict):
            continue
        link = safe_link(raw.get("url") if isinstance(raw.get("url"), str) else None, url)
        title = plain_text(str(raw.get("title") or ""), limit=500)
        if isinstance(raw.get("content_html"), str):
            body = sanitize_html(raw["content_html"])
        else:
            body = sanitize_html(
                _escape_text(str(raw.get("content_text") or raw.get("summary") or ""))
            )
        guid = str(raw.get("id") or "").strip()
        key = ("id:" + guid[:1000]) if guid else _dedupe_key({}, link, title, body)
        if key in seen:
            continue
        seen.add(key)
        authors = [a for a in map(_json_author, raw.get("authors") or [raw.get("author")]) if a]
        entries.append(
            _make_entry(
                key=key,
                link=link,
                title=title,
                body=body,
                published=_iso(raw.get("date_published")) or _iso(raw.get("date_modified")),
                updated=_iso(raw.get("date_modified")),
                author=(authors or feed_authors or [AuthorData()])[0],
                tags=(str(x) for x in raw.get("tags") or ()),
                site=site,
                feed_title=feed_title,
                comments=comments,
            )
        )
    return FeedData(title=feed_title, link=feed_link, entries=tuple(entries))


def _escape_text(text: str) -> str:
    return "<p>" + html.escape(text) + "</p>" if text else ""
