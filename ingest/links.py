"""Links on a person's pages: ``rel="me"`` (the same person elsewhere) and XFN
(``rel="friend met"`` ... on a blogroll: how the page's owner knows the linked person).
Pure functions over fetched HTML bytes."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from ingest.assemble import normalize_url

# XFN 1.1 values -> Kith's relationship types (None: not a relationship)
XFN = {
    "friend": "friend", "acquaintance": "acquaintance", "contact": "acquaintance",
    "met": "met", "co-worker": "colleague", "colleague": "colleague",
    "co-resident": "co-resident", "neighbor": "neighbour", "child": "child",
    "parent": "parent", "sibling": "sibling", "spouse": "spouse", "kin": "family",
    "muse": "muse", "crush": "crush", "date": "sweetheart", "sweetheart": "sweetheart",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PageLink:
    url: str  # absolute, http(s)
    rels: frozenset[str]


def page_links(content: bytes, *, base_url: str) -> list[PageLink]:
    """Every ``<a>`` and ``<link>`` with a ``rel`` and an http(s) ``href``."""
    try:
        doc = lxml_html.fromstring(content[: 2 * 1024 * 1024])
    except (etree.ParserError, ValueError):
        return []
    found = []
    for element in doc.iter("a", "link"):
        rels = frozenset((element.get("rel") or "").lower().split())
        href = (element.get("href") or "").strip()
        if not rels or not href:
            continue
        url = urljoin(base_url, href)
        if urlsplit(url).scheme in ("http", "https"):
            found.append(PageLink(url=url, rels=rels))
    return found


def rel_me(links: list[PageLink]) -> set[str]:
    """Normalised URLs the page says are the same person as its owner."""
    return {normalize_url(link.url) for link in links if "me" in link.rels}


def xfn(links: list[PageLink]) -> dict[str, set[str]]:
    """Normalised URL -> relationship types the page's owner declares with it."""
    out: dict[str, set[str]] = {}
    for link in links:
        kinds = {XFN[r] for r in link.rels if r in XFN}
        if kinds and "me" not in link.rels:
            out.setdefault(normalize_url(link.url), set()).update(kinds)
    return out
