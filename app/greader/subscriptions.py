"""Changing subscriptions from an app. ``quickadd`` (and ``subscription/edit`` with
``ac=subscribe``) adds a source through :func:`app.jobs.subscriptions.add_source` (the
network guard included) and answers with the person it belongs to once Kith knows it,
else the source. ``ac=edit`` renames the person (``t``) and adds or removes a
relationship folder (``a``/``r``); ``ac=unsubscribe`` mutes the person (their sources
and history stay in Kith; unmute on the People page), or deletes a source no person
claims."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlmodel import Session, col, select

from app.api.deps import SessionDep, SettingsDep
from app.apps import mapping
from app.config import Settings
from app.errors import Conflict, NotFound
from app.greader import streams
from app.greader.protocol import AppUser, GReaderError, GReaderRoute, ParamsDep
from app.jobs.subscriptions import add_source
from app.models import Identity, Item, Person, Source
from app.storage import sources as source_store

router = APIRouter(prefix="/reader/api/0", route_class=GReaderRoute, include_in_schema=False)
_SINGULAR = {"family": "family", "partner": "partner", "met in person": "met"}


def relationship_of(label: str) -> str:
    """The relationship a folder label names: Friends -> friend (inverse of
    :func:`app.apps.mapping.folder_label`)."""
    word = " ".join(label.split()).lower()
    if word in _SINGULAR:
        return _SINGULAR[word]
    return word[:-1] if word.endswith("s") and len(word) > 1 else word


def _person_of_source(session: Session, *, user_id: int, source_id: int) -> Person | None:
    person_id = session.exec(
        select(Identity.person_id)
        .join(Item, col(Item.identity_id) == Identity.id)
        .where(Item.user_id == user_id, Item.source_id == source_id)
        .limit(1)
    ).first()
    return session.get(Person, person_id) if person_id is not None else None


def _subscribe(session: Session, settings: Settings, user_id: int, url: str) -> dict[str, object]:
    url = url.strip()
    if url.startswith(streams.FEED):
        url = url[len(streams.FEED) :]
    if not url or len(url) > 2048:
        raise GReaderError(400, "Bad Request: no feed URL")
    now = datetime.now(UTC)
    try:
        source = add_source(
            session, user_id=user_id, url=url, guard=settings.fetch_policy().guard, now=now
        )
    except Conflict:
        found = session.exec(
            select(Source).where(Source.user_id == user_id, Source.url == url)
        ).first()
        if found is None:
            raise
        source = found
    assert source.id is not None
    person = _person_of_source(session, user_id=user_id, source_id=source.id)
    if person is not None and person.id is not None:
        number, name = person.id, person.name
    else:
        number, name = mapping.SOURCE_FEED_BASE + source.id, source.title or source.url
    return {
        "numResults": 1,
        "query": url,
        "streamId": f"{streams.FEED}{number}",
        "streamName": name,
    }


@router.post("/subscription/quickadd")
def quickadd(
    session: SessionDep, settings: SettingsDep, who: AppUser, params: ParamsDep
) -> Response:
    """Follow a feed URL (``quickadd``); a URL the network guard refuses is a 400."""
    return JSONResponse(_subscribe(session, settings, who.user_id, params.get("quickadd") or ""))


def _target(session: Session, user_id: int, sid: str) -> tuple[Person | None, Source | None]:
    number = (
        sid[len(streams.FEED) :].removeprefix("person:") if sid.startswith(streams.FEED) else ""
    )
    if not number.isdigit() or len(number) > 20:
        raise GReaderError(404, "Not Found")
    person_id, source_id = mapping.split_feed_number(int(number))
    if person_id is not None:
        person = session.get(Person, person_id)
        if person is not None and person.user_id == user_id:
            return person, None
    if source_id is not None:
        try:
            return None, source_store.get_source(session, user_id=user_id, source_id=source_id)
        except NotFound:
            pass
    raise GReaderError(404, "Not Found")  # another user's feed answers as a missing one


@router.post("/subscription/edit")
def edit_subscription(
    session: SessionDep, settings: SettingsDep, who: AppUser, params: ParamsDep
) -> Response:
    """Subscribe (``ac=subscribe``), rename or refile (``ac=edit``, ``t``, ``a``, ``r``),
    or unsubscribe (``ac=unsubscribe``: mutes the person)."""
    action = (params.get("ac") or "edit").strip().lower()
    sids = params.getlist("s")
    if not sids:
        raise GReaderError(400, "Bad Request: s is missing")
    if action == "subscribe":
        for sid in sids:
            _subscribe(session, settings, who.user_id, sid)
        return PlainTextResponse("OK")
    if action not in ("edit", "unsubscribe"):
        raise GReaderError(400, "Bad Request: ac is subscribe, edit or unsubscribe")
    for sid in sids:
        person, source = _target(session, who.user_id, sid)
        if action == "unsubscribe":
            if person is not None:
                person.muted = True
                session.add(person)
            elif source is not None and source.id is not None:
                source_store.delete_source(session, user_id=who.user_id, source_id=source.id)
            continue
        title = (params.get("t") or "").strip()
        if person is not None:
            rels = set(person.relationships or [])
            rels |= {relationship_of(v.removeprefix(streams.LABEL)) for v in params.getlist("a")}
            rels -= {relationship_of(v.removeprefix(streams.LABEL)) for v in params.getlist("r")}
            person.relationships = sorted(r for r in rels if r)
            if title:
                person.name = title[:200]
            session.add(person)
        elif source is not None and title:
            source.title = title[:300]
            session.add(source)
    return PlainTextResponse("OK")
