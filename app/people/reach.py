"""Reach out, below both faces: who is drifting, with openers (their posts before their
comments) and the ways back from each; and answering an opener on Mastodon with the
user's own account, recorded at once as outbound contact."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from app.errors import AppError
from app.models import Interaction, Source
from app.people.cards import people_out
from app.people.ways import (
    Account,
    account_of,
    accounts_of,
    clear_emails,
    item_row,
    local_status_id,
    opening_of,
    posting_account,
    ways_back,
)
from app.schemas import DriftOut, OpenerOut, ReplyOut, TimelineItem
from app.storage import items as item_store
from app.storage import people as people_store
from app.storage.items import TimelineRow, read_timeline
from ingest import mastodon
from ingest.errors import HTTPStatusError, IngestError
from ingest.fetch import FetchPolicy, make_client
from ranking.relationships import drifting

OPENERS = 3
OPENER_POOL = 12  # newest items read per person to find posts among their comments


def pick_openers(rows: Sequence[TimelineRow], *, n: int = OPENERS) -> list[TimelineRow]:
    """Newest first, posts before comments: a comment only when too few posts are there."""
    return sorted(rows, key=lambda r: r.source.kind == "comments")[:n]


def reach_out(
    session: Session, *, user_id: int, now: datetime, k: float = 3.0, limit: int = 50
) -> list[DriftOut]:
    """Valued people the user is losing touch with, most overdue first, with openers and
    the ways back from each."""
    drifts = drifting(
        people_store.contact_histories(session, user_id=user_id, now=now), now=now, k=k
    )[:limit]
    cards = {
        p.id: p
        for p in people_out(
            session,
            [
                people_store.get_person(session, user_id=user_id, person_id=d.person_id)
                for d in drifts
            ],
        )
    }
    accounts = accounts_of(session, user_id=user_id)
    out = []
    for d in drifts:
        card = cards[d.person_id]
        rows, _ = read_timeline(
            session, user_id=user_id, limit=OPENER_POOL, person_id=d.person_id, order="newest"
        )
        emails = clear_emails(card.identities)
        openers = [
            OpenerOut.model_validate(
                {
                    **TimelineItem.from_row(r, now=now).model_dump(),
                    "ways": ways_back(opening_of(session, r), accounts=accounts, emails=emails),
                }
            )
            for r in pick_openers(rows)
        ]
        overdue = getattr(d, "overdue", None)  # ranking.relationships.Drift, once it has it
        out.append(
            DriftOut(
                person=card,
                days_since_contact=d.days_since_contact,
                usual_gap_days=d.usual_gap_days,
                why=d.why,
                openers=openers,
                overdue=float(overdue) if overdue is not None else None,
            )
        )
    return out


# --- replying on Mastodon ---------------------------------------------------------------


class ReplyError(AppError):
    """A reply Kith or the instance refused; ``code`` says which way."""

    def __init__(self, code: str, message: str, *, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


async def _refresh_scopes(session: Session, api: mastodon.MastodonAPI, source: Source) -> Account:
    """Ask the instance again what the token may do, and cache it on the source (committed
    at once: it holds even when the reply is then refused)."""
    try:
        scopes = await mastodon.token_scopes(api)
    except HTTPStatusError as exc:
        if exc.status != 401:
            raise
        scopes = mastodon.TokenScopes(scopes=None, reason="the instance refused the token")
    source.state = {**(source.state or {}), **scopes.state()}
    session.add(source)
    session.commit()
    return account_of(source)


def _refused(exc: IngestError, host: str) -> ReplyError:
    """The instance's refusal (or silence) as a stable code and its own words."""
    detail = getattr(exc, "detail", None) or exc.message
    status = getattr(exc, "status", None)
    if status == 422:
        return ReplyError("reply_refused", f"{host} refused the reply: {detail}", status=422)
    if status in (401, 403):
        return ReplyError(
            "mastodon_auth_failed",
            f"{host} refused your token ({detail}); add the account again with a new token",
            status=403,
        )
    if status == 429:
        return ReplyError("rate_limited", f"{host} asks to wait: {detail}", status=429)
    if status == 404:
        return ReplyError(
            "status_not_found", f"{host} no longer has the status: {detail}", status=404
        )
    return ReplyError(
        "instance_unavailable", f"{host} could not take the reply: {detail}", status=502
    )


async def reply_to_item(
    session: Session,
    *,
    user_id: int,
    item_id: int,
    text: str,
    visibility: str | None,
    policy: FetchPolicy,
    now: datetime,
) -> ReplyOut:
    """Post ``text`` as a reply to the item (a Mastodon status) with the user's own
    account, and record it as outbound contact with its author."""
    row = item_row(session, user_id=user_id, item_id=item_id)
    item = row.item
    if row.source.kind != "mastodon" or not item.url:
        raise ReplyError(
            "not_a_status",
            "only a Mastodon status can be answered on Mastodon; use its other ways back",
            status=422,
        )
    if not text.strip():
        raise ReplyError("reply_refused", "the reply is empty", status=422)
    account = posting_account(accounts_of(session, user_id=user_id), status_url=item.url)
    if account is None:
        raise ReplyError(
            "no_mastodon_account",
            "add your own Mastodon account (your instance and a token) to reply from Kith",
            status=409,
        )
    source = session.get(Source, account.source_id)
    assert source is not None and source.access_token
    host = mastodon.origin(account.instance)[1]
    async with make_client(policy) as client:
        api = mastodon.MastodonAPI(client, policy, account.instance, source.access_token)
        try:
            if account.scopes is None:  # never checked (or the instance did not say)
                account = await _refresh_scopes(session, api, source)
            if not account.can_post:
                raise ReplyError(
                    "scope_missing",
                    "your Mastodon token may not post (it lacks write:statuses): "
                    + (account.reason or "make a token with that scope"),
                    status=403,
                )
            status_id = local_status_id(item.url, account.instance)
            if status_id is None:
                found = await mastodon.resolve_status(api, item.url)
                if found is None:
                    raise ReplyError(
                        "status_not_found",
                        f"{host} cannot find the status {item.url} to reply to",
                        status=404,
                    )
                status_id = str(found["id"])
            key = hashlib.sha256(f"{user_id}:{item_id}:{text}".encode()).hexdigest()
            posted = await mastodon.post_status(
                api,
                text=text,
                in_reply_to_id=status_id,
                visibility=visibility,
                idempotency_key=key,
            )
        except IngestError as exc:
            if getattr(exc, "status", None) in (401, 403):
                # the token changed under us: check again, so the button goes if it must
                with contextlib.suppress(IngestError):
                    account = await _refresh_scopes(session, api, source)
                if not account.can_post:
                    raise ReplyError(
                        "scope_missing",
                        f"{host} refused the post: your token may not post (write:statuses)",
                        status=403,
                    ) from exc
            raise _refused(exc, host) from exc
    contact_id = _record_reply(
        session, user_id=user_id, row=row, account=account, posted=posted, now=now
    )
    return ReplyOut(url=posted.url, uri=posted.uri, contact_id=contact_id)


def _record_reply(
    session: Session,
    *,
    user_id: int,
    row: TimelineRow,
    account: Account,
    posted: mastodon.PostedStatus,
    now: datetime,
) -> int:
    """Outbound contact, now: the person leaves the Reach out list. Its id is the one the
    next sync gives the same reply (``own_status_interactions``), so it is not counted
    twice; the feedback tells the ranking the item was answered."""
    item = row.item
    assert item.id is not None
    person = row.person
    if person is None or person.id is None:
        return 0
    host = mastodon.origin(account.instance)[1]
    external = (
        f"mastodon:{host}:status:{posted.id}:reply:{posted.in_reply_to_account_id}"
        if posted.in_reply_to_account_id
        else posted.uri
    )
    contact = Interaction(
        user_id=user_id,
        person_id=person.id,
        direction="out",
        kind="reply",
        at=now,
        item_id=item.id,
        external_id=external[:500],
    )
    session.add(contact)
    item_store.add_feedback(
        session, user_id=user_id, item_id=item.id, action="reply", rank=None, now=now
    )
    session.flush()
    assert contact.id is not None
    return contact.id
