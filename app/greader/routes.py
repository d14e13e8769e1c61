"""``/reader/api/0``: subscriptions (people as feeds), tags (relationship folders and
Kith's two streams), unread counts, streams, item contents, read/star, mark all read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from app.api.deps import EngineDep, SessionDep
from app.apps import mapping
from app.greader import protocol, streams
from app.greader.protocol import AppUser, GReaderError, GReaderRoute, Params, ParamsDep
from app.jobs import learner

router = APIRouter(prefix="/reader/api/0", route_class=GReaderRoute, include_in_schema=False)

IDS_DEFAULT, IDS_MAX = 1000, 10_000
CONTENTS_DEFAULT, CONTENTS_MAX = 20, 1000
ORDER = {"o": "oldest", "a": "rank", "m": "rank", "n": "newest", "d": "newest"}


def _ok() -> Response:
    return PlainTextResponse("OK")


@router.get("/subscription/list")
def read_subscriptions(request: Request, session: SessionDep, who: AppUser) -> Response:
    """Your people as feeds (all their sources merged), in relationship folders."""
    base = protocol.base_url(request)
    feeds = mapping.feeds(session, user_id=who.user_id)
    return JSONResponse({"subscriptions": [protocol.feed_json(f, base_url=base) for f in feeds]})


@router.get("/tag/list")
def read_tags(session: SessionDep, who: AppUser) -> Response:
    """Starred, the relationship folders, and Kith's two streams."""
    tags: list[dict[str, str]] = [{"id": streams.STARRED, "sortid": "00000001"}]
    for i, label in enumerate(mapping.labels(session, user_id=who.user_id)):
        tags.append({"id": protocol.label_id(label), "sortid": f"1{i:07d}", "type": "folder"})
    for label in mapping.VIRTUAL_LABELS:
        tags.append({"id": protocol.label_id(label), "sortid": "20000000", "type": "tag"})
    return JSONResponse({"tags": tags})


@router.get("/unread-count")
def read_unread_counts(session: SessionDep, who: AppUser) -> Response:
    """Unread items per person, per folder and in all."""
    feeds = mapping.feeds(session, user_id=who.user_id)
    counts: list[dict[str, object]] = []
    per_label: dict[str, tuple[int, datetime | None]] = {}
    total, newest_all = 0, None
    for feed in feeds:
        newest = feed.newest
        counts.append(
            {
                "id": protocol.feed_stream_id(feed.number),
                "count": feed.unread,
                "newestItemTimestampUsec": protocol.usec(newest) if newest else "0",
            }
        )
        total += feed.unread
        if newest and (newest_all is None or newest > newest_all):
            newest_all = newest
        for label in feed.folders:
            n, at = per_label.get(label, (0, None))
            later = newest if at is None or (newest and newest > at) else at
            per_label[label] = (n + feed.unread, later)
    for label, (n, at) in sorted(per_label.items()):
        counts.append(
            {
                "id": protocol.label_id(label),
                "count": n,
                "newestItemTimestampUsec": protocol.usec(at) if at else "0",
            }
        )
    counts.append(
        {
            "id": streams.READING_LIST,
            "count": total,
            "newestItemTimestampUsec": protocol.usec(newest_all) if newest_all else "0",
        }
    )
    return JSONResponse({"max": max([total, 1000]), "unreadcounts": counts})


def _stream(
    session: SessionDep, user_id: int, params: Params, stream_id: str | None
) -> tuple[str, streams.StreamFilter, str]:
    sid = stream_id if stream_id is not None else (params.get("s") or streams.READING_LIST)
    f = streams.resolve(session, user_id=user_id, stream_id=sid)
    f = streams.with_states(f, exclude=params.getlist("xt"), include=params.getlist("it"))
    after, before = params.timestamp("ot"), params.timestamp("nt")
    if after is not None or before is not None:
        f = replace(f, published_after=after, published_before=before)
    order = ORDER.get((params.get("r") or "n").strip().lower()[:1], "newest")
    return sid, f, order


def _settled(engine: EngineDep, user_id: int, params: Params) -> None:
    """In the ranked order, feedback this process took is learned first (as the timeline)."""
    order = ORDER.get((params.get("r") or "n").strip().lower()[:1], "newest")
    if order == "rank" and learner.pending(engine, user_id):
        learner.settle(engine, user_id)


@router.get("/stream/items/ids")
def read_stream_ids(
    session: SessionDep, engine: EngineDep, who: AppUser, params: ParamsDep
) -> Response:
    """Item ids of a stream (``s``), newest first unless ``r=o`` (oldest) or ``r=a``
    (Kith's ranked order); ``n`` per page, ``c`` continuation."""
    _settled(engine, who.user_id, params)
    _, f, order = _stream(session, who.user_id, params, None)
    limit = params.integer("n", IDS_DEFAULT, low=1, high=IDS_MAX)
    refs, cont = streams.page_ids(
        session, user_id=who.user_id, f=f, order=order, limit=limit, continuation=params.get("c")
    )
    body: dict[str, object] = {
        "itemRefs": [
            {"id": str(r.id), "directStreamIds": [], "timestampUsec": protocol.usec(r.published)}
            for r in refs
        ]
    }
    if cont:
        body["continuation"] = cont
    return JSONResponse(body)


def _contents(session: SessionDep, who: AppUser, params: Params) -> Response:
    ids = protocol.item_ids(params)
    if len(ids) > CONTENTS_MAX:
        raise GReaderError(400, f"Bad Request: at most {CONTENTS_MAX} items at once")
    rows = streams.load_items(session, user_id=who.user_id, ids=ids)
    return JSONResponse(
        {
            "id": streams.READING_LIST,
            "updated": int(datetime.now(UTC).timestamp()),
            "items": [protocol.item_json(r) for r in rows],
        }
    )


@router.post("/stream/items/contents")
def read_item_contents(session: SessionDep, who: AppUser, params: ParamsDep) -> Response:
    """The items named by ``i`` (repeated; either id form), in that order."""
    return _contents(session, who, params)


@router.get("/stream/items/contents")
def read_item_contents_get(session: SessionDep, who: AppUser, params: ParamsDep) -> Response:
    """The same with ``i`` in the query."""
    return _contents(session, who, params)


def _stream_contents(
    request: Request, session: SessionDep, who: AppUser, params: Params, stream_id: str | None
) -> Response:
    sid, f, order = _stream(session, who.user_id, params, stream_id)
    limit = params.integer("n", CONTENTS_DEFAULT, low=1, high=CONTENTS_MAX)
    refs, cont = streams.page_ids(
        session, user_id=who.user_id, f=f, order=order, limit=limit, continuation=params.get("c")
    )
    rows = streams.load_items(session, user_id=who.user_id, ids=[r.id for r in refs])
    body: dict[str, object] = {
        "direction": "ltr",
        "id": sid,
        "title": sid.rsplit("/", 1)[-1],
        "self": [{"href": str(request.url)}],
        "updated": int(datetime.now(UTC).timestamp()),
        "items": [protocol.item_json(r) for r in rows],
    }
    if cont:
        body["continuation"] = cont
    return JSONResponse(body)


@router.get("/stream/contents")
def read_stream_contents_query(
    request: Request, session: SessionDep, who: AppUser, params: ParamsDep
) -> Response:
    """A stream's items (``s`` in the query), with the same filters as the ids."""
    return _stream_contents(request, session, who, params, None)


@router.get("/stream/contents/{stream_id:path}")
def read_stream_contents(
    stream_id: str, request: Request, session: SessionDep, who: AppUser, params: ParamsDep
) -> Response:
    """A stream's items (the stream id in the path)."""
    return _stream_contents(request, session, who, params, stream_id)


def _flag(values: list[str], state: str) -> bool:
    return any(streams.user_state(v.strip()) == state for v in values)


@router.post("/edit-tag")
def edit_tag(engine: EngineDep, who: AppUser, params: ParamsDep) -> Response:
    """Read/unread and star/unstar items (``i``; ``a`` adds, ``r`` removes a state). Read
    is Kith's read state and counts as opening it; star is saved and counts as a like."""
    ids = protocol.item_ids(params)
    add, remove = params.getlist("a"), params.getlist("r")
    read: bool | None = None
    if _flag(add, streams.READ) or _flag(remove, streams.KEPT_UNREAD):
        read = True
    elif _flag(remove, streams.READ) or _flag(add, streams.KEPT_UNREAD):
        read = False
    starred = (
        True if _flag(add, streams.STARRED) else False if _flag(remove, streams.STARRED) else None
    )
    mapping.apply_state(
        engine, user_id=who.user_id, item_ids=ids, read=read, starred=starred, now=datetime.now(UTC)
    )
    return _ok()


@router.post("/mark-all-as-read")
def mark_all_as_read(
    session: SessionDep, engine: EngineDep, who: AppUser, params: ParamsDep
) -> Response:
    """Mark a stream (``s``) read up to ``ts`` (microseconds: what the client saw)."""
    sid = params.get("s") or streams.READING_LIST
    f = streams.resolve(session, user_id=who.user_id, stream_id=sid)
    session.rollback()  # the reads are done; the marking runs in its own transactions
    if f.empty or (f.item_ids is not None and not f.item_ids) or f.read is True:
        return _ok()
    before = params.timestamp("ts") or datetime.now(UTC)
    mapping.mark_all_read(
        engine,
        user_id=who.user_id,
        person_ids=f.person_ids,
        source_ids=f.source_ids,
        item_ids=f.item_ids,
        published_before=before,
        only_saved=f.starred is True,
        now=datetime.now(UTC),
    )
    return _ok()
