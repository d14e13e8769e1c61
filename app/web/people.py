"""Web reader pages: the people behind your sources, and one person.

The pages read through the helpers the API uses too (:func:`app.people.cards.people_out`, the
merge suggestions, the timeline read); their script (``/static/people.js``) changes
weights and accepts or rejects suggestions by calling the API routes themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from app.api.deps import SessionDep
from app.errors import NotFound
from app.models import Person, User
from app.people.cards import contact_by_direction, merge_suggestions, people_out
from app.schemas import PersonOut
from app.storage import people as people_store
from app.storage.items import TimelineRow, read_timeline
from app.web.common import WebUser, page
from app.web.keep_in_touch import MONTHS, UNITS, cadence, dates_view, log_rows

router = APIRouter(include_in_schema=False)

RECENT_ITEMS = 20
WEEKS = 52
MAX_ID = 2**31 - 1  # person ids are 32-bit integers
BATCH = 200

# sparkline geometry (SVG user units)
STEP = 4
HEIGHT = 28
PAD = 2


@dataclass(frozen=True, slots=True)
class IdentityView:
    """An identity as the page shows it: what kind, the text, a link when it is one."""

    label: str
    text: str
    href: str | None = None


def _web_url(value: str) -> str | None:
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def identity_view(kind: str, value: str) -> IdentityView:
    if kind == "url":
        return IdentityView("Web", value, _web_url(value))
    if kind == "feed_author":
        site, _, name = value.partition("|")
        return IdentityView("Feed author", f"{name} on {site}" if name else value)
    if kind == "acct":
        user, _, host = value.lstrip("@").partition("@")
        href = _web_url(f"https://{host}/@{user}") if user and host and "/" not in host else None
        return IdentityView("Mastodon", "@" + value.lstrip("@"), href)
    if kind == "email_sha256":
        return IdentityView("Email", "address known (stored hashed)")
    if kind == "name":
        return IdentityView("Name", value)
    if kind == "vcard_uid":  # the card's UID (or name), for matching a re-import
        return IdentityView("Address book", "imported from a vCard")
    return IdentityView(kind.replace("_", " ").capitalize(), value)


def identities_of(person: PersonOut) -> list[IdentityView]:
    return [identity_view(str(i["kind"]), str(i["value"])) for i in person.identities]


def sort_key(person: PersonOut) -> tuple[bool, bool, float, str, int]:
    """Pinned first (their items lead the timeline), then by effective weight, highest
    first; muted people last."""
    w = person.weight
    effective = w.effective if w.effective is not None else (w.learned or 0.0) + (w.manual or 0.0)
    return (w.muted, not w.pinned, -effective, person.name.casefold(), person.id)


def all_people(session: Session, user_id: int) -> list[PersonOut]:
    """Every person of the user (not the user themself), as the API shows them."""
    people: list[Person] = []
    cursor: str | None = None
    while True:
        rows, cursor = people_store.list_people(
            session, user_id=user_id, limit=BATCH, cursor=cursor
        )
        people.extend(rows)
        if cursor is None:
            break
    return people_out(session, people) if people else []


@dataclass(frozen=True, slots=True)
class Sparkline:
    """Contact per week over the last 52 weeks, oldest first, drawn as a polyline."""

    counts: list[int]
    total: int
    last: datetime | None
    now: datetime

    @property
    def width(self) -> int:
        return STEP * (len(self.counts) - 1) + 2 * PAD

    @property
    def height(self) -> int:
        return HEIGHT

    @property
    def points(self) -> str:
        top = max(self.counts, default=0) or 1
        span = HEIGHT - 2 * PAD
        return " ".join(
            f"{PAD + STEP * i},{HEIGHT - PAD - round(span * c / top, 1):g}"
            for i, c in enumerate(self.counts)
        )

    @property
    def label(self) -> str:
        contacts = "1 contact" if self.total == 1 else f"{self.total} contacts"
        if self.last is None:
            return f"{contacts} in the last year, none recorded before"
        days = max((self.now - self.last).days, 0)
        when = {0: "today", 1: "yesterday"}.get(days, f"{days} days ago")
        return f"{contacts} in the last year, the last one {when}"


def sparkline(contacts: list[tuple[datetime, str, str]], *, now: datetime) -> Sparkline:
    counts = [0] * WEEKS
    for at, _direction, _kind in contacts:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        weeks_ago = int((now - at) // timedelta(weeks=1))
        if 0 <= weeks_ago < WEEKS:
            counts[WEEKS - 1 - weeks_ago] += 1
    last = max((at if at.tzinfo else at.replace(tzinfo=UTC) for at, _, _ in contacts), default=None)
    return Sparkline(counts=counts, total=sum(counts), last=last, now=now)


def plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def kinds_text(counts: dict[str, int]) -> str:
    """{"reply": 3, "mention": 1} -> "3 replies, 1 mention" (the most first)."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(plural(n, kind) for kind, n in ranked) or "nothing"


def not_found(request: Request, user: User) -> Response:
    """The same answer for a missing person and another user's: existence not revealed."""
    return page(request, "not_found.html", user, status_code=404, what="person")


@router.get("/people", response_class=HTMLResponse)
def people_page(request: Request, session: SessionDep, user: WebUser) -> Response:
    """Everyone behind your sources, best first, with their weight controls; merge
    suggestions on top."""
    assert user.id is not None
    people = sorted(all_people(session, user.id), key=sort_key)
    suggestions = merge_suggestions(session, user_id=user.id).items
    return page(
        request,
        "people.html",
        user,
        people=[(p, identities_of(p)) for p in people],
        suggestions=[(s, [identities_of(p) for p in s.people]) for s in suggestions],
    )


@router.get("/people/{person_id}", response_class=HTMLResponse)
def person_page(
    request: Request,
    session: SessionDep,
    user: WebUser,
    person_id: Annotated[str, Path(max_length=20)],
) -> Response:
    """One person: how you know them, their weight, their recent items and your contact."""
    assert user.id is not None
    if not person_id.isdigit() or not 0 < int(person_id) <= MAX_ID:
        return not_found(request, user)
    try:
        person = people_store.get_person(session, user_id=user.id, person_id=int(person_id))
    except NotFound:
        return not_found(request, user)
    assert person.id is not None
    now = datetime.now(UTC)
    out = people_out(session, [person])[0]
    contacts = people_store.contacts_of(session, user_id=user.id, person_id=person.id)
    rows: list[TimelineRow]
    rows, _ = read_timeline(
        session, user_id=user.id, person_id=person.id, limit=RECENT_ITEMS, order="newest"
    )
    return page(
        request,
        "person.html",
        user,
        person=out,
        identities=identities_of(out),
        rows=rows,
        spark=sparkline(contacts, now=now),
        by_kind={d: kinds_text(c) for d, c in contact_by_direction(contacts, now=now).items()},
        is_self=person.is_self,
        log=log_rows(session, user_id=user.id, person_id=person.id),
        cadence=cadence(person.cadence_days),
        units=UNITS,
        dates=dates_view(session, user_id=user.id, person_id=person.id, today=now.date()),
        months=MONTHS,
        today=now.date().isoformat(),
    )
