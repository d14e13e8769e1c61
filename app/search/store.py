"""Reading the search index: one statement per page on either backend, ranked by
relevance (SQLite: ``-bm25`` over title x8, body x1, person x4; PostgreSQL:
``ts_rank`` over the A/B/D weights), keyset-paged on ``(relevance, id)``, scoped to the
user, muted people, hidden items and duplicates left out as in the timeline."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Float, Integer, Text, and_, func, or_
from sqlalchemy import cast as sa_cast
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from app.errors import InvalidInput
from app.models import Feedback, Identity, Item, Person, Source
from app.search.query import SearchQuery, Term
from app.search.schema import PG_COLUMN
from app.storage.pagination import decode_cursor, encode_cursor

# relevance ranks the newest CANDIDATES matches (after every filter), so a page costs
# the same at 100k items as at 10M even for a word half the items contain; older
# matches are reached with until=
CANDIDATES = 2000
_FTS = sa.table("item_fts", sa.column("rowid", Integer))
# bm25 weights: title 8, body 1, person 4 (negated: higher is better)
_BM25 = sa.literal_column("-bm25(item_fts, 8.0, 1.0, 4.0)", Float)


class SearchHit(NamedTuple):
    """One result: the columns a timeline item shows (JSON ones as stored text)."""

    id: int
    title: str
    url: str | None
    content: str
    published: datetime
    in_reply_to: str | None
    tags: str | None
    enclosures: str | None
    comments_feed: str | None
    comment_count: int | None
    rank_key: float
    why: str | None
    source_id: int
    source_kind: str
    source_title: str | None
    person_id: int | None
    person_name: str | None
    person_pinned: bool | None
    relevance: float


_COLUMNS: tuple[Any, ...] = (
    Item.id,
    Item.title,
    Item.url,
    Item.content,
    Item.published,
    Item.in_reply_to,
    sa_cast(Item.tags, Text),
    sa_cast(Item.enclosures, Text),
    Item.comments_feed,
    Item.comment_count,
    Item.rank_key,
    sa_cast(Item.why, Text),
    Source.id,
    Source.kind,
    Source.title,
    Person.id,
    Person.name,
    Person.pinned,
)


def _tsquery(term: Term) -> ColumnElement[Any]:
    return func.phraseto_tsquery(sa.literal_column("'simple'::regconfig"), " ".join(term.words))


def _fold(op: str, parts: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    out = parts[0]
    for part in parts[1:]:
        out = getattr(func, op)(out, part)
    return out


def _pg_match(q: SearchQuery) -> tuple[ColumnElement[Any], ColumnElement[Any], list[Any]]:
    """(relevance, the @@ condition, per-row person-name conditions) for PostgreSQL:
    every user word goes to phraseto_tsquery as a bound value, combined with
    tsquery_and / tsquery_or / tsquery_not (what && || !! are)."""
    groups = [_fold("tsquery_or", [_tsquery(t) for t in g]) for g in q.groups]
    groups += [_tsquery(t) for t in q.person_names]
    tsq = _fold("tsquery_and", groups)
    if q.excluded:
        tsq = func.tsquery_and(
            tsq, func.tsquery_not(_fold("tsquery_or", [_tsquery(t) for t in q.excluded]))
        )
    vector: ColumnElement[Any] = sa.literal_column(f"item.{PG_COLUMN}")
    names = [
        func.to_tsvector(sa.literal_column("'simple'::regconfig"), Person.name).op("@@")(
            _tsquery(t)
        )
        for t in q.person_names
    ]
    # ts_rank is a real: as double precision it survives the cursor's round trip exactly
    relevance = sa_cast(func.ts_rank(vector, tsq), DOUBLE_PRECISION).label("relevance")
    return relevance, vector.op("@@")(tsq), names


def search_items(
    session: Session,
    *,
    user_id: int,
    query: SearchQuery,
    person_id: int | None = None,
    source_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> tuple[list[SearchHit], str | None]:
    """A page of the user's items matching ``query``, most relevant first, and the
    cursor of the next page (None at the end). The cursor holds the last
    ``(relevance, id)`` and the newest item id of the first page, so later pages rank
    the same candidates however many items arrive meanwhile."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    after: tuple[float, int] | None = None
    if cursor:
        raw_relevance, raw_id, raw_ceiling = decode_cursor(cursor, size=3)
        try:
            after, ceiling = (float(raw_relevance), int(raw_id)), int(raw_ceiling)
        except (TypeError, ValueError):
            raise InvalidInput("the cursor is not one this API returned") from None
    else:
        top = session.execute(sa.select(func.max(col(Item.id))).where(col(Item.user_id) == user_id))
        ceiling = top.scalar() or 0
    conditions: list[Any] = [
        Item.user_id == user_id,
        col(Item.id) <= ceiling,
        col(Item.duplicate_of_id).is_(None),
        or_(col(Person.muted).is_(None), col(Person.muted).is_(False)),
        ~sa.exists().where(
            col(Feedback.item_id) == Item.id,
            col(Feedback.user_id) == user_id,
            col(Feedback.action) == "hide",
        ),
    ]
    for pid in set(query.person_ids) | ({person_id} if person_id is not None else set()):
        conditions.append(col(Identity.person_id) == pid)
    if source_id is not None:
        conditions.append(Item.source_id == source_id)
    if since is not None:
        conditions.append(col(Item.published) > since)
    if until is not None:
        conditions.append(col(Item.published) <= until)
    for tag in query.tags:
        # as the timeline's tag filter: the quoted, JSON-escaped tag in the stored list
        needle = json.dumps(tag).lower()
        pattern = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(func.lower(sa_cast(Item.tags, Text)).like(f"%{pattern}%", escape="\\"))
    people = Item.__table__.outerjoin(  # type: ignore[attr-defined]
        Identity.__table__,  # type: ignore[attr-defined]
        col(Identity.id) == Item.identity_id,
    ).outerjoin(Person.__table__, col(Person.id) == Identity.person_id)  # type: ignore[attr-defined]
    if sqlite:
        # FTS5 walks the matches newest first (rowid order) and stops at CANDIDATES
        candidates = (
            sa.select(_FTS.c.rowid.label("id"), _BM25.label("relevance"))
            .select_from(_FTS.join(people, col(Item.id) == _FTS.c.rowid))
            .where(sa.literal_column("item_fts").op("MATCH")(query.fts5()), *conditions)
            .order_by(_FTS.c.rowid.desc())
            .limit(CANDIDATES)
            .subquery("hits")
        )
        relevance: Any = candidates.c.relevance
    else:
        rank, matches, names = _pg_match(query)
        newest = (
            sa.select(col(Item.id))
            .select_from(people)
            .where(matches, *names, *conditions)
            .order_by(col(Item.id).desc())
            .limit(CANDIDATES)
            .subquery("newest")
        )
        candidates = (
            sa.select(col(Item.id).label("id"), rank)
            .join(newest, newest.c.id == Item.id)
            .subquery("hits")
        )
        relevance = candidates.c.relevance
    statement = (
        sa.select(*_COLUMNS, relevance)
        .select_from(candidates)
        .join(Item, col(Item.id) == candidates.c.id)
        .join(Source, col(Source.id) == Item.source_id)
        .outerjoin(Identity, col(Identity.id) == Item.identity_id)
        .outerjoin(Person, col(Person.id) == Identity.person_id)
    )
    if after is not None:
        statement = statement.where(
            or_(relevance < after[0], and_(relevance == after[0], col(Item.id) < after[1]))
        )
    statement = statement.order_by(relevance.desc(), col(Item.id).desc()).limit(limit + 1)
    session.flush()
    rows = [SearchHit._make(row) for row in session.connection().execute(statement)]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.relevance, last.id, ceiling)
    return rows[:limit], next_cursor
