"""Ways back to a person from something they wrote: a reply on Mastodon with the user's
own account, an e-mail, a comment on their post. The decisions are pure functions of
plain facts (:class:`Account`, :class:`Opening`); the loaders below gather the facts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from sqlmodel import Session

from app.errors import NotFound
from app.models import Identity, Item, Person, Source
from app.schemas import WayOut
from app.storage import people as people_store
from app.storage import sources as source_store
from app.storage.items import TimelineRow
from ingest.mastodon import WRITE_SCOPES, origin

# a status's own page on its instance: /@name/ID (Mastodon's web URL) or its ActivityPub id
LOCAL_STATUS = (re.compile(r"^/@[^/]+/(\d+)/?$"), re.compile(r"^/users/[^/]+/statuses/(\d+)/?$"))
EMAIL = re.compile(r"^[^@\s<>?&]+@[^@\s<>?&]+\.[^@\s<>?&]+$")


@dataclass(frozen=True, slots=True)
class Account:
    """The user's own Mastodon account (a source with a token), as the decision sees it."""

    source_id: int
    instance: str  # scheme://host[:port]
    scopes: tuple[str, ...] | None  # None: not known (yet), see reason
    reason: str | None = None

    @property
    def can_post(self) -> bool:
        return bool(self.scopes and WRITE_SCOPES.intersection(self.scopes))


@dataclass(frozen=True, slots=True)
class Opening:
    """An item to answer: where it came from and who wrote it."""

    item_id: int
    source_kind: str  # feed | comments | mastodon
    url: str | None
    title: str
    comments_feed: str | None = None
    acct: str | None = None  # a Mastodon author: user@host


def instance_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def posting_account(accounts: list[Account], *, status_url: str | None) -> Account | None:
    """The account to reply with: one that may post, on the status's own instance first;
    else the best one that may not (for its reason); None without any account."""
    if not accounts:
        return None
    here = origin(status_url) if status_url else None

    def rank(a: Account) -> tuple[bool, bool]:
        return (not a.can_post, origin(a.instance) != here)

    return sorted(accounts, key=rank)[0]


def local_status_id(status_url: str, instance: str) -> str | None:
    """The status id when the URL is on the user's own instance (no lookup needed)."""
    if origin(status_url) != origin(instance):
        return None
    path = urlsplit(status_url).path
    for pattern in LOCAL_STATUS:
        if found := pattern.match(path):
            return found.group(1)
    return None


def mastodon_way(opening: Opening, accounts: list[Account]) -> WayOut:
    account = posting_account(accounts, status_url=opening.url)
    way = WayOut(
        kind="mastodon_reply",
        label="Reply on Mastodon",
        url=opening.url,
        prefill=f"@{opening.acct} " if opening.acct else None,
    )
    if account is None:
        reason = "Add your own Mastodon account (your instance and a token) to reply from Kith."
    elif account.scopes is None:
        reason = account.reason or "Kith has not checked yet what your token may do."
        reason = f"Your token cannot be checked: {reason}"
    elif not account.can_post:
        reason = (
            "Your Mastodon token may not post (it lacks the write:statuses scope): "
            "make a token with it to reply from Kith."
        )
    else:
        return way
    return way.model_copy(update={"available": False, "reason": reason})


def mailto_way(opening: Opening, emails: list[str]) -> WayOut | None:
    """Only with a clear address (feeds give e-mails hashed: those cannot be written to)."""
    address = next((e for e in emails if EMAIL.match(e)), None)
    if address is None:
        return None
    subject = quote(f"Re: {opening.title}"[:200], safe="")
    return WayOut(kind="mailto", label="E-mail", url=f"mailto:{address}?subject={subject}")


def comment_way(opening: Opening) -> WayOut | None:
    """A blog post's comment form (WordPress's ``#respond`` when it has a comment feed);
    a comment: its own page, where the thread goes on."""
    if opening.source_kind == "mastodon" or not opening.url:
        return None
    if not opening.url.startswith(("http://", "https://")):
        return None
    if opening.source_kind == "comments":
        return WayOut(kind="comment", label="Answer in the thread", url=opening.url)
    url = opening.url + "#respond" if opening.comments_feed and "#" not in opening.url else None
    return WayOut(kind="comment", label="Comment on the post", url=url or opening.url)


def ways_back(opening: Opening, *, accounts: list[Account], emails: list[str]) -> list[WayOut]:
    """Every way back from this opener, the one in Kith first."""
    ways: list[WayOut | None] = []
    if opening.source_kind == "mastodon":
        ways.append(mastodon_way(opening, accounts))
    ways += [comment_way(opening), mailto_way(opening, emails)]
    return [w for w in ways if w is not None]


# --- the facts, from the database -----------------------------------------------------


def account_of(source: Source) -> Account:
    assert source.id is not None
    state = source.state or {}
    scopes = state.get("scopes")
    reason = state.get("scopes_reason")
    return Account(
        source_id=source.id,
        instance=instance_of(source.url),
        scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else None,
        reason=str(reason) if reason else None,
    )


def accounts_of(session: Session, *, user_id: int) -> list[Account]:
    """The user's own Mastodon accounts: Mastodon sources with a token."""
    return [
        account_of(s)
        for s in source_store.all_sources(session, user_id=user_id)
        if s.kind == "mastodon" and s.access_token
    ]


def item_row(session: Session, *, user_id: int, item_id: int) -> TimelineRow:
    """The user's item with its source and person; another user's answers NotFound."""
    item = session.get(Item, item_id)
    if item is None or item.user_id != user_id:
        raise NotFound(f"item {item_id} not found")
    source = session.get(Source, item.source_id)
    assert source is not None
    person = None
    if item.identity_id is not None:
        identity = session.get(Identity, item.identity_id)
        person = session.get(Person, identity.person_id) if identity is not None else None
    return TimelineRow(item=item, source=source, person=person)


def opening_of(session: Session, row: TimelineRow) -> Opening:
    item = row.item
    assert item.id is not None
    acct = None
    if row.source.kind == "mastodon" and item.identity_id is not None:
        identity = session.get(Identity, item.identity_id)
        if identity is not None and identity.kind == "acct":
            acct = identity.value
    return Opening(
        item_id=item.id,
        source_kind=row.source.kind,
        url=item.url,
        title=item.title,
        comments_feed=item.comments_feed,
        acct=acct,
    )


def clear_emails(identities: list[dict[str, object]] | list[Identity]) -> list[str]:
    """E-mail addresses in the clear (identity kind ``email``: given by the user)."""
    out = []
    for i in identities:
        kind, value = (i.kind, i.value) if isinstance(i, Identity) else (i["kind"], i["value"])
        if kind == "email" and isinstance(value, str):
            out.append(value)
    return out


def ways_for(session: Session, *, user_id: int, item_id: int) -> list[WayOut]:
    """The ways back from one of the user's items."""
    row = item_row(session, user_id=user_id, item_id=item_id)
    emails = (
        clear_emails(people_store.identities_of(session, person_id=row.person.id))
        if row.person is not None and row.person.id is not None
        else []
    )
    return ways_back(
        opening_of(session, row), accounts=accounts_of(session, user_id=user_id), emails=emails
    )
