"""The vocabulary of the ingest pipeline: frozen dataclasses, nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful response: the decoded body bytes and what caching needs."""

    url: str  # the URL finally answered (after redirects)
    content: bytes
    status: int
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # the URL to store as the source's new address, set only when every hop was a
    # permanent redirect (301/308) and the target passed the network guard
    permanent_url: str | None = None
    # seconds the server says the response stays fresh (Cache-Control / Expires)
    fresh_for_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class NotModified:
    """The server answered 304 to a conditional GET."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    fresh_for_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class AuthorData:
    """Who wrote an entry, as the feed says it. ``name`` is plain text."""

    name: str | None = None
    uri: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class IdentityEvidence:
    """One way of recognising a person: ``kind`` + ``value`` is the identity key.

    Kinds so far: ``url`` (a profile or home page), ``email_sha256`` (a hashed
    address, never the address itself), ``feed_author`` (a name as seen on one site).
    """

    kind: str
    value: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Enclosure:
    """An attached file or medium (podcast audio, a photo), kept as a link."""

    url: str
    type: str | None = None
    length: int | None = None
    description: str | None = None  # alt text, for media attachments


@dataclass(frozen=True, slots=True)
class EntryData:
    """One feed entry, ready to store: HTML already sanitized, title plain text."""

    dedupe_key: str
    url: str | None
    title: str
    content: str
    published: datetime | None
    updated: datetime | None
    author: AuthorData
    identity: IdentityEvidence
    in_reply_to: str | None = None
    tags: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    # the entry's own comment thread, when the feed says where it is
    comments_feed: str | None = None
    comment_count: int | None = None
    language: str | None = None
    boosted_by: str | None = None  # Mastodon: the acct that boosted it into view


@dataclass(frozen=True, slots=True)
class InteractionData:
    """Contact between the user and someone: ``out`` is the user reaching them
    (proactive), ``in`` them reaching the user (reactive)."""

    direction: str  # in | out
    kind: str  # reply | mention | favourite | boost | follow | comment
    at: datetime
    who: IdentityEvidence
    external_id: str


@dataclass(frozen=True, slots=True)
class FeedData:
    """A parsed feed: its own metadata and its entries, in document order."""

    title: str
    link: str | None
    entries: tuple[EntryData, ...] = field(default=())
    ttl_minutes: int | None = None
