"""Weak identity evidence: people who may be one person, with a confidence and reasons.

Strong evidence (the same profile URL, the same e-mail hash, the same Mastodon account)
already lands on one identity key and so one person; what is left here is the weaker
kind, offered to the user as a suggestion to accept or reject.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

_NON_WORD = re.compile(r"[^\w\s]", re.UNICODE)


@dataclass(frozen=True, slots=True)
class PersonSketch:
    id: int
    name: str
    sites: frozenset[str] = frozenset()  # hosts their identities were seen on


@dataclass(frozen=True, slots=True)
class Suggestion:
    a: int
    b: int
    confidence: float
    reasons: tuple[str, ...]


def normalize_name(name: str) -> str:
    """Case, accents, punctuation and spacing removed: 'Zoë  O'Neil' -> 'zoe oneil'."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _NON_WORD.sub("", text.casefold())
    return " ".join(text.split())


def suggest_merges(
    people: Iterable[PersonSketch],
    *,
    rejected: set[frozenset[int]] | None = None,
    limit: int = 100,
) -> list[Suggestion]:
    """Pairs with the same name once normalised (0.7), or the same first and last name
    around a different middle (0.5); a shared site adds 0.2. Rejected pairs never return.
    Names of one word are too weak on their own and need a shared site."""
    rejected = rejected or set()
    by_full: defaultdict[str, list[PersonSketch]] = defaultdict(list)
    by_ends: defaultdict[str, list[PersonSketch]] = defaultdict(list)
    for p in people:
        norm = normalize_name(p.name)
        if not norm:
            continue
        by_full[norm].append(p)
        words = norm.split()
        if len(words) >= 2:
            by_ends[f"{words[0]} {words[-1]}"].append(p)
    found: dict[frozenset[int], Suggestion] = {}

    def consider(group: list[PersonSketch], base: float, reason: str) -> None:
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                pair = frozenset((a.id, b.id))
                if a.id == b.id or pair in rejected:
                    continue
                shared = a.sites & b.sites
                single_word = len(normalize_name(a.name).split()) < 2
                if single_word and not shared:
                    continue
                reasons = [reason.format(a=a.name, b=b.name)]
                confidence = base
                if shared:
                    confidence += 0.2
                    reasons.append("both seen on " + ", ".join(sorted(shared)))
                previous = found.get(pair)
                if previous is None or previous.confidence < confidence:
                    low, high = sorted((a.id, b.id))
                    found[pair] = Suggestion(
                        low, high, round(min(confidence, 0.95), 2), tuple(reasons)
                    )

    for group in by_full.values():
        if 1 < len(group) <= 50:  # a very common name alone is no evidence
            consider(group, 0.7, "the same name: {a!r}")
    for group in by_ends.values():
        if 1 < len(group) <= 50:
            consider(group, 0.5, "the same first and last name: {a!r} and {b!r}")
    ranked = sorted(found.values(), key=lambda s: (-s.confidence, s.a, s.b))
    return ranked[:limit]
