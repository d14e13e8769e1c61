"""Text for the index and the snippets: item content is sanitized HTML (ingest's nh3),
so the index holds its text, and a snippet is plain text with the matched words marked.
Pure functions; :func:`html_text` is also the SQL function ``kith_text`` that SQLite's
triggers call (registered on every connection by :mod:`app.db`)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from app.search.query import _WORD

_TAG = re.compile(r"<[^>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


def html_text(content: str | None) -> str:
    """The text of sanitized HTML: tags become spaces, entities characters."""
    if not content:
        return ""
    text = html.unescape(_TAG.sub(" ", content)) if "<" in content or "&" in content else content
    return _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()


@dataclass(frozen=True, slots=True)
class Snippet:
    """``text`` (plain) with ``marks``: ``(start, end)`` character offsets of matches."""

    text: str
    marks: tuple[tuple[int, int], ...]

    def html(self) -> str:
        """Escaped text with each match in ``<mark>``: safe to put in a page as it is."""
        out, at = [], 0
        for start, end in self.marks:
            out.append(html.escape(self.text[at:start]))
            out.append("<mark>" + html.escape(self.text[start:end]) + "</mark>")
            at = end
        out.append(html.escape(self.text[at:]))
        return "".join(out)


def snippet(text: str, words: frozenset[str], *, width: int = 240) -> Snippet:
    """About ``width`` characters of ``text`` around the densest run of ``words``
    (case-folded), cut at word boundaries, with an ellipsis where it was cut."""
    hits = [m for m in _WORD.finditer(text) if m.group().casefold() in words]
    if len(text) <= width:
        start, end = 0, len(text)
    else:
        best, centre = -1, 0
        for i, m in enumerate(hits):  # the window starting at each hit with most hits in it
            n = sum(1 for h in hits[i : i + 12] if h.end() - m.start() <= width * 2 // 3)
            if n > best:
                best, centre = n, m.start()
        start = 0 if not hits else max(0, centre - width // 4)
        if start:
            space = text.rfind(" ", 0, start)
            start = space + 1 if space >= 0 and start - space < 30 else start
        end = min(len(text), start + width)
        if end < len(text):
            space = text.rfind(" ", start, end)
            end = space if space > start + width // 2 else end
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    body = text[start:end]
    shift = len(prefix) - start
    marks = tuple(
        (h.start() + shift, h.end() + shift) for h in hits if h.start() >= start and h.end() <= end
    )
    return Snippet(prefix + body + suffix, marks)
