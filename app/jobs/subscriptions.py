"""Subscribing: the one place that turns a user's URL or OPML file into sources.

Used by the API, the CLI and the web reader alike, so a URL is checked by the
network guard the same way whichever door it came in by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlmodel import Session

from app.errors import Conflict, InvalidInput
from app.models import Source
from app.storage import sources as source_store
from ingest.atproto_identity import parse_actor, profile_url
from ingest.discover import common_feed_urls, find_feed_links, looks_like_html, mastodon_account
from ingest.errors import IngestError, NoFeedFound
from ingest.fetch import FetchPolicy, fetch, make_client
from ingest.guard import GuardPolicy, check_url
from ingest.kinds import looks_like_comments
from ingest.opml import OPMLOutline, parse_opml, render_opml
from ingest.parse import parse_feed
from ingest.types import FeedData, FetchResult, NotModified


@dataclass(frozen=True, slots=True)
class Discovered:
    url: str
    kind: str  # feed | comments | mastodon
    title: str | None = None


async def discover(url: str, policy: FetchPolicy) -> list[Discovered]:
    """What ``url`` can be followed as: itself if it is a feed, the feeds a page names,
    else the usual feed paths of its site; a Mastodon profile URL is recognised as such.
    Every request goes through the network guard."""
    url = url.strip()
    actor = bluesky_actor(url)
    if actor is not None:
        return [Discovered(url=profile_url(actor), kind="bluesky", title=actor)]
    check_url(url, policy.guard)
    account = mastodon_account(url)
    if account is not None:
        return [Discovered(url=url, kind="mastodon", title=account.acct)]
    async with make_client(policy) as client:
        result = await fetch(client, url, policy)
        if isinstance(result, NotModified):
            return [Discovered(url=url, kind="feed")]
        if not looks_like_html(result.content, result.content_type):
            feed = _as_feed(result)
            if feed is not None:
                return [
                    Discovered(
                        url=result.permanent_url or url, kind=_kind(feed, url), title=feed.title
                    )
                ]
        links = find_feed_links(result.content, base_url=result.url)
        candidates = [link.url for link in links] or common_feed_urls(result.url)
        found = []
        for candidate in candidates:
            try:
                answer = await fetch(client, candidate, policy)
            except IngestError:
                continue
            if isinstance(answer, FetchResult):
                feed = _as_feed(answer)
                if feed is not None:
                    found.append(
                        Discovered(url=candidate, kind=_kind(feed, candidate), title=feed.title)
                    )
                    if not links:  # guessing paths: the first hit is enough
                        break
    if not found:
        raise NoFeedFound(f"{url} is not a feed and names none", url=url)
    return found


def _as_feed(result: FetchResult) -> FeedData | None:
    try:
        return parse_feed(result.content, url=result.url, content_type=result.content_type)
    except IngestError:
        return None


def _kind(feed: FeedData, url: str) -> str:
    """The one rule (ingest.kinds), shared with the refresh job's check after a parse."""
    return "comments" if looks_like_comments(feed, url) else "feed"


def bluesky_actor(url: str) -> str | None:
    """The handle or DID a Bluesky address names: ``https://bsky.app/profile/<h>``,
    ``bsky:<h>``, ``@<handle>``, a DID, or a bare ``*.bsky.social`` handle. Any other
    bare host name is not taken for a handle: ``example.org`` may as well be a site."""
    text = url.strip()
    explicit = text.startswith(("bsky:", "@", "did:", "at://")) or "bsky.app/profile/" in text
    hosted = "://" not in text and "/" not in text and text.lower().endswith(".bsky.social")
    return parse_actor(text) if explicit or hosted else None


def default_kind(url: str, token: str | None) -> str:
    """bluesky for a Bluesky address; mastodon for a token or a profile URL
    (https://instance/@name); else feed."""
    if bluesky_actor(url.strip()) is not None:
        return "bluesky"
    return "mastodon" if token or mastodon_account(url.strip()) else "feed"


def add_source(
    session: Session,
    *,
    user_id: int,
    url: str,
    kind: str = "feed",
    title: str | None = None,
    folder: str | None = None,
    token: str | None = None,
    guard: GuardPolicy,
    now: datetime,
) -> Source:
    """Validate ``url`` with the guard, then subscribe; raises a coded error otherwise.

    A Mastodon source is a profile URL (public, no token) or an instance URL with the
    user's access token (their own account)."""
    url = url.strip()
    if kind != "bluesky":
        check_url(url, guard)
    if kind == "bluesky":  # the app password (token) is stored as the access token below
        actor = parse_actor(url)
        if actor is None:
            raise InvalidInput(
                "a Bluesky source is a profile (https://bsky.app/profile/<handle>, @handle, "
                "bsky:<handle> or a DID); with an app password, your own account"
            )
        url, title = profile_url(actor), title or actor
    elif kind == "mastodon" or token:
        kind = "mastodon"
        account = mastodon_account(url)
        if token:
            parts = urlsplit(url)
            url = f"{parts.scheme}://{parts.netloc}"
        elif account is None:
            raise InvalidInput(
                "a Mastodon source is a profile URL (https://instance/@name), "
                "or an instance URL with --token"
            )
        else:
            url = f"{account.instance}/@{account.username}"
            title = title or account.acct
    source = source_store.create_source(
        session, user_id=user_id, url=url, kind=kind, title=title, folder=folder, now=now
    )
    if token:
        source.access_token = token
        session.add(source)
    return source


@dataclass(slots=True)
class ImportResult:
    added: list[Source] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # url, code, message


def import_opml(
    session: Session, *, user_id: int, content: bytes, guard: GuardPolicy, now: datetime
) -> ImportResult:
    """Subscribe to every feed in an OPML file; a bad entry is skipped with its reason."""
    result = ImportResult()
    for outline in parse_opml(content):
        try:
            with session.begin_nested():
                source = add_source(
                    session,
                    user_id=user_id,
                    url=outline.url,
                    title=outline.title,
                    folder=outline.folder,
                    guard=guard,
                    now=now,
                )
            result.added.append(source)
        except Conflict as exc:
            result.skipped.append((outline.url, exc.code, exc.message))
        except IngestError as exc:
            result.skipped.append((outline.url, exc.code, exc.message))
    return result


def export_opml(session: Session, *, user_id: int) -> bytes:
    outlines = [
        OPMLOutline(url=s.url, title=s.title, html_url=s.site_url, folder=s.folder)
        for s in source_store.all_sources(session, user_id=user_id)
    ]
    return render_opml(outlines)
