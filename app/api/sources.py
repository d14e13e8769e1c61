from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.errors import InvalidInput
from app.jobs.subscriptions import add_source, default_kind, discover, export_opml, import_opml
from app.schemas import (
    DiscoveredOut,
    DiscoverRequest,
    DiscoverResult,
    SourceCreate,
    SourceOut,
    SourcePage,
    SourceUpdate,
)
from app.storage import sources as source_store

router = APIRouter(prefix="/sources", tags=["sources"])

MAX_OPML_BYTES = 5 * 1024 * 1024


@router.get("", response_model=SourcePage)
def read_sources(
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> SourcePage:
    """The current user's sources with their errors and next check."""
    assert user.id is not None
    rows, next_cursor = source_store.list_sources(
        session, user_id=user.id, limit=limit, cursor=cursor
    )
    return SourcePage(items=[SourceOut.from_row(s) for s in rows], next_cursor=next_cursor)


@router.post("", response_model=SourceOut, status_code=status.HTTP_201_CREATED)
async def create_source(
    body: SourceCreate, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> SourceOut:
    """Subscribe to a feed; a URL the network guard refuses answers 422 with its code.
    With ``discover``, a site URL subscribes to the (first) feed it names."""
    assert user.id is not None
    url, kind = body.url, body.kind or default_kind(body.url, body.token)
    if body.discover and not body.token:
        first = (await discover(body.url, settings.fetch_policy()))[0]
        url, kind = first.url, body.kind or first.kind
    source = add_source(
        session,
        user_id=user.id,
        url=url,
        kind=kind,
        token=body.token,
        title=body.title,
        folder=body.folder,
        guard=settings.fetch_policy().guard,
        now=datetime.now(UTC),
    )
    return SourceOut.from_row(source)


@router.post("/discover", response_model=DiscoverResult)
async def discover_sources(
    body: DiscoverRequest, user: CurrentUser, settings: SettingsDep
) -> DiscoverResult:
    """The feeds a URL offers (itself, the feeds its page names, or common feed paths)."""
    found = await discover(body.url, settings.fetch_policy())
    return DiscoverResult(
        items=[DiscoveredOut(url=d.url, kind=d.kind, title=d.title) for d in found]
    )


@router.get("/opml", response_class=Response, responses={200: {"content": {"text/x-opml": {}}}})
def read_sources_opml(session: SessionDep, user: CurrentUser) -> Response:
    """Every source of the current user as an OPML 2.0 file."""
    assert user.id is not None
    return Response(export_opml(session, user_id=user.id), media_type="text/x-opml")


@router.post("/opml")
async def create_sources_from_opml(
    request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> dict[str, object]:
    """Import an OPML file sent as the request body; bad entries are listed, not fatal."""
    assert user.id is not None
    content = bytearray()
    async for chunk in request.stream():
        content.extend(chunk)
        if len(content) > MAX_OPML_BYTES:
            raise InvalidInput(f"the OPML file is over {MAX_OPML_BYTES} bytes")
    result = import_opml(
        session,
        user_id=user.id,
        content=bytes(content),
        guard=settings.fetch_policy().guard,
        now=datetime.now(UTC),
    )
    return {
        "added": [SourceOut.from_row(s).model_dump(mode="json") for s in result.added],
        "skipped": [{"url": u, "code": c, "message": m} for u, c, m in result.skipped],
    }


@router.get("/{source_id}", response_model=SourceOut)
def read_source(source_id: int, session: SessionDep, user: CurrentUser) -> SourceOut:
    """One source of the current user."""
    assert user.id is not None
    return SourceOut.from_row(
        source_store.get_source(session, user_id=user.id, source_id=source_id)
    )


@router.patch("/{source_id}", response_model=SourceOut)
def update_source(
    source_id: int, body: SourceUpdate, session: SessionDep, user: CurrentUser
) -> SourceOut:
    """Rename a source, file it in a folder, or pause and resume it."""
    assert user.id is not None
    source = source_store.get_source(session, user_id=user.id, source_id=source_id)
    fields = body.model_dump(exclude_unset=True)
    for name in ("title", "folder"):
        if name in fields:
            setattr(source, name, fields[name])
    if fields.get("paused") is not None:
        source.paused = bool(fields["paused"])
        if not source.paused:
            source.next_check_at = datetime.now(UTC)
    session.add(source)
    session.flush()
    return SourceOut.from_row(source)


@router.post("/{source_id}/refresh", response_model=SourceOut)
def refresh_source(source_id: int, session: SessionDep, user: CurrentUser) -> SourceOut:
    """Check this source at the next scheduler tick (unpauses it; its backoff is waived)."""
    assert user.id is not None
    source = source_store.get_source(session, user_id=user.id, source_id=source_id)
    source.paused = False
    source.next_check_at = datetime.now(UTC)
    session.add(source)
    session.flush()
    return SourceOut.from_row(source)


@router.delete("/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_source(source_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """Unsubscribe; the source's items go with it."""
    assert user.id is not None
    source_store.delete_source(session, user_id=user.id, source_id=source_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
