"""Feed bytes -> :class:`FeedData`.

Three readers, one assembly step (:func:`ingest.assemble.build_feed`):

* JSON Feed 1.0/1.1, read here (feedparser 6 does not read it);
* well-formed RSS/Atom, read by the lxml fast path (:mod:`ingest.fastparse`);
* everything else (malformed XML, odd encodings, Atom 0.3, CDF ...) by feedparser.

feedparser only ever receives bytes: given a string it would open local paths and
fetch URLs itself. The DTD is removed before any XML parser sees the document, so no
entity is ever declared, expanded or loaded from outside (billion laughs, XXE).
Sanitizing and resolving relative URLs is done once, by nh3, on every path.
"""

from __future__ import annotations

import calendar
import html
import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from ingest.assemble import RawEntry, build_feed, make_enclosure, parse_rss_author, to_count
from ingest.errors import ParseError
from ingest.fastparse import FEED_TYPES, parse_xml_fast
from ingest.sanitize import plain_text, sanitize_html
from ingest.types import AuthorData, Enclosure, FeedData

# A DOCTYPE with or without an internal subset, anywhere in the prolog.
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_PROLOG_SCAN = 64 * 1024


# Author-ish elements cut to 1 KiB before feedparser sees them: its e-mail regex is
# quadratic, and a 64 KiB author would hold a parser for minutes (the budget in
# ingest.pool is the backstop). The pattern is linear: no nested quantifiers.
_LONG_AUTHOR = re.compile(
    rb"(<(?:[a-z]+:)?(?:author|creator|managingEditor|webMaster|email|name)\b[^>]{0,200}>)"
    rb"([^<]{1024})[^<]*",
    re.IGNORECASE,
)


def cap_author_fields(content: bytes) -> bytes:
    return _LONG_AUTHOR.sub(rb"\1\2", content)


def strip_doctype(content: bytes) -> bytes:
    """Remove every DOCTYPE declaration near the start of the document."""
    head, tail = content[:_PROLOG_SCAN], content[_PROLOG_SCAN:]
    if b"DOCTYPE" not in head.upper():
        return content
    return _DOCTYPE.sub(b"", head) + tail


def safe_link(value: str | None, base: str) -> str | None:
    """An absolute http(s) link, or None for anything else (``javascript:`` ...)."""
    if not value:
        return None
    absolute = urljoin(base, value.strip())
    if urlsplit(absolute).scheme.lower() not in ("http", "https"):
        return None
    return absolute


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
    content = bytes(content)
    if _looks_like_json(content, content_type):
        return _parse_json_feed(content, url=url, comments=comments)
    content = strip_doctype(content)
    fast = parse_xml_fast(content, url=url, content_type=content_type, comments=comments)
    if fast is not None:
        return fast
    return parse_with_feedparser(content, url=url, content_type=content_type, comments=comments)


def parse_with_feedparser(
    content: bytes, *, url: str, content_type: str | None = None, comments: bool = False
) -> FeedData:
    """The robust path: feedparser reads it, nh3 sanitizes and resolves links."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(
            cap_author_fields(content),
            response_headers=headers,
            sanitize_html=False,  # nh3 does it, identically on every path
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser is robust, but a crash here must not escape
        raise ParseError(f"the feed could not be parsed: {exc}", url=url) from exc
    feed = parsed.get("feed") or {}
    if not parsed.get("version") and not parsed.get("entries"):
        reason = parsed.get("bozo_exception")
        detail = f" ({reason})" if reason else ""
        raise ParseError(f"not an RSS, Atom or JSON feed{detail}", url=url)
    atom = str(parsed.get("version") or "").startswith("atom")
    raw_entries = []
    for entry in parsed.get("entries") or ():
        body, base = _content(entry, url)
        raw_entries.append(
            RawEntry(
                guid=entry.get("id") or "",
                link=safe_link(entry.get("link"), url),
                title=_title(entry, atom=atom),
                body=sanitize_html(body, base_url=base),
                published=_when(entry, "published_parsed", "updated_parsed", "created_parsed"),
                updated=_when(entry, "updated_parsed"),
                author=_author(entry, rss=not atom),
                tags=[t.get("term") or "" for t in entry.get("tags") or ()],
                enclosures=_enclosures(entry, url),
                comments_feed=_replies(entry, url)[0],
                comment_count=to_count(entry.get("slash_comments"))
                or to_count(entry.get("thr_total"))
                or _replies(entry, url)[1],
                thread_parent=_thread_parent(entry, url),
            )
        )
    ttl = feed.get("ttl")
    return build_feed(
        url=url,
        title=_title(feed, atom=atom),
        link=safe_link(feed.get("link"), url),
        feed_author=_author(feed, rss=not atom),
        raw_entries=raw_entries,
        ttl_minutes=int(ttl) if isinstance(ttl, str) and ttl.isdigit() else None,
        comments=comments,
    )


def _enclosures(entry: Any, url: str) -> list[Enclosure]:
    found = [
        make_enclosure(e.get("href"), e.get("type"), e.get("length"), url)
        for e in entry.get("enclosures") or ()
    ]
    found += [
        make_enclosure(m.get("url"), m.get("type"), m.get("filesize"), url)
        for m in entry.get("media_content") or ()
    ]
    return [e for e in found if e is not None]


def _replies(entry: Any, url: str) -> tuple[str | None, int | None]:
    if entry.get("wfw_commentrss"):
        return safe_link(entry.get("wfw_commentrss"), url), None
    for link in entry.get("links") or ():
        if link.get("rel") == "replies" and (link.get("type") or "") in FEED_TYPES:
            return safe_link(link.get("href"), url), to_count(link.get("thr:count"))
    return None, None


def _thread_parent(entry: Any, url: str) -> str | None:
    parent = entry.get("thr_in-reply-to")
    if not isinstance(parent, dict):
        return None
    return safe_link(parent.get("href"), url) or (parent.get("ref") or "").strip() or None


def _when(entry: Any, *keys: str) -> datetime | None:
    for key in keys:
        parsed = dict.get(entry, key)  # bypass feedparser's updated->published aliasing
        if isinstance(parsed, time.struct_time):
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _title(obj: Any, *, atom: bool) -> str:
    """The title as markup. Atom's type="text" is honoured (its '<' stays text); RSS
    titles are read as HTML, as publishers write them."""
    title = obj.get("title") or ""
    if atom and (obj.get("title_detail") or {}).get("type") == "text/plain":
        return html.escape(title, quote=False)
    return str(title)


def _content(entry: Any, url: str) -> tuple[str, str]:
    best, base = "", url
    for block in entry.get("content") or ():
        value = block.get("value") or ""
        if block.get("type") == "text/plain":
            value = html.escape(value, quote=False)
        if len(value) > len(best):
            best, base = value, block.get("base") or url
    summary = entry.get("summary") or ""
    if len(summary) > len(best):
        detail = entry.get("summary_detail") or {}
        best, base = summary, detail.get("base") or url
        if detail.get("type") == "text/plain":
            best = html.escape(best, quote=False)
    return best, base


def _author(obj: Any, *, rss: bool) -> AuthorData | None:
    detail = obj.get("author_detail") or {}
    name = plain_text(detail.get("name") or obj.get("author"), limit=200) or None
    uri = detail.get("href") or None
    email = detail.get("email") or None
    raw = dict.get(obj, "author")
    if rss and isinstance(raw, str) and "@" in raw:
        # feedparser splits "a@b (Name)" with a faulty regex; read the raw string ourselves
        parsed_name, email = parse_rss_author(raw)
        creator = plain_text(dict.get(obj, "dc_creator") or "", limit=200)
        name = creator or parsed_name
    if not (name or uri or email):
        return None
    return AuthorData(name=name, uri=uri, email=email)


def _looks_like_json(content: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return content[:64].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


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
    """JSON Feed 1.0/1.1."""
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"not a JSON feed: {exc}", url=url) from exc
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise ParseError("not a JSON feed: no jsonfeed.org version", url=url)
    feed_authors = [a for a in map(_json_author, doc.get("authors") or [doc.get("author")]) if a]
    raw_entries = []
    for raw in doc.get("items") or ():
        if not isinstance(raw, dict):
            continue
        if isinstance(raw.get("content_html"), str):
            body = raw["content_html"]
        else:
            text = str(raw.get("content_text") or raw.get("summary") or "")
            body = "<p>" + html.escape(text) + "</p>" if text else ""
        authors = [a for a in map(_json_author, raw.get("authors") or [raw.get("author")]) if a]
        link = raw.get("url") if isinstance(raw.get("url"), str) else None
        raw_entries.append(
            RawEntry(
                guid=str(raw.get("id") or ""),
                link=safe_link(link, url),
                title=html.escape(str(raw.get("title") or ""), quote=False),
                body=sanitize_html(body, base_url=url),
                published=_iso(raw.get("date_published")) or _iso(raw.get("date_modified")),
                updated=_iso(raw.get("date_modified")),
                author=authors[0] if authors else None,
                tags=[str(t) for t in raw.get("tags") or ()],
            )
        )
    return build_feed(
        url=url,
        title=html.escape(str(doc.get("title") or ""), quote=False),
        link=safe_link(doc.get("home_page_url"), url),
        feed_author=feed_authors[0] if feed_authors else None,
        raw_entries=raw_entries,
        ttl_minutes=None,
        comments=comments,
    )
