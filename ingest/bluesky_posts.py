"""Bluesky records -> plain data: posts as entries (facets, embeds, reposts, replies)
and notifications, own posts and likes as interactions.

Facets index the post text by UTF-8 *byte* offsets, so the text is sliced as bytes.
Everything built here goes through :func:`ingest.sanitize.sanitize_html` once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlsplit

from ingest.atproto_identity import normalize_handle, profile_url
from ingest.sanitize import plain_text, sanitize_html
from ingest.types import AuthorData, Enclosure, EntryData, IdentityEvidence, InteractionData

LINK = "app.bsky.richtext.facet#link"
MENTION = "app.bsky.richtext.facet#mention"
TAG = "app.bsky.richtext.facet#tag"
REPOST = "app.bsky.feed.defs#reasonRepost"
IGNORED_SITES = frozenset({"bsky.app", "bsky.social"})


def when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def sort_key(value: Any) -> str:
    """A timestamp as a string that sorts like the time ('' when there is none)."""
    at = when(value)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if at else ""


def split_uri(uri: str) -> tuple[str, str, str] | None:
    """``at://did/collection/rkey`` -> (did, collection, rkey)."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


def post_url(uri: str) -> str | None:
    """The bsky.app address of a post: by DID, which outlives handle changes."""
    parts = split_uri(uri)
    if parts is None:
        return None
    return f"https://bsky.app/profile/{parts[0]}/post/{quote(parts[2], safe='')}"


def identity(author: dict[str, Any]) -> IdentityEvidence:
    did = str(author.get("did") or "").lower()
    handle = str(author.get("handle") or "")
    name = plain_text(str(author.get("displayName") or ""), limit=200)
    return IdentityEvidence(kind="bsky", value=did, display_name=name or handle or did)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _safe_link(uri: Any) -> str | None:
    if isinstance(uri, str) and uri.lower().startswith(("https://", "http://")):
        return uri[:2048]
    return None


def render_text(text: str, facets: Any) -> tuple[str, list[str]]:
    """Post text as HTML with its facets as links, and the hashtags it carries."""
    raw = text.encode("utf-8")
    spans: list[tuple[int, int, str]] = []
    tags: list[str] = []
    for facet in facets if isinstance(facets, list) else ():
        index = facet.get("index") if isinstance(facet, dict) else None
        if not isinstance(index, dict):
            continue
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(raw)):
            continue
        for feature in facet.get("features") or ():
            kind = feature.get("$type") if isinstance(feature, dict) else None
            href = None
            if kind == LINK:
                href = _safe_link(feature.get("uri"))
            elif kind == MENTION and isinstance(feature.get("did"), str):
                href = profile_url(feature["did"])
            elif kind == TAG and isinstance(feature.get("tag"), str):
                tags.append(feature["tag"][:100])
                href = "https://bsky.app/hashtag/" + quote(feature["tag"], safe="")
            if href:
                spans.append((start, end, href))
                break
    spans.sort()
    out: list[str] = []
    cursor = 0
    for start, end, href in spans:
        if start < cursor:  # overlapping facets: the first one wins
            continue
        out.append(_text(raw[cursor:start]))
        out.append(f'<a href="{escape(href)}">{_text(raw[start:end])}</a>')
        cursor = end
    out.append(_text(raw[cursor:]))
    return "".join(out), tags


def _text(chunk: bytes) -> str:
    return escape(chunk.decode("utf-8", "ignore")).replace("\n", "<br>")


def _embed_parts(embed: Any) -> tuple[list[str], list[Enclosure]]:
    """HTML blocks and enclosures for an embed *view* (images, external, video, quote)."""
    html: list[str] = []
    enclosures: list[Enclosure] = []
    if not isinstance(embed, dict):
        return html, enclosures
    kind = str(embed.get("$type") or "")
    if kind.startswith("app.bsky.embed.images"):
        for image in embed.get("images") or ():
            link = _safe_link(image.get("fullsize") or image.get("thumb"))
            if link:
                alt = plain_text(str(image.get("alt") or ""), limit=1500) or None
                enclosures.append(Enclosure(url=link, type="image", description=alt))
    elif kind.startswith("app.bsky.embed.external"):
        ext = embed.get("external") or {}
        link = _safe_link(ext.get("uri"))
        if link:
            title = escape(plain_text(str(ext.get("title") or link), limit=300))
            desc = escape(plain_text(str(ext.get("description") or ""), limit=1000))
            html.append(f'<p><a href="{escape(link)}">{title}</a><br>{desc}</p>')
            enclosures.append(Enclosure(url=link, type="text/html", description=desc or None))
    elif kind.startswith("app.bsky.embed.video"):
        link = _safe_link(embed.get("playlist"))
        if link:
            alt = plain_text(str(embed.get("alt") or ""), limit=1500) or None
            enclosures.append(Enclosure(url=link, type="video", description=alt))
    elif kind.startswith("app.bsky.embed.recordWithMedia"):
        more_html, more = _embed_parts(embed.get("record") or {})
        media_html, media = _embed_parts(embed.get("media"))
        html, enclosures = media_html + more_html, media + more
    elif kind.startswith("app.bsky.embed.record"):
        quoted = embed.get("record") or {}
        if isinstance(quoted, dict) and isinstance(quoted.get("record"), dict):
            quoted = quoted["record"]  # recordWithMedia nests one level more
        value = quoted.get("value") if isinstance(quoted, dict) else None
        link = post_url(str(quoted.get("uri") or "")) if isinstance(quoted, dict) else None
        if isinstance(value, dict) and link:
            who = identity(quoted.get("author") or {}).display_name
            text, _ = render_text(str(value.get("text") or ""), value.get("facets"))
            html.append(
                f'<blockquote><p>{text}</p><p>— <a href="{escape(link)}">{escape(who)}</a>'
                "</p></blockquote>"
            )
    return html, enclosures


def post_entry(item: dict[str, Any]) -> EntryData | None:
    """A FeedViewPost (or a bare PostView) as an entry by the post's author; a repost
    is the original post with ``boosted_by`` the reposter's handle."""
    post = _obj(item.get("post")) or item
    uri = str(post.get("uri") or "")
    record = _obj(post.get("record"))
    url = post_url(uri)
    author = _obj(post.get("author"))
    if url is None or not author.get("did"):
        return None
    reason = _obj(item.get("reason"))
    boosted_by = None
    if reason.get("$type") == REPOST and isinstance(reason.get("by"), dict):
        boosted_by = str(reason["by"].get("handle") or reason["by"].get("did") or "")[:200]
    text = str(record.get("text") or "")
    body, tags = render_text(text, record.get("facets"))
    blocks, enclosures = _embed_parts(post.get("embed"))
    html = f"<p>{body}</p>" + "".join(blocks)
    parent = _obj(_obj(record.get("reply")).get("parent"))
    in_reply_to = post_url(str(parent.get("uri") or "")) if parent else None
    who = identity(author)
    plain = plain_text(text, limit=100_000) or plain_text(html, limit=300)
    langs = record.get("langs")
    extra_tags = [str(t)[:100] for t in record.get("tags") or () if isinstance(t, str)]
    return EntryData(
        dedupe_key="at:" + uri[:1000],
        url=url,
        title=(plain[:117] + "...") if len(plain) > 120 else plain,
        content=sanitize_html(html, base_url=url),
        published=when(record.get("createdAt")) or when(post.get("indexedAt")),
        updated=None,
        author=AuthorData(name=who.display_name, uri=profile_url(who.value)),
        identity=who,
        in_reply_to=in_reply_to,
        tags=tuple(dict.fromkeys(tags + extra_tags)),
        enclosures=tuple(enclosures),
        language=str(langs[0])[:20] if isinstance(langs, list) and langs else None,
        boosted_by=boosted_by,
    )


NOTIFICATION_KINDS = {
    "reply": "reply",
    "mention": "mention",
    "quote": "mention",
    "like": "favourite",
    "repost": "boost",
    "follow": "follow",
}


def notification_interaction(n: dict[str, Any]) -> InteractionData | None:
    """Them -> you: replies, mentions, quotes, likes, reposts, follows."""
    kind = NOTIFICATION_KINDS.get(str(n.get("reason")))
    author = n.get("author")
    at = when(n.get("indexedAt")) or when((n.get("record") or {}).get("createdAt"))
    if kind is None or not isinstance(author, dict) or not author.get("did") or at is None:
        return None
    return InteractionData(
        direction="in",
        kind=kind,
        at=at,
        who=identity(author),
        external_id=f"bsky:notification:{n.get('reason')}:{n.get('uri')}",
    )


def own_post_interactions(item: dict[str, Any], *, me: str) -> list[InteractionData]:
    """You -> them, from a FeedViewPost of your own feed: the post you reply to, the
    people you mention or quote, the posts you repost."""
    post = item.get("post") or {}
    record = post.get("record") or {}
    uri = str(post.get("uri") or "")
    reason = item.get("reason") or {}
    if reason.get("$type") == REPOST:
        at = when(reason.get("indexedAt"))
        author = post.get("author") or {}
        if at is None or not author.get("did") or author.get("did") == me:
            return []
        return [InteractionData("out", "boost", at, identity(author), f"bsky:repost:{me}:{uri}")]
    author_did = (post.get("author") or {}).get("did")
    at = when(record.get("createdAt"))
    if at is None or author_did != me:
        return []
    out: list[InteractionData] = []
    parent = (item.get("reply") or {}).get("parent") or {}
    parent_author = parent.get("author") if isinstance(parent, dict) else None
    if isinstance(parent_author, dict) and parent_author.get("did") not in (None, me):
        out.append(
            InteractionData("out", "reply", at, identity(parent_author), f"bsky:reply:{uri}")
        )
    replied = parent_author.get("did") if isinstance(parent_author, dict) else None
    names = {}
    quoted = (post.get("embed") or {}).get("record") or {}
    if isinstance(quoted.get("record"), dict):
        quoted = quoted["record"]
    quoted_author = quoted.get("author") if isinstance(quoted, dict) else None
    if isinstance(quoted_author, dict) and quoted_author.get("did") not in (None, me, replied):
        out.append(
            InteractionData("out", "mention", at, identity(quoted_author), f"bsky:quote:{uri}")
        )
        names[quoted_author["did"]] = True
    for facet in record.get("facets") or ():
        for feature in facet.get("features") or ():
            did = feature.get("did") if feature.get("$type") == MENTION else None
            if not isinstance(did, str) or did in (me, replied) or did in names:
                continue
            names[did] = True
            who = IdentityEvidence(kind="bsky", value=did.lower(), display_name=did)
            out.append(InteractionData("out", "mention", at, who, f"bsky:mention:{uri}:{did}"))
    return out


def like_interaction(
    record: dict[str, Any], *, me: str, profiles: dict[str, dict[str, Any]]
) -> InteractionData | None:
    """You -> them: a like record of your repo (``com.atproto.repo.listRecords``)."""
    value = record.get("value") or {}
    subject = split_uri(str((value.get("subject") or {}).get("uri") or ""))
    at = when(value.get("createdAt"))
    if subject is None or at is None or subject[0] == me:
        return None
    author = profiles.get(subject[0]) or {"did": subject[0], "handle": subject[0]}
    return InteractionData(
        "out", "favourite", at, identity(author), f"bsky:like:{record.get('uri')}"
    )


def profile_sites(profile: dict[str, Any]) -> list[str]:
    """Hosts of the links a profile's description names (for merge suggestions)."""
    hosts: list[str] = []
    for word in str(profile.get("description") or "").split():
        word = word.strip("()<>[],.;:!\"'")
        if "://" not in word:
            word = "https://" + word
        link = _safe_link(word)
        host = (urlsplit(link).hostname or "").lower().removeprefix("www.") if link else ""
        if normalize_handle(host) and host not in IGNORED_SITES and host not in hosts:
            hosts.append(host)
    return hosts[:10]
