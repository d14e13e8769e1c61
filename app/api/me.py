from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from app.api.deps import CurrentUser, SessionDep
from app.api.schemas import IdentityOut, SelfIdentities, SelfIdentitiesOut
from app.storage import people as people_store

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
