"""Discovery: from a site URL to its feeds, and Mastodon profile URLs recognised.

Pure functions over fetched bytes; the fetching is the caller's (through the guard).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
    "application/json": "json",
    "application/rdf+xml": "rss",
    "text/xml": "rss",
    "application/xml": "rss",
}
# tried in order when a page names no feed (WordPress, Ghost, Hugo, Jekyll, Blogger ...)
COMMON_PATHS = (
    "/feed/", "/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml",
    "/feed.json", "/feeds/posts/default", "/comments/feed/",
)  # fmt: skip
_MASTODON_PROFILE = re.compile(r"^/@([A-Za-z0-9_.]{1,64})(?:@([A-Za-z0-9.-]+\.[A-Za-z]{2,}))?/?$")


@dataclass(frozen=True, slots=True)
class FeedLink:
    url: str
    title: str | None
    type: str


@dataclass(frozen=True, slots=True)
class MastodonAccount:
    instance: str  # https://host
    username: str

    @property
    def acct(self) -> str:
        return f"{self.username}@{urlsplit(self.instance).netloc}"


def mastodon_account(url: str) -> MastodonAccount | None:
    """``https://host/@name`` (or ``/@name@otherhost``) as an account, else None.

    The shape is Mastodon's (and most Fediverse servers'); whether the host really
    runs Mastodon is for the Mastodon source to find out.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        return None
    match = _MASTODON_PROFILE.match(parts.path)
    if not match:
        return None
    if match.group(2):  # /@name@otherhost: the account lives on another instance
        return MastodonAccount(
            instance=f"https://{match.group(2).lower()}", username=match.group(1)
        )
    return MastodonAccount(
        instance=f"{parts.scheme}://{parts.netloc.lower()}", username=match.group(1)
    )


def looks_like_html(content: bytes, content_type: str | None) -> bool:
    """An HTML page rather than a feed; what the bytes say wins over the Content-Type
    (feeds are often served as text/html, and pages as text/plain)."""
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf:rdf", b"{")):
        return False
    if head.startswith((b"<!doctype html", b"<html")):
        return True
    return bool(content_type and "html" in content_type.lower())


def find_feed_links(content: bytes, *, base_url: str) -> list[FeedLink]:
    """Feeds a page announces with ``<link rel="alternate" type="...">``, in page order
    (comment feeds last). Relative hrefs resolve against ``<base>``-free page URL."""
    try:
        doc = lxml_html.fromstring(content[: 2 * 1024 * 1024])
    except (etree.ParserError, ValueError):
        return []
    found: list[FeedLink] = []
    seen: set[str] = set()
    for link in doc.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = FEED_TYPES.get((link.get("type") or "").split(";")[0].strip().lower())
        href = (link.get("href") or "").strip()
        if "alternate" not in rel or kind is None or not href:
            continue
        url = urljoin(base_url, href)
        if urlsplit(url).scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        found.append(FeedLink(url=url, title=(link.get("title") or "").strip() or None, type=kind))
    found.sort(key=lambda f: "comment" in f.url.lower() or "comment" in (f.title or "").lower())
    return found


def common_feed_urls(base_url: str) -> list[str]:
    parts = urlsplit(base_url)
    root = f"{parts.scheme}://{parts.netloc}"
    return [root + path for path in COMMON_PATHS]
