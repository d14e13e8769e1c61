"""The Reach out page (valued people you are drifting away from, with their recent posts
as openers and the ways back) and the digest in the reader. Both read through the same
functions as the API (:func:`app.people.reach.reach_out`, :func:`app.jobs.digest.build_digest`);
the page's script (static/reach.js) replies, records "I reached out", snoozes and dismisses
through the API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import SessionDep
from app.jobs.digest import build_digest
from app.people.dates import upcoming_dates
from app.people.reach import reach_out
from app.schemas import DriftOut, OpenerOut
from app.storage import digest_mail as digest_mail_store
from app.web.common import WebUser, page
from ingest.sanitize import plain_text

router = APIRouter(include_in_schema=False)
SNIPPET_CHARS = 160
# the digest's ranges: (days, label); the first is the default
RANGES = ((1, "Last day"), (7, "Last week"), (30, "Last month"))


def every(days: float) -> str:
    """ "every day", "every 12 days"."""
    n = round(days)
    return "every day" if n <= 1 else f"every {n} days"


def days_text(days: float) -> str:
    n = round(days)
    return "1 day" if n == 1 else f"{n} days"


@dataclass(frozen=True, slots=True)
class Opener:
    """A recent post of theirs to reply to."""

    item: OpenerOut
    snippet: str


@dataclass(frozen=True, slots=True)
class DriftView:
    drift: DriftOut
    headline: str  # "Usually every 9 days, now 46 days."
    openers: list[Opener]


def drift_views(drifts: list[DriftOut]) -> list[DriftView]:
    out = []
    for d in drifts:
        cadence = d.person.cadence_days
        if cadence:
            basis = f"You want to be in touch {every(cadence)}"
        else:
            basis = f"Usually {every(d.usual_gap_days)}"
        openers = []
        for item in d.openers:
            text = plain_text(item.content, limit=2000)
            snippet = text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rsplit(" ", 1)[0]
            openers.append(Opener(item=item, snippet=snippet + ("…" if snippet != text else "")))
        out.append(
            DriftView(
                drift=d,
                headline=f"{basis}, now {days_text(d.days_since_contact)}.",
                openers=openers,
            )
        )
    return out


@router.get("/reach-out", response_class=HTMLResponse)
def reach_out_page(request: Request, session: SessionDep, user: WebUser) -> Response:
    """Valued people you are losing touch with, most overdue first."""
    assert user.id is not None
    now = datetime.now(UTC)
    drifts = reach_out(session, user_id=user.id, now=now, k=3.0)
    upcoming = upcoming_dates(session, user_id=user.id, today=now.date())
    return page(
        request, "reach_out.html", user, drifts=drift_views(drifts), upcoming=upcoming, now=now
    )


def parse_since(raw: str | None) -> datetime | None:
    """An ISO 8601 time in UTC (taken as UTC when it names no zone), or None when it is
    not one."""
    if not raw:
        return None
    text = raw.strip()
    # "...T08:00 02:00": a "+" of an offset left unencoded in the URL became a space
    candidates = [text, re.sub(r" (\d\d:?\d\d)$", r"+\1", text)]
    for candidate in candidates:
        try:
            when = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return None


@router.get("/digest", response_class=HTMLResponse)
def digest_page(
    request: Request,
    session: SessionDep,
    user: WebUser,
    since: Annotated[str | None, Query(max_length=64)] = None,
    days: Annotated[int | None, Query(ge=1, le=365)] = None,
) -> Response:
    """The digest since ``since`` (ISO 8601), or over the last ``days``; a day by default."""
    assert user.id is not None
    now = datetime.now(UTC)
    start = parse_since(since)
    problem = None
    if since and start is None:
        problem = f"“{since}” is not a date and time (like 2026-05-01T08:00); showing the last day."
    if start is None:
        days = days or RANGES[0][0]
        start = now - timedelta(days=days)
    else:
        days = None
    digest = build_digest(session, user_id=user.id, since=start, now=now)
    return page(
        request,
        "digest.html",
        user,
        digest=digest,
        names=digest.names,
        ranges=RANGES,
        days=days,
        problem=problem,
        now=now,
        mail=digest_mail_store.get_subscription(session, user_id=user.id),  # the mail form
    )
