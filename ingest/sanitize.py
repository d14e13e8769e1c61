"""HTML from the outside is sanitized once, here, at ingest (nh3, an ammonia binding).

The allow-list keeps reading pleasant (paragraphs, lists, links, images, code, quotes,
tables) and drops script, style, event handlers, forms, frames, ``<base>`` and every
URL that is not http(s) or mailto. Relative URLs are resolved against the entry's
base in the same pass. Links get ``rel="noopener noreferrer"``.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import nh3

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del",
        "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2",
        "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
        "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup",
        "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var",
    }
)  # fmt: skip
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


@lru_cache(maxsize=256)
def _cleaner(base: str | None) -> nh3.Cleaner:
    if base and urlsplit(base).scheme in ("http", "https"):
        return _make_cleaner(("rewrite_with_base", base))
    return _make_cleaner("deny")


def _make_cleaner(relative: Any) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
        clean_content_tags={"script", "style"},
        url_relative=relative,
    )


_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags={"script", "style"})


def sanitize_html(fragment: str, *, base_url: str | None = None) -> str:
    """Sanitized HTML, relative URLs resolved against ``base_url`` (dropped without one).

    The result is safe to insert into a page unescaped.
    """
    if not fragment:
        return ""
    return str(_cleaner(base_url).clean(fragment))


def plain_text(fragment: str | None, *, limit: int = 1000) -> str:
    """Plain text from a title or name that may hold markup or entities.

    The result is text, never HTML: templates escape it when they render it.
    """
    if not fragment:
        return ""
    if "<" in fragment or "&" in fragment:
        # a space where a block or line ends, so "<p>a</p><p>b</p>" reads "a b", not "ab"
        fragment = _BLOCK_END.sub(r" \g<0>", fragment)
        fragment = html.unescape(str(_TEXT_ONLY.clean(fragment)))
    return _WS.sub(" ", fragment).strip()[:limit]


_BLOCK_END = re.compile(
    r"<(?:/(?:p|div|li|h[1-6]|blockquote|pre|tr|td|th|dd|dt|figcaption|section|article)"
    r"|br|hr)\b",
    re.IGNORECASE,
)
