"""The fast path: well-formed RSS 0.9x/1.0/2.0 and Atom 1.0 read with lxml.

Returns None for anything it does not take on (not well-formed, Atom 0.3, an HTTP
charset that disagrees with the document's, an unknown root); the caller then uses
feedparser. A test proves both paths agree on well-formed feeds.

The lxml parser never loads a DTD, never resolves entities, never touches the network.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import escape
from urllib.parse import urljoin

from feedparser.datetimes import _parse_date as _feedparser_date
from lxml import etree

from ingest.assemble import RawEntry, build_feed, make_enclosure, parse_rss_author, to_count
from ingest.sanitize import plain_text, sanitize_html
from ingest.types import AuthorData, Enclosure, FeedData

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
DCTERMS = "{http://purl.org/dc/terms/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RSS1 = "{http://purl.org/rss/1.0/}"
RSS090 = "{http://my.netscape.com/rdf/simple/0.9/}"
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
XHTML = "{http://www.w3.org/1999/xhtml}"
WFW = "{http://wellformedweb.org/CommentAPI/}"
SLASH = "{http://purl.org/rss/1.0/modules/slash/}"
THR = "{http://purl.org/syndication/thread/1.0}"
MEDIA = "{http://search.yahoo.com/mrss/}"
FEED_TYPES = ("application/atom+xml", "application/rss+xml", "application/feed+json")

_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_CHARSET = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._-]+)", re.IGNORECASE)
_UTF8 = {"utf-8", "utf8"}
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)


def _norm_charset(name: str) -> str:
    name = name.lower().replace("_", "-")
    return "utf-8" if name in _UTF8 else name


def charsets_agree(content: bytes, content_type: str | None) -> bool:
    """False when HTTP and the XML declaration name different charsets (feedparser decides)."""
    match = _CHARSET.search(content_type or "")
    if not match:
        return True
    if content.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return False
    decl = _XML_DECL_ENCODING.match(content[:200])
    declared = decl.group(1).decode("ascii") if decl else "utf-8"
    return _norm_charset(match.group(1)) == _norm_charset(declared)


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    if len(el):  # markup written as child elements: keep it as HTML
        return inner_xml(el)
    return el.text or ""


def inner_xml(el: etree._Element) -> str:
    # an empty non-void element (<iframe/>, <div/>, <a name="x"/>) is written out open and
    # closed: read as HTML, "<iframe/>" would swallow everything after it as its text
    for child in el.iterdescendants():
        if (
            child.text is None
            and not len(child)
            and isinstance(child.tag, str)
            and child.tag.rpartition("}")[2].lower() not in _VOID
        ):
            child.text = ""
    parts = [escape(el.text or "", quote=False)]
    for child in el:
        parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
    out = "".join(parts)
    # xhtml content carries its namespace on every element once serialised alone
    return out.replace(' xmlns="http://www.w3.org/1999/xhtml"', "").replace("html:", "")


def rfc822(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return iso8601(value)
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso8601(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return any_date(value)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def any_date(value: str) -> datetime | None:
    """The many other date spellings feeds use, read by feedparser's date parsers (the
    same ones its own path uses, so both paths date entries alike)."""
    parsed = _feedparser_date(value[:200])
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _safe(value: str | None, base: str) -> str | None:
    if not value or not value.strip():
        return None
    absolute = urljoin(base, value.strip())
    return absolute if absolute.split(":", 1)[0].lower() in ("http", "https") else None


def _media(item: etree._Element, base: str) -> list[Enclosure]:
    found = []
    for media in item.iter(f"{MEDIA}content"):
        enclosure = make_enclosure(media.get("url"), media.get("type"), media.get("fileSize"), base)
        if enclosure is not None:
            found.append(enclosure)
    return found


def _thread_parent(item: etree._Element, base: str) -> str | None:
    parent = item.find(f"{THR}in-reply-to")
    if parent is None:
        return None
    href = _safe(parent.get("href"), base)
    return href or (parent.get("ref") or "").strip() or None


def _count(item: etree._Element) -> int | None:
    return to_count(item.findtext(f"{SLASH}comments")) or to_count(item.findtext(f"{THR}total"))


def parse_xml_fast(
    content: bytes, *, url: str, content_type: str | None, comments: bool = False
) -> FeedData | None:
    """FeedData for a well-formed RSS/Atom document, or None to fall back to feedparser."""
    if not charsets_agree(content, content_type):
        return None
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(content, parser, base_url=url)
    except (etree.XMLSyntaxError, ValueError):
        return None
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag == "rss":
        channel = root.find("channel")
        if channel is None:
            return None
        return _rss(channel, channel.iterfind("item"), url, "", comments)
    if tag == f"{RDF}RDF":
        for ns in (RSS1, RSS090):
            channel = root.find(f"{ns}channel")
            if channel is not None:
                return _rss(channel, root.iterfind(f"{ns}item"), url, ns, comments)
        return None
    if tag == f"{ATOM}feed":
        return _atom(root, url, comments)
    return None


def _rss_author(item: etree._Element, ns: str) -> AuthorData | None:
    creator = plain_text(_text(item.find(f"{DC}creator")), limit=200)
    raw = (item.findtext("author") or "") if ns == "" else ""
    name, email = parse_rss_author(raw)
    name = creator or name
    if not name:
        name = plain_text(item.findtext(f"{ITUNES}author") or "", limit=200) or None
    return AuthorData(name=name, email=email) if (name or email) else None


def _rss(
    channel: etree._Element,
    items: Iterator[etree._Element],
    url: str,
    ns: str,
    comments: bool,
) -> FeedData:
    feed_link = _safe(channel.findtext(f"{ns}link"), url)
    if feed_link is None:
        alt = channel.find(f"{ATOM}link[@rel='alternate']")
        feed_link = _safe(alt.get("href") if alt is not None else None, url)
    feed_author = _managing_editor(channel) or _rss_author(channel, "")
    ttl = (channel.findtext("ttl") or "").strip() if ns == "" else ""
    raw_entries = []
    for item in items:
        guid_el = item.find(f"{ns}guid") if ns == "" else None
        guid = (guid_el.text or "").strip() if guid_el is not None else ""
        if guid and guid_el is not None and guid_el.get("isPermaLink", "true") != "false":
            guid = urljoin(url, guid)  # as feedparser does, so both paths key entries alike
        if ns and not guid:
            guid = (item.get(f"{RDF}about") or "").strip()
        link = _safe(item.findtext(f"{ns}link"), url)
        if link is None:
            alt = item.find(f"{ATOM}link")
            link = _safe(alt.get("href") if alt is not None else None, url)
        if link is None and guid_el is not None and guid_el.get("isPermaLink", "true") != "false":
            link = _safe(guid, url) if guid.startswith(("http://", "https://")) else None
        encoded = _text(item.find(f"{CONTENT}encoded"))
        description = _text(item.find(f"{ns}description"))
        body = encoded if len(encoded) >= len(description) else description
        published = rfc822(item.findtext(f"{ns}pubDate") or "") if ns == "" else None
        published = published or iso8601(item.findtext(f"{DC}date") or "")
        updated = iso8601(
            item.findtext(f"{ATOM}updated")
            or item.findtext(f"{DCTERMS}modified")
            or item.findtext(f"{DC}date")
            or ""
        )
        tags = [c.text or "" for c in item.iterfind(f"{ns}category")] if ns == "" else []
        tags += [c.text or "" for c in item.iterfind(f"{DC}subject")]
        enclosures = [
            e
            for e in (
                make_enclosure(el.get("url"), el.get("type"), el.get("length"), url)
                for el in item.iterfind("enclosure")
            )
            if e is not None
        ] + _media(item, url)
        raw_entries.append(
            RawEntry(
                guid=guid,
                link=link,
                title=_text(item.find(f"{ns}title")),
                body=sanitize_html(body, base_url=url),
                published=published,
                updated=updated,
                author=_rss_author(item, ns),
                tags=tags,
                enclosures=enclosures,
                comments_feed=_safe(item.findtext(f"{WFW}commentRss"), url),
                comment_count=_count(item),
                thread_parent=_thread_parent(item, url),
            )
        )
    return build_feed(
        url=url,
        title=_text(channel.find(f"{ns}title")),
        link=feed_link,
        feed_author=feed_author,
        raw_entries=raw_entries,
        ttl_minutes=int(ttl) if ttl.isdigit() else None,
        comments=comments,
    )


def _managing_editor(channel: etree._Element) -> AuthorData | None:
    name, email = parse_rss_author(channel.findtext("managingEditor") or "")
    return AuthorData(name=name, email=email) if email else None


def _atom_text(el: etree._Element | None) -> tuple[str, bool]:
    """(value, is_html) for an Atom text construct."""
    if el is None:
        return "", False
    kind = (el.get("type") or "text").lower()
    if kind == "xhtml":
        div = el.find(f"{XHTML}div")
        return (inner_xml(div) if div is not None else inner_xml(el)), True
    if kind in ("html", "text/html"):
        return el.text or "", True
    if len(el):
        return inner_xml(el), True
    return el.text or "", False


def _atom_author(parent: etree._Element) -> AuthorData | None:
    author = parent.find(f"{ATOM}author")
    if author is None:
        return None
    name = plain_text(author.findtext(f"{ATOM}name") or "", limit=200) or None
    uri_el = author.find(f"{ATOM}uri")
    uri = _safe(uri_el.text, uri_el.base or "") if uri_el is not None else None
    email = (author.findtext(f"{ATOM}email") or "").strip() or None
    return AuthorData(name=name, uri=uri, email=email) if (name or uri or email) else None


def _atom_link(parent: etree._Element) -> str | None:
    for link in parent.iterfind(f"{ATOM}link"):
        if link.get("rel", "alternate") == "alternate":
            return _safe(link.get("href"), link.base or "")
    return None


def _atom_enclosures(entry: etree._Element) -> list[Enclosure]:
    found = []
    for link in entry.iterfind(f"{ATOM}link"):
        if link.get("rel") == "enclosure":
            enclosure = make_enclosure(
                link.get("href"), link.get("type"), link.get("length"), link.base or ""
            )
            if enclosure is not None:
                found.append(enclosure)
    return found


def _atom_replies(entry: etree._Element) -> tuple[str | None, int | None]:
    """The entry's comment feed (``link rel="replies"`` of a feed type) and its count."""
    for link in entry.iterfind(f"{ATOM}link"):
        if link.get("rel") == "replies" and (link.get("type") or "") in FEED_TYPES:
            return _safe(link.get("href"), link.base or ""), to_count(link.get(f"{THR}count"))
    return None, None


def _atom(root: etree._Element, url: str, comments: bool) -> FeedData:
    raw_entries = []
    for entry in root.iterfind(f"{ATOM}entry"):
        content_el = entry.find(f"{ATOM}content")
        if content_el is not None and content_el.get("src"):
            content_el = None
        content, content_html = _atom_text(content_el)
        summary, summary_html = _atom_text(entry.find(f"{ATOM}summary"))
        body, is_html = (
            (content, content_html) if len(content) >= len(summary) else (summary, summary_html)
        )
        if body and not is_html:
            body = escape(body, quote=False)
        base = (content_el if content_el is not None else entry).base or url
        title, title_html = _atom_text(entry.find(f"{ATOM}title"))
        source = entry.find(f"{ATOM}source")
        raw_entries.append(
            RawEntry(
                guid=(entry.findtext(f"{ATOM}id") or "").strip(),
                link=_atom_link(entry),
                title=title if title_html else escape(title, quote=False),
                body=sanitize_html(body, base_url=base),
                published=iso8601(entry.findtext(f"{ATOM}published") or "")
                or iso8601(entry.findtext(f"{ATOM}updated") or ""),
                updated=iso8601(entry.findtext(f"{ATOM}updated") or ""),
                author=_atom_author(entry)
                or (_atom_author(source) if source is not None else None),
                tags=[c.get("term") or "" for c in entry.iterfind(f"{ATOM}category")],
                enclosures=_atom_enclosures(entry) + _media(entry, entry.base or url),
                comments_feed=_atom_replies(entry)[0],
                comment_count=_count(entry) or _atom_replies(entry)[1],
                thread_parent=_thread_parent(entry, entry.base or url),
            )
        )
    title, title_html = _atom_text(root.find(f"{ATOM}title"))
    return build_feed(
        url=url,
        title=title if title_html else escape(title, quote=False),
        link=_atom_link(root),
        feed_author=_atom_author(root),
        raw_entries=raw_entries,
        ttl_minutes=None,
        comments=comments,
    )
