"""Features, as (name, value) pairs so every contribution can be put in words.

Person features feed the prior of a person's affinity (how you know them, the contact
between you); item features feed the per-user item model (hashed, scikit-learn).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime

from ranking.stories import Story, is_congratulation, life_event
from ranking.types import CLOSE_RELATIONSHIPS, ItemInfo, PersonInfo

DAY = 86400.0
CONTACT_HALF_LIFE_DAYS = 90.0
# contact Kith sees, then contact the user logs (a meeting counts more than a reply)
CONTACT_WEIGHTS = {"reply": 2.0, "comment": 2.0, "mention": 1.5, "favourite": 0.5, "boost": 1.0,
                   "call": 3.0, "meeting": 4.0, "message": 2.0, "email": 2.0, "letter": 3.0,
                   "other": 1.5}  # fmt: skip
KNOWN_RELATIONSHIPS = frozenset({"colleague", "co-worker", "met", "neighbor", "neighbour",
                                 "acquaintance", "contact", "co-resident"})  # fmt: skip
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_STOPWORDS_TEXT = """the and for with that this from have are was were you your our their not
but all about what when who how why its it's into out new just one can will more some der
die das und ein eine les des une pour avec"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def person_features(person: PersonInfo, *, now: datetime) -> dict[str, float]:
    """The relationship features behind a person's prior: reciprocity, contact either
    way (weighted by kind, decayed), recency, closeness, follows and identities."""
    out_w = in_w = 0.0
    last: datetime | None = None
    for c in person.contacts:
        age_days = max((now - c.at).total_seconds() / DAY, 0.0)
        if c.at > now:
            continue
        w = CONTACT_WEIGHTS.get(c.kind, 1.0) * 0.5 ** (age_days / CONTACT_HALF_LIFE_DAYS)
        if c.direction in ("out", "both"):  # both: a logged contact neither side started
            out_w += w
        if c.direction != "out":
            in_w += w
        if last is None or c.at > last:
            last = c.at
    rels = {r.lower() for r in person.relationships}
    feats: dict[str, float] = {}
    if out_w or in_w:
        feats["contact_out"] = math.log1p(out_w)
        feats["contact_in"] = math.log1p(in_w)
        feats["reciprocity"] = min(out_w, in_w) / max(out_w, in_w)
    if last is not None:
        feats["recent_contact"] = math.exp(-(now - last).total_seconds() / DAY / 30.0)
    if rels & CLOSE_RELATIONSHIPS:
        feats["close"] = 1.0
    elif rels & KNOWN_RELATIONSHIPS:
        feats["known"] = 1.0
    if person.mutual_follow:
        feats["mutual_follow"] = 1.0
    if person.endorsed:
        feats["endorsed"] = 1.0
    if person.has_note:
        feats["note"] = 1.0
    if person.identity_count > 1:
        feats["identities"] = math.log(person.identity_count)
    return feats


def title_tokens(title: str, limit: int = 12) -> list[str]:
    seen: list[str] = []
    for word in _WORD.findall(title.casefold()):
        if word not in STOPWORDS and word not in seen:
            seen.append(word)
            if len(seen) >= limit:
                break
    return seen


def item_features(item: ItemInfo) -> list[tuple[str, float]]:
    """What the item model looks at: kind, you in it, length, link/media, tags, title
    words. Names are readable so contributions can be explained."""
    feats: list[tuple[str, float]] = [(f"kind:{item.source_kind}", 1.0)]
    if item.mentions_you:
        feats.append(("mentions_you", 1.0))
    if item.your_thread:
        feats.append(("your_thread", 1.0))
    n = len(item.text)
    feats.append(("len:short" if n < 280 else "len:medium" if n < 2000 else "len:long", 1.0))
    if item.has_link:
        feats.append(("link", 1.0))
    if item.has_media:
        feats.append(("media", 1.0))
    for tag in list(dict.fromkeys(t.casefold().strip() for t in item.tags if t.strip()))[:8]:
        feats.append((f"tag:{tag}", 1.0))
    for word in title_tokens(item.title):
        feats.append((f"word:{word}", 1.0))
    return feats


def describe_feature(name: str) -> str:
    """Words for one item feature, as used in explanations."""
    kind, _, value = name.partition(":")
    if name == "mentions_you":
        return "it mentions you"
    if name == "your_thread":
        return "a thread you took part in"
    if kind == "tag":
        return f"posts tagged {value}"
    if kind == "word":
        return f"posts about “{value}”"
    if kind == "kind":
        return {"mastodon": "Mastodon posts", "comments": "comments"}.get(value, "blog posts")
    if kind == "len":
        return f"{value} posts"
    return {"link": "posts with links", "media": "posts with pictures or media"}.get(name, name)


def story_of(item: ItemInfo, *, spike_ratio: float = 3.0, spike_min: int = 5) -> str | None:
    """Why this item may be an important story: a life event in its words, replies that
    congratulate or console, or far more comments than the author usually gets."""
    found: Story | None = life_event(item.title, item.text)
    if found is not None:
        return f"looks like a life event ({found.event})"
    if item.congratulations > 0 or is_congratulation(item.title):
        return "replies congratulate or console"
    if item.comment_count is not None and item.comment_count >= spike_min:
        usual = item.author_usual_comments or 0.0
        if item.comment_count >= spike_ratio * max(usual, 1.0):
            return "far more comments than usual for them"
    return None


def is_close(relationships: Iterable[str]) -> bool:
    return bool({r.lower() for r in relationships} & CLOSE_RELATIONSHIPS)
