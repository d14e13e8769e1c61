"""Mastodon entities -> plain data: statuses as entries, notifications and the user's
own statuses as interactions, accounts as identities, and what the instance says about
an account (verified profile links, the user's relationship with it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape, unescape
from typing import Any
from urllib.parse import urlsplit

from ingest.assemble import normalize_url
from ingest.sanitize import plain_text, sanitize_html
from ingest.types import (
    AuthorData,
    Enclosure,
    EntryData,
    IdentityEvidence,
    InteractionData,
)


def full_acct(account: dict[str, Any]) -> str:
    acct = str(account.get("acct") or account.get("username") or "")
    if "@" not in acct:
        acct = f"{acct}@{urlsplit(str(account.get('url') or '')).netloc or 'unknown'}"
    return acct.lower()


def account_identity(account: dict[str, Any]) -> IdentityEvidence:
    name = plain_text(str(account.get("display_name") or ""), limit=200)
    return IdentityEvidence(
        kind="acct",
        value=full_acct(account),
        display_name=name or str(account.get("username") or full_acct(account)),
    )


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def status_entry(status: dict[str, Any], *, instance: str) -> EntryData:
    """A status (or the original of a boost) as an entry by its author."""
    boosted_by = None
    if isinstance(status.get("reblog"), dict):
        boosted_by = full_acct(status.get("account") or {})
        status = status["reblog"]
    account = status.get("account") or {}
    url = str(status.get("url") or status.get("uri") or "")
    body = str(status.get("content") or "")
    spoiler = str(status.get("spoiler_text") or "")
    if spoiler:
        body = f"<p><strong>CW: {escape(spoiler)}</strong></p>{body}"
    poll = status.get("poll")
    if isinstance(poll, dict) and poll.get("options"):
        options = "".join(
            f"<li>{escape(str(o.get('title', '')))} ({o.get('votes_count') or 0})</li>"
            for o in poll["options"]
        )
        body += f"<p>Poll:</p><ul>{options}</ul>"
    enclosures = []
    for media in status.get("media_attachments") or ():
        link = media.get("remote_url") or media.get("url")
        if isinstance(link, str) and link.startswith(("http://", "https://")):
            enclosures.append(
                Enclosure(
                    url=link[:2048],
                    type=str(media.get("type") or "") or None,
                    description=plain_text(str(media.get("description") or ""), limit=1500) or None,
                )
            )
    identity = account_identity(account)
    text = plain_text(body, limit=100_000)
    parent = status.get("in_reply_to_id")
    return EntryData(
        dedupe_key="id:" + str(status.get("uri") or url)[:1000],
        url=url or None,
        title=(text[:117] + "...") if len(text) > 120 else text,
        content=sanitize_html(body, base_url=url or instance),
        published=_when(status.get("created_at")),
        updated=_when(status.get("edited_at")),
        author=AuthorData(name=identity.display_name, uri=str(account.get("url") or "") or None),
        identity=identity,
        in_reply_to=f"{instance}/web/statuses/{parent}" if parent else None,
        tags=tuple(str(t.get("name")) for t in status.get("tags") or () if t.get("name")),
        enclosures=tuple(enclosures),
        language=str(status.get("language") or "")[:20] or None,
        boosted_by=boosted_by,
    )


def _host(instance: str) -> str:
    return urlsplit(instance).hostname or instance


def notification_interaction(
    n: dict[str, Any], *, instance: str, me: str
) -> InteractionData | None:
    """Them -> you: mentions and replies, favourites, boosts, follows."""
    kind = {
        "mention": "mention",
        "favourite": "favourite",
        "reblog": "boost",
        "follow": "follow",
    }.get(str(n.get("type")))
    account = n.get("account")
    at = _when(n.get("created_at"))
    if kind is None or not isinstance(account, dict) or at is None:
        return None
    status = n.get("status") or {}
    if kind == "mention" and status.get("in_reply_to_account_id") == me:
        kind = "reply"
    return InteractionData(
        direction="in",
        kind=kind,
        at=at,
        who=account_identity(account),
        external_id=f"mastodon:{_host(instance)}:notification:{n.get('id')}",
    )


def own_status_interactions(s: dict[str, Any], *, instance: str, me: str) -> list[InteractionData]:
    """You -> them: whom your statuses reply to, mention and boost."""
    at = _when(s.get("created_at"))
    if at is None:
        return []
    host = _host(instance)
    out: list[InteractionData] = []
    if isinstance(s.get("reblog"), dict):
        author = s["reblog"].get("account") or {}
        if author.get("id") != me:
            out.append(
                InteractionData(
                    "out",
                    "boost",
                    at,
                    account_identity(author),
                    f"mastodon:{host}:status:{s.get('id')}:boost",
                )
            )
        return out
    reply_to = s.get("in_reply_to_account_id")
    for mention in s.get("mentions") or ():
        if mention.get("id") == me:
            continue
        kind = "reply" if mention.get("id") == reply_to else "mention"
        out.append(
            InteractionData(
                "out",
                kind,
                at,
                account_identity(mention),
                f"mastodon:{host}:status:{s.get('id')}:{kind}:{mention.get('id')}",
            )
        )
    return out


def favourite_interaction(s: dict[str, Any], *, instance: str, me: str) -> InteractionData | None:
    author = s.get("account") or {}
    at = _when(s.get("created_at"))
    if at is None or author.get("id") == me:
        return None
    return InteractionData(
        "out",
        "favourite",
        at,
        account_identity(author),
        f"mastodon:{_host(instance)}:favourite:{s.get('id')}",
    )


# --- what the instance says about an account --------------------------------------------

_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.I)


@dataclass(frozen=True, slots=True)
class Relationship:
    """The user's relationship with one account (``/accounts/relationships``, plus the
    featured list of ``/endorsements``)."""

    following: bool = False
    followed_by: bool = False
    endorsed: bool = False  # featured on the user's profile
    has_note: bool = False  # the user wrote a private note on them (the text stays there)

    def as_dict(self) -> dict[str, bool]:
        return {
            "following": self.following,
            "followed_by": self.followed_by,
            "endorsed": self.endorsed,
            "note": self.has_note,
        }


def relationship_of(data: dict[str, Any]) -> Relationship:
    return Relationship(
        following=bool(data.get("following")),
        followed_by=bool(data.get("followed_by")),
        endorsed=bool(data.get("endorsed")),
        has_note=bool(str(data.get("note") or "").strip()),
    )


def verified_links(account: dict[str, Any]) -> tuple[str, ...]:
    """Normalised URLs of the profile fields the instance verified (``verified_at``): it
    fetched the page and found a ``rel="me"`` link back to the profile, so the profile
    and the page say "me" to each other."""
    out: list[str] = []
    for f in account.get("fields") or ():
        if not isinstance(f, dict) or not f.get("verified_at"):
            continue
        value = str(f.get("value") or "")
        found = _HREF.search(value)
        url = unescape(found.group(1)) if found else plain_text(value, limit=2048)
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc:
            out.append(normalize_url(url))
    return tuple(dict.fromkeys(out))


def accounts_in(
    statuses: list[dict[str, Any]], notes: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Every account seen in these statuses and notifications, by its full acct."""
    found: dict[str, dict[str, Any]] = {}
    for s in statuses:
        for account in (s.get("account"), (s.get("reblog") or {}).get("account")):
            if isinstance(account, dict) and account.get("id"):
                found.setdefault(full_acct(account), account)
    for n in notes:
        account = n.get("account")
        if isinstance(account, dict) and account.get("id"):
            found.setdefault(full_acct(account), account)
    return found
