"""Person cards: a person with identities, activity and weight, as both faces show it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from app.jobs.scoring import person_weights
from app.models import Person
from app.schemas import PersonOut, SuggestionOut, SuggestionPage, Weight
from app.storage import people as people_store
from ranking.identity import suggest_merges
from ranking.relationships import contacts_by_kind


def people_out(session: Session, people: list[Person]) -> list[PersonOut]:
    ids = [p.id for p in people if p.id is not None]
    identities = people_store.identities_by_person(session, person_ids=ids)
    activity = people_store.activity_by_person(session, person_ids=ids)
    user_ids = {p.user_id for p in people}
    weights = (
        person_weights(session, user_id=user_ids.pop(), people=people, now=datetime.now(UTC))
        if len(user_ids) == 1
        else {}
    )
    out = []
    for p in people:
        assert p.id is not None
        count, last = activity.get(p.id, (0, None))
        out.append(
            PersonOut(
                id=p.id,
                name=p.name,
                identities=[
                    {"id": i.id, "kind": i.kind, "value": i.value} for i in identities.get(p.id, [])
                ],
                weight=Weight.model_validate(
                    {
                        **weights.get(p.id, {}),
                        "manual": p.manual_weight,
                        "pinned": p.pinned,
                        "muted": p.muted,
                    }
                    | ({"effective": None} if p.muted else {})
                ),
                relationships=list(p.relationships or []),
                cadence_days=p.cadence_days,
                item_count=count,
                last_activity=last,
            )
        )
    return out


def saved(session: Session, person: Person) -> PersonOut:
    """Write an edited person and answer with it."""
    session.add(person)
    session.flush()
    return people_out(session, [person])[0]


def merge_suggestions(session: Session, *, user_id: int) -> SuggestionPage:
    """People who may be one person (weak evidence), with a confidence and the reasons."""
    found = suggest_merges(
        people_store.person_sketches(session, user_id=user_id),
        rejected=people_store.rejected_pairs(session, user_id=user_id),
    )
    ids = sorted({s.a for s in found} | {s.b for s in found})
    people = {
        p.id: p
        for p in people_out(
            session, [people_store.get_person(session, user_id=user_id, person_id=i) for i in ids]
        )
    }
    return SuggestionPage(
        items=[
            SuggestionOut(
                people=[people[s.a], people[s.b]], confidence=s.confidence, reasons=list(s.reasons)
            )
            for s in found
        ]
    )


def contact_by_direction(
    contacts: list[tuple[datetime, str, str]], *, now: datetime
) -> dict[str, dict[str, int]]:
    """{out|in: {kind: count}} over the last year; a logged contact of direction ``both``
    (a meeting neither side started) counts on both sides."""
    expanded = [
        (at, side, kind)
        for at, direction, kind in contacts
        for side in (("out", "in") if direction == "both" else (direction,))
    ]
    return contacts_by_kind(expanded, now=now)
