from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from app.api.deps import CurrentUser, SessionDep
from app.errors import NotFound
from app.jobs.digest import atom_feed, build_digest
from app.schemas import TimelineItem
from app.storage.items import read_timeline
from app.storage.users import user_for_token
from app.web.common import TEMPLATES

router = APIRouter(tags=["digest"])


@router.get("/digest", response_model=None)
def read_digest(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    since: Annotated[datetime | None, Query(description="ISO 8601; default: a day ago")] = None,
    format: Annotated[Literal["json", "html"], Query()] = "json",  # noqa: A002
) -> dict[str, object] | HTMLResponse:
    """What happened since a time, life events among it, and whom to reach out to."""
    assert user.id is not None
    now = datetime.now(UTC)
    since = since or now - timedelta(days=1)
    since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
    digest = build_digest(session, user_id=user.id, since=since, now=now)
    if format == "html":
        return TEMPLATES.TemplateResponse(
            request, "digest.html", {"digest": digest, "names": digest.names, "user": None}
        )
    return {
        "since": since.isoformat(),
        "items": [TimelineItem.from_row(r).model_dump(mode="json") for r in digest.rows],
        "stories": [
            {
                "item": TimelineItem.from_row(r).model_dump(mode="json"),
                "event": s.event,
                "evidence": s.evidence,
            }
            for r, s in digest.stories
        ],
        "reach_out": [
            {
                "person_id": d.person_id,
                "days_since_contact": d.days_since_contact,
                "usual_gap_days": d.usual_gap_days,
                "why": d.why,
            }
            for d in digest.drifts
        ],
        "upcoming": [u.model_dump(mode="json") for u in digest.upcoming],
    }


@router.get(
    "/feeds/{token}/atom.xml",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
def read_atom_feed(token: str, request: Request, session: SessionDep) -> Response:
    """Your curated stream as Atom, for any feed reader (the feed token is in the URL)."""
    user = user_for_token(session, raw=token, feed=True)
    if user is None or user.id is None:
        raise NotFound("no such feed")
    rows, _ = read_timeline(session, user_id=user.id, limit=50)
    body = atom_feed(
        rows, title=f"Kith: {user.name}", self_url=str(request.url), updated=datetime.now(UTC)
    )
    return Response(body, media_type="application/atom+xml")
