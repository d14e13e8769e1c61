from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlmodel import Session

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.jobs.people_links import read_links
from app.jobs.scoring import rescore_people
from app.models import Person
from app.people.cards import contact_by_direction, merge_suggestions, people_out, saved
from app.people.reach import reach_out
from app.schemas import (
    DriftPage,
    MergeRequest,
    PairRequest,
    PeoplePage,
    PersonOut,
    PersonUpdate,
    SnoozeRequest,
    SplitRequest,
    SuggestionPage,
    Weight,
    WeightUpdate,
)
from app.storage import people as people_store

router = APIRouter(prefix="/people", tags=["people"])


@router.get("", response_model=PeoplePage)
def read_people(
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> PeoplePage:
    """The people behind your sources, with identities, activity and weight."""
    assert user.id is not None
    rows, next_cursor = people_store.list_people(
        session, user_id=user.id, limit=limit, cursor=cursor
    )
    return PeoplePage(items=people_out(session, rows), next_cursor=next_cursor)


@router.get("/drifting", response_model=DriftPage)
def read_drifting(
    session: SessionDep,
    user: CurrentUser,
    k: Annotated[float, Query(gt=1, le=20, description="How many usual gaps is too long")] = 3.0,
) -> DriftPage:
    """Valued people you are losing touch with, with why, recent posts as openers and the
    ways back from each."""
    assert user.id is not None
    return DriftPage(items=reach_out(session, user_id=user.id, now=datetime.now(UTC), k=k))


@router.post("/links")
async def read_people_links(
    session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> dict[str, object]:
    """Read people's pages now: rel="me" both ways merges their accounts; XFN on your own
    blog sets how you know people. Returns what changed."""
    assert user.id is not None
    report = await read_links(session, user_id=user.id, policy=settings.fetch_policy())
    return {
        "pages": report.pages,
        "merged": [list(pair) for pair in report.merged],
        "relationships": {str(k): v for k, v in report.relationships.items()},
        "errors": [{"url": u, "code": c} for u, c in report.errors],
    }


@router.get("/suggestions", response_model=SuggestionPage)
def read_suggestions(session: SessionDep, user: CurrentUser) -> SuggestionPage:
    """People who may be one person (weak evidence), with a confidence and the reasons."""
    assert user.id is not None
    return merge_suggestions(session, user_id=user.id)


@router.post("/suggestions/accept", response_model=PersonOut)
def accept_suggestion(body: PairRequest, session: SessionDep, user: CurrentUser) -> PersonOut:
    """Accept a suggestion: the two become one person (nothing of either is lost)."""
    assert user.id is not None
    kept = people_store.merge_people(
        session, user_id=user.id, keep_id=min(body.a, body.b), other_id=max(body.a, body.b)
    )
    return people_out(session, [kept])[0]


@router.post("/suggestions/reject", status_code=204)
def reject_suggestion(body: PairRequest, session: SessionDep, user: CurrentUser) -> Response:
    """Reject a suggestion: this pair is never suggested again."""
    assert user.id is not None
    people_store.reject_suggestion(
        session, user_id=user.id, a=body.a, b=body.b, now=datetime.now(UTC)
    )
    return Response(status_code=204)


@router.get("/{person_id}", response_model=PersonOut)
def read_person(person_id: int, session: SessionDep, user: CurrentUser) -> PersonOut:
    """One person, with the contact between you."""
    assert user.id is not None
    person = people_store.get_person(session, user_id=user.id, person_id=person_id)
    out = people_out(session, [person])[0]
    contacts = people_store.contacts_of(session, user_id=user.id, person_id=person_id)
    out.contact = {
        "last": contacts[-1][0].isoformat() if contacts else None,
        "count": len(contacts),
        "last_year": contact_by_direction(contacts, now=datetime.now(UTC)),
    }
    return out


@router.patch("/{person_id}", response_model=PersonOut)
def update_person(
    person_id: int, body: PersonUpdate, session: SessionDep, user: CurrentUser
) -> PersonOut:
    """Rename, say how you know them, or set how often you want to be in touch."""
    assert user.id is not None
    person = people_store.get_person(session, user_id=user.id, person_id=person_id)
    fields = body.model_dump(exclude_unset=True)
    if "name" in fields and body.name:
        person.name = body.name
    if "relationships" in fields:
        person.relationships = sorted(set(body.relationships or []))
    if "cadence_days" in fields:
        person.cadence_days = body.cadence_days
    return saved(session, person)


@router.get("/{person_id}/weight", response_model=Weight)
def read_weight(person_id: int, session: SessionDep, user: CurrentUser) -> Weight:
    """A person's learned affinity, your manual weight, pin/mute and the effective sum."""
    assert user.id is not None
    person = people_store.get_person(session, user_id=user.id, person_id=person_id)
    return people_out(session, [person])[0].weight


@router.put("/{person_id}/weight", response_model=PersonOut)
def update_weight(
    person_id: int, body: WeightUpdate, session: SessionDep, user: CurrentUser
) -> PersonOut:
    """Listen to someone more or less (-2..2), pin them, or mute them; the next timeline
    request is ranked with it."""
    assert user.id is not None
    person = people_store.get_person(session, user_id=user.id, person_id=person_id)
    person.manual_weight, person.pinned, person.muted = body.manual, body.pinned, body.muted
    return _reweighed(session, person)


@router.delete("/{person_id}/weight", response_model=PersonOut)
def reset_weight(person_id: int, session: SessionDep, user: CurrentUser) -> PersonOut:
    """Back to autopilot: no manual weight, not pinned, not muted."""
    assert user.id is not None
    person = people_store.get_person(session, user_id=user.id, person_id=person_id)
    person.manual_weight, person.pinned, person.muted = None, False, False
    return _reweighed(session, person)


def _reweighed(session: Session, person: Person) -> PersonOut:
    """Save a weight change and rescore that person's items for the next timeline read."""
    out = saved(session, person)
    rescore_people(session, user_id=person.user_id, person_ids=[out.id], now=datetime.now(UTC))
    return out


@router.post("/{person_id}/merge", response_model=PersonOut)
def merge_person(
    person_id: int, body: MergeRequest, session: SessionDep, user: CurrentUser
) -> PersonOut:
    """Merge another person into this one: their identities, items and contact move here."""
    assert user.id is not None
    kept = people_store.merge_people(
        session, user_id=user.id, keep_id=person_id, other_id=body.other_id
    )
    return people_out(session, [kept])[0]


@router.post("/{person_id}/split", response_model=PersonOut)
def split_person(
    person_id: int, body: SplitRequest, session: SessionDep, user: CurrentUser
) -> PersonOut:
    """Split one identity off into a person of its own; returns the new person."""
    assert user.id is not None
    fresh = people_store.split_identity(
        session, user_id=user.id, person_id=person_id, identity_id=body.identity_id
    )
    return people_out(session, [fresh])[0]


@router.post("/{person_id}/snooze", response_model=PersonOut)
def snooze_person(
    person_id: int, body: SnoozeRequest, session: SessionDep, user: CurrentUser
) -> PersonOut:
    """Do not list them as drifting before ``until``."""
    assert user.id is not None
    person = people_store.get_person(session, user_id=user.id, person_id=person_id)
    until = body.until if body.until.tzinfo else body.until.replace(tzinfo=UTC)
    person.snoozed_until = until
    return saved(session, person)


@router.post("/{person_id}/dismiss", response_model=PersonOut)
def dismiss_person(person_id: int, session: SessionDep, user: CurrentUser) -> PersonOut:
    """Dismiss this silence; they come back only after a new contact, then a new silence."""
    assert user.id is not None
    person = people_store.get_person(session, user_id=user.id, person_id=person_id)
    person.dismissed_at = datetime.now(UTC)
    return saved(session, person)
