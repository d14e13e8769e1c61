from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from app.api.deps import CurrentUser, EngineDep, LimiterDep, SessionDep
from app.jobs.export import export_chunks, export_filename
from app.schemas import AccountDeletion, IdentityOut, SelfIdentities, SelfIdentitiesOut
from app.storage import accounts as account_store
from app.storage import people as people_store
from app.storage import users as user_store

router = APIRouter(prefix="/me", tags=["me"])

_SHOWN_KIND = {"url": "url", "email_sha256": "email", "name": "name", "acct": "mastodon"}


@router.get("/identities", response_model=SelfIdentitiesOut)
def read_self_identities(session: SessionDep, user: CurrentUser) -> SelfIdentitiesOut:
    """Your own identities: your blog, accounts, names (e-mail shown hashed)."""
    assert user.id is not None
    me = people_store.self_person(session, user_id=user.id, name=user.name, now=datetime.now(UTC))
    return SelfIdentitiesOut(
        identities=[
            IdentityOut(kind=_SHOWN_KIND.get(i.kind, i.kind), value=i.value)
            for i in people_store.identities_of(session, person_id=me.id or 0)
        ]
    )


@router.put("/identities", response_model=SelfIdentitiesOut)
def update_self_identities(
    body: SelfIdentities, session: SessionDep, user: CurrentUser
) -> SelfIdentitiesOut:
    """Replace your own identities; comments on your blog then count as contact."""
    assert user.id is not None
    stored = people_store.set_self_identities(
        session,
        user_id=user.id,
        name=user.name,
        identities=[(i.kind, i.value) for i in body.identities],
        now=datetime.now(UTC),
    )
    return SelfIdentitiesOut(
        identities=[
            IdentityOut(kind=_SHOWN_KIND.get(i.kind, i.kind), value=i.value) for i in stored
        ]
    )


@router.post("/feed-token")
def create_feed_token(request: Request, session: SessionDep, user: CurrentUser) -> dict[str, str]:
    """A new URL for the Atom feed of your curated stream (the previous one stops working).
    The token in it opens that feed only, never the API."""
    assert user.id is not None
    now = datetime.now(UTC)
    user_store.revoke_tokens(session, user_id=user.id, name=user_store.FEED_TOKEN, now=now)
    _, raw = user_store.create_token(session, user_id=user.id, name=user_store.FEED_TOKEN)
    base = str(request.base_url).rstrip("/")
    return {"url": f"{base}/api/v1/feeds/{raw}/atom.xml"}


@router.delete("/feed-token", status_code=204)
def delete_feed_token(session: SessionDep, user: CurrentUser) -> Response:
    """Revoke the Atom feed URL."""
    assert user.id is not None
    user_store.revoke_tokens(
        session, user_id=user.id, name=user_store.FEED_TOKEN, now=datetime.now(UTC)
    )
    return Response(status_code=204)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}}},
)
def read_export(user: CurrentUser, engine: EngineDep) -> StreamingResponse:
    """All your data as one JSON document, streamed (no tokens or secrets in it)."""
    assert user.id is not None
    now = datetime.now(UTC)
    return StreamingResponse(
        export_chunks(engine, user_id=user.id, now=now),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{export_filename(user.name, now)}"'
        },
    )


@router.delete("", status_code=204)
def delete_me(
    body: AccountDeletion,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    limiter: LimiterDep,
) -> Response:
    """Delete your account and everything it owns, for good: your password again in the
    body (an account without one: {"confirm": "<your user name>"})."""
    assert user.id is not None
    limiter.hit("login", f"user:{user.name.lower()}")  # no password guessing through here
    account_store.check_deletion(user, password=body.password, confirm=body.confirm)
    account_store.delete_account(session, user_id=user.id)
    if "user_id" in request.session:
        request.session.clear()
    return Response(status_code=204)
