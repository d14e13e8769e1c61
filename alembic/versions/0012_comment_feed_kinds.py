"""Comment feeds filed as plain feeds become comment sources.

Before 0012 only discovery looked at a feed's kind, so comment feeds imported through
OPML (or added without discovery) were stored as ``feed`` and none of their comments
became contact. This re-examines every plain feed on what is stored: its newest items
(``post#comment-N`` links, threaded replies, "By: Name" titles), its URL and its
title, with the weights of ``ingest.kinds`` (a frozen copy: a migration must do the
same thing forever, whatever that module becomes). A source found to be comments gets
kind ``comments``, its validators cleared and its next check now, so the next refresh
reads the whole document again; the ``adopt_comments`` flag in its state makes that
refresh turn its stored items into comments and count them as contact (keyed by the
comment's URL, so nothing twice). From 0012 on, the refresh job itself recognises
comment feeds on every parse.

Downgrade keeps the corrected kinds: ``comments`` is a kind revision 0011 knows.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:00:00
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qs, urldefrag, urlsplit

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SAMPLE = 50  # newest items looked at per source
ADOPT_FLAG = "adopt_comments"

_FEED_TITLE = re.compile(
    r"^(?:comments (?:on|for)|commentaires (?:sur|pour)|kommentare (?:zu|zum|zur|für)"
    r"|comentarios (?:en|para|sobre)|commenti (?:a|su|per)|comentários (?:em|sobre|para)"
    r"|reacties (?:op|voor))(?:\s*:|\s)",
    re.IGNORECASE,
)
_ENTRY_TITLE = re.compile(
    r"^(?:(?:by|par|von|por|di|da|door)\s*:\s*\S"
    r"|(?:comment on .+ by|commentaire sur .+ par|kommentar zu .+ von|comentario en .+ por"
    r"|commento (?:a|su) .+ d[ai]|comentário (?:em|sobre) .+ por|reactie op .+ door) \S)",
    re.IGNORECASE,
)
_COMMENT_FRAGMENT = re.compile(r"^(?:div-)?comment-?\d+$", re.IGNORECASE)
_COMMENTS_PATH = re.compile(
    r"/comments/feed(?:/(?:atom|rss2?|rdf))?/?$|/feeds/(?:\d+/)?comments/", re.IGNORECASE
)

source = sa.table(
    "source",
    sa.column("id", sa.Integer),
    sa.column("url", sa.String),
    sa.column("kind", sa.String),
    sa.column("title", sa.String),
    sa.column("etag", sa.String),
    sa.column("last_modified", sa.String),
    sa.column("next_check_at", sa.DateTime(timezone=True)),
    sa.column("state", sa.JSON),
)
item = sa.table(
    "item",
    sa.column("id", sa.Integer),
    sa.column("source_id", sa.Integer),
    sa.column("url", sa.String),
    sa.column("title", sa.String),
    sa.column("in_reply_to", sa.String),
    sa.column("comments_feed", sa.String),
)


def _most(flags: list[bool]) -> bool:
    return bool(flags) and sum(flags) * 2 >= len(flags)


def _comment_link(url: str | None) -> bool:
    if not url:
        return False
    _, fragment = urldefrag(url)
    return bool(_COMMENT_FRAGMENT.match(fragment)) or (
        "showComment=" in url and re.fullmatch(r"c\d+", fragment) is not None
    )


def _comments_url(url: str) -> bool:
    parts = urlsplit(url)
    if any(v.startswith("comments-") for v in parse_qs(parts.query).get("feed", [])):
        return True
    return bool(_COMMENTS_PATH.search(parts.path))


def looks_like_comments(url: str, title: str | None, rows: Sequence[sa.Row]) -> bool:
    """The score of ingest.kinds (as of 0012) on stored items instead of a document."""
    score = 0
    if _most([r.in_reply_to is not None for r in rows]):
        score += 2
    if _most([_comment_link(r.url) for r in rows]):
        score += 2
    if _FEED_TITLE.match((title or "").strip()):
        score += 1
    if _most([bool(_ENTRY_TITLE.match((r.title or "").strip())) for r in rows]):
        score += 1
    if _comments_url(url):
        score += 1
    if _most([r.comments_feed is not None for r in rows]) and not any(r.in_reply_to for r in rows):
        score -= 2
    return score >= 2


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":  # SQLite keeps UTC without an offset (UTCDateTime)
        now = now.replace(tzinfo=None)
    feeds = bind.execute(
        sa.select(source.c.id, source.c.url, source.c.title, source.c.state).where(
            source.c.kind == "feed"
        )
    ).all()
    for feed in feeds:
        rows = bind.execute(
            sa.select(item.c.url, item.c.title, item.c.in_reply_to, item.c.comments_feed)
            .where(item.c.source_id == feed.id)
            .order_by(item.c.id.desc())
            .limit(SAMPLE)
        ).all()
        if not looks_like_comments(feed.url, feed.title, rows):
            continue
        state = dict(feed.state) if isinstance(feed.state, dict) else {}
        state[ADOPT_FLAG] = True
        bind.execute(
            source.update()
            .where(source.c.id == feed.id)
            .values(kind="comments", etag=None, last_modified=None, next_check_at=now, state=state)
        )


def downgrade() -> None:
    pass
