"""The search box's query language, parsed here so a user's text never reaches FTS5's
MATCH or a tsquery as syntax.

Syntax (what people know from web search): ``words`` (all must match), ``"a phrase"``,
``-word`` / ``-"a phrase"`` (leave out), ``a OR b``, ``person:priya`` /
``person:"Priya Raman"`` / ``person:7`` (by name or id), ``tag:cooking``. Anything else
is text: FTS operators (``NEAR``, ``*``, ``^``, ``:``, parentheses) are just
punctuation or words. A word is a run of letters and digits (what SQLite's unicode61
tokenizer and PostgreSQL's ``simple`` configuration index), case-folded; a term with
several (``e-mail``, ``don't``) is a phrase of them.

The result, :class:`SearchQuery`, renders itself as an FTS5 MATCH string in which
every token is a double-quoted string (:meth:`SearchQuery.fts5`), and hands the
PostgreSQL store plain token lists that go to ``phraseto_tsquery`` as bound values.
Pure: no database, no clock."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from app.errors import InvalidInput

MAX_QUERY_CHARS = 500
MAX_TERMS = 16
MAX_TOKENS_PER_TERM = 12


class InvalidQuery(InvalidInput):
    code = "invalid_query"


class QueryTooLong(InvalidInput):
    code = "query_too_long"


_WORD = re.compile(r"[^\W_]+")
# a piece of the query: an optional '-', an optional qualifier, then a quoted phrase
# (the closing quote may be missing: the phrase runs to the end) or a bare run
_PIECE = re.compile(r'(-?)(?:([A-Za-z]+):)?(?:"([^"]*)"?|([^\s"]+))')


def tokens(text: str) -> tuple[str, ...]:
    """The words of ``text`` as both indexes see them: letters and digits, case-folded."""
    return tuple(t.casefold() for t in _WORD.findall(unicodedata.normalize("NFC", text)))


@dataclass(frozen=True, slots=True)
class Term:
    """Words that must appear in this order (one word: anywhere)."""

    words: tuple[str, ...]

    def fts5(self) -> str:
        # tokens are letters and digits only, so a quote can never be inside one
        return '"' + " ".join(self.words) + '"'


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """All ``groups`` match (each group: any of its terms), no ``excluded`` term does,
    the person matches ``person_ids`` and every name in ``person_names``, and the item
    carries every tag in ``tags``."""

    groups: tuple[tuple[Term, ...], ...] = ()
    excluded: tuple[Term, ...] = ()
    person_ids: tuple[int, ...] = ()
    person_names: tuple[Term, ...] = ()
    tags: tuple[str, ...] = ()
    highlight: frozenset[str] = field(default_factory=frozenset)

    def fts5(self) -> str:
        """The FTS5 MATCH expression: every word quoted, every operator ours."""
        parts = ["(" + " OR ".join(t.fts5() for t in g) + ")" for g in self.groups]
        parts += [f"(person : {t.fts5()})" for t in self.person_names]
        match = " AND ".join(parts)
        if self.excluded:
            match = f"({match}) NOT (" + " OR ".join(t.fts5() for t in self.excluded) + ")"
        return match


def parse_query(text: str) -> SearchQuery:
    """Parse the search box; raises :class:`QueryTooLong` or :class:`InvalidQuery`
    (a query with nothing to look for) rather than guessing."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryTooLong(f"a search is at most {MAX_QUERY_CHARS} characters")
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    person_ids: list[int] = []
    person_names: list[Term] = []
    tags: list[str] = []
    join_next = False  # the previous piece was OR: this term joins the last group
    negate_next = False  # the previous piece was NOT
    for match in _PIECE.finditer(text):
        minus, qualifier, quoted, bare = match.groups()
        raw = quoted if quoted is not None else bare or ""
        if qualifier and qualifier.lower() not in ("person", "tag"):
            raw, qualifier = f"{qualifier} {raw}", None  # "http://x", "foo:bar": just text
        if not qualifier and not minus and quoted is None:
            if raw == "OR":
                join_next = bool(groups)
                continue
            if raw in ("AND", "NOT"):
                negate_next = raw == "NOT"
                continue
        words = tokens(raw)[:MAX_TOKENS_PER_TERM]
        negate, negate_next = bool(minus) or negate_next, False
        joined, join_next = join_next, False
        if qualifier and qualifier.lower() == "tag":
            if raw.strip() and not negate:
                tags.append(raw.strip().casefold())
            continue
        if qualifier and raw.isascii() and raw.isdigit():
            if not negate:
                person_ids.append(int(raw) if len(raw) <= 12 else -1)  # -1: nobody
            continue
        if not words:
            continue  # punctuation, a lone '-', an FTS operator character
        term = Term(words)
        if qualifier:
            if not negate:
                person_names.append(term)
        elif negate:
            excluded.append(term)
        elif joined:
            groups[-1].append(term)
        else:
            groups.append([term])
    count = sum(len(g) for g in groups) + len(excluded) + len(person_names) + len(tags)
    if count > MAX_TERMS:
        raise QueryTooLong(f"a search has at most {MAX_TERMS} terms")
    if not groups and not person_names:
        raise InvalidQuery(
            'type a word or a "phrase" to search for (person:, tag: and -exclusions '
            "narrow a search, they cannot be one by themselves)"
        )
    highlight = frozenset(w for g in groups for t in g for w in t.words)
    return SearchQuery(
        groups=tuple(tuple(g) for g in groups),
        excluded=tuple(excluded),
        person_ids=tuple(dict.fromkeys(person_ids)),
        person_names=tuple(person_names),
        tags=tuple(dict.fromkeys(tags)),
        highlight=highlight,
    )
