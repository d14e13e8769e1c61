"""What a Mastodon sync brings besides items and interactions, stored in the same
transaction (the refresh job calls :func:`store_extras`):

- deletions found by the re-read window: the items become tombstones (``deleted``), on
  every Mastodon source of the user that has the status;
- relationship flags (following, followed_by, endorsed, note) on the ``acct``
  identities, which the ranking prior reads (``app.storage.ranking.person_infos``);
  a person whose flags changed has their items rescored on the next ranking run;
- verified profile links (``verified_at``: the instance checked that the page links
  back with ``rel="me"``): rel=me both ways, so the account's person and the person who
  owns that URL are merged as ``app.jobs.people_links`` merges them; a URL nobody owns
  yet becomes an identity of the account's person, so the blog's feed joins it later.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import AppError
from app.models import Identity, Item, Source
from app.storage import items as item_store
from app.storage import people as people_store
from ingest.mastodon import MastodonBatch

log = logging.getLogger(__name__)
FLAGS = ("following", "followed_by", "endorsed", "note")


def store_extras(session: Session, *, source: Source, batch: MastodonBatch, now: datetime) -> None:
    assert source.id is not None
    if batch.gone:
        remove_deleted(session, user_id=source.user_id, keys=batch.gone, now=now)
    if batch.relationships or batch.endorsed is not None:
        store_relationships(session, user_id=source.user_id, batch=batch)
    for acct, urls in batch.verified.items():
        for url in urls:
            merge_verified(session, user_id=source.user_id, acct=acct, url=url, now=now)


def remove_deleted(session: Session, *, user_id: int, keys: list[str], now: datetime) -> int:
    """Tombstone the user's Mastodon items of these statuses (``deleted``)."""
    ids = session.exec(
        select(Item.id)
        .join(Source, col(Source.id) == Item.source_id)
        .where(
            Item.user_id == user_id,
            Source.kind == "mastodon",
            col(Item.dedupe_key).in_(sorted(set(keys))),
        )
    ).all()
    for item_id in ids:
        assert item_id is not None
        item_store.delete_item(session, user_id=user_id, item_id=item_id, now=now)
    return len(ids)


def store_relationships(session: Session, *, user_id: int, batch: MastodonBatch) -> None:
    wanted = set(batch.relationships) | set(batch.endorsed or ())
    query = select(Identity).where(Identity.user_id == user_id, Identity.kind == "acct")
    rows = list(session.exec(query.where(col(Identity.value).in_(sorted(wanted)))).all())
    if batch.endorsed is not None:  # a full list: those featured before and not now
        known = {r.id for r in rows}
        for r in session.exec(query.where(col(Identity.relationship).is_not(None))).all():
            if r.id not in known and (r.relationship or {}).get("endorsed"):
                rows.append(r)
    changed: set[int] = set()
    for identity in rows:
        old = dict(identity.relationship or {})
        new = dict(old)
        if identity.value in batch.relationships:
            new.update(batch.relationships[identity.value].as_dict())
        if batch.endorsed is not None:
            new["endorsed"] = identity.value in batch.endorsed
        new = {k: bool(new.get(k)) for k in FLAGS}
        if new != {k: bool(old.get(k)) for k in FLAGS} or not old:
            identity.relationship = new
            session.add(identity)
            changed.add(identity.person_id)
    session.flush()
    if changed:  # rescored by the next ranking run (unscored items are its work)
        session.execute(
            update(Item)
            .where(
                col(Item.user_id) == user_id,
                col(Item.identity_id).in_(
                    select(Identity.id).where(col(Identity.person_id).in_(sorted(changed)))
                ),
            )
            .values(scored_at=None)
            .execution_options(synchronize_session=False)
        )


def merge_verified(session: Session, *, user_id: int, acct: str, url: str, now: datetime) -> None:
    """rel=me both ways (the instance verified it): one person for the account and the
    page. The page's person is kept, as ``people_links.read_links`` keeps it."""
    account = session.exec(
        select(Identity).where(
            Identity.user_id == user_id, Identity.kind == "acct", Identity.value == acct
        )
    ).first()
    if account is None:
        return
    page = session.exec(
        select(Identity).where(
            Identity.user_id == user_id, Identity.kind == "url", Identity.value == url
        )
    ).first()
    if page is None:
        try:
            with session.begin_nested():
                session.add(
                    Identity(
                        user_id=user_id,
                        person_id=account.person_id,
                        kind="url",
                        value=url,
                        display_name=account.display_name,
                        created_at=now,
                    )
                )
        except IntegrityError:
            pass  # a concurrent writer added it; merged on the next sync
        return
    if page.person_id == account.person_id:
        return
    try:
        people_store.merge_people(
            session, user_id=user_id, keep_id=page.person_id, other_id=account.person_id
        )
    except AppError as exc:  # e.g. a person gone meanwhile: the next sync tries again
        log.info("verified link %s of %s not merged: %s", url, acct, exc)
