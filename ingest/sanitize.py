"""HTML from the outside is sanitized once, here, at ingest (nh3, an ammonia binding).

The allow-list keeps reading pleasant (paragraphs, lists, links, images, code, quotes,
tables) and drops script, style, event handlers, forms, frames, ``<base>`` and every
URL that is not http(s) or mailto. Links get ``rel="noopener noreferrer"``.
"""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "dd",
        "del",
        "details",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "u",
        "ul",
        "var",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "ol": {"start", "reversed"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_WS = re.compile(r"\s+")


def sanitize_html(fragment: str) -> str:
    """Sanitized HTML for display; safe to insert into a page unescaped."""
    if not fragment:
        return ""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
        clean_content_tags={"script", "style"},
    )


def plain_text(fragment: str | None, *, limit: int = 1000) -> str:
    """Plain text from a title or name that may hold markup or entities.

    The result is text, never HTML: templates escape it when they render it.
    """
    if not fragment:
        return ""
    text = nh3.clean(fragment, tags=set(), clean_content_tags={"script", "style"})
    text = html.unescape(text)
    text = _WS.sub(" ", text).strip()
    return text[:limit]
