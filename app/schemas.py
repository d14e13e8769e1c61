"""Response and request shapes of the API (DESIGN.md section 3). Fields may be added,
never renamed."""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as CalendarDate
from typing import Literal

from pydantic import BaseModel, Field

from app.jobs.scoring import explain
from app.models import Source
from app.storage.items import TimelineRow


class SourceRef(BaseModel):
    id: int
    kind: str
    title: str | None


class PersonRef(BaseModel):
    id: int
    name: str


class Why(BaseModel):
    reason: str
    value: float


class TimelineItem(BaseModel):
    id: int
    title: str
    url: str | None
    content: str = Field(description="Sanitized HTML")
    published: datetime
    source: SourceRef
    person: PersonRef | None
    in_reply_to: str | None = None
    tags: list[str] = Field(default_factory=list)
    enclosures: list[dict[str, object]] = Field(default_factory=list)
    comments_feed: str | None = None
    comment_count: int | None = None
    score: float | None = Field(
        None, description="Ranking score in log-odds: the sum of the values in why"
    )
    why: list[Why] = Field(
        default_factory=list, description="What makes up the score, largest first"
    )
    read: bool = Field(False, description="You read it (opened, marked, scrolled past)")
    saved: bool = Field(False, description="You saved it for later")

    @classmethod
    def from_row(cls, row: TimelineRow, *, now: datetime | None = None) -> TimelineItem:
        item, source, person = row.item, row.source, row.person
        assert item.id is not None and source.id is not None
        score, why = explain(
            item, pinned=bool(person and person.pinned), now=now or datetime.now(UTC)
        )
        return cls(
            id=item.id,
            title=item.title,
            url=item.url,
            content=item.content,
            published=item.published,
            source=SourceRef(id=source.id, kind=source.kind, title=source.title),
            person=PersonRef(id=person.id, name=person.name)
            if person is not None and person.id is not None
            else None,
            in_reply_to=item.in_reply_to,
            tags=item.tags or [],
            enclosures=item.enclosures or [],
            comments_feed=item.comments_feed,
            comment_count=item.comment_count,
            score=score,
            why=[Why(reason=text, value=value) for text, value in why],
            read=item.read_at is not None,
            saved=item.saved_at is not None,
        )


class TimelinePage(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None


class SourceCreate(BaseModel):
    url: str = Field(min_length=1, max_length=2048, examples=["https://example.org/feed.xml"])
    kind: Literal["feed", "comments", "mastodon", "bluesky"] | None = Field(
        None, description="feed when omitted (or what discovery finds)"
    )
    discover: bool = Field(
        False, description="Fetch the URL first; a site URL subscribes to the feed it names"
    )
    token: str | None = Field(
        None,
        max_length=500,
        description="Mastodon access token (the URL is then your instance), or a Bluesky app "
        "password (the URL is then your own profile or handle); never returned",
    )
    title: str | None = Field(None, max_length=300)
    folder: str | None = Field(None, max_length=300)


class SourceUpdate(BaseModel):
    title: str | None = Field(None, max_length=300)
    folder: str | None = Field(None, max_length=300)
    paused: bool | None = None


class SourceOut(BaseModel):
    id: int
    url: str
    kind: str
    title: str | None
    site_url: str | None
    folder: str | None
    next_check_at: datetime
    last_checked_at: datetime | None
    last_success_at: datetime | None
    error_code: str | None
    error_message: str | None
    error_count: int
    paused: bool
    # Mastodon: a stream of the account that failed on its own while the others were
    # stored, e.g. {"notifications": {"code": "scope_missing", "message": "..."}}
    stream_errors: dict[str, dict[str, str]] = {}

    @classmethod
    def from_row(cls, s: Source) -> SourceOut:
        assert s.id is not None
        errors = (s.state or {}).get("stream_errors")
        return cls(
            **s.model_dump(include=set(cls.model_fields) - {"stream_errors"}),
            stream_errors=errors if isinstance(errors, dict) else {},
        )


class SourcePage(BaseModel):
    items: list[SourceOut]
    next_cursor: str | None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: str


class DiscoverRequest(BaseModel):
    url: str = Field(min_length=1, max_length=2048, examples=["https://blog.example/"])


class DiscoveredOut(BaseModel):
    url: str
    kind: str
    title: str | None


class DiscoverResult(BaseModel):
    items: list[DiscoveredOut]


class IdentityIn(BaseModel):
    kind: Literal["url", "email", "name", "mastodon"]
    value: str = Field(min_length=1, max_length=1000)


class IdentityOut(BaseModel):
    kind: str
    value: str


class SelfIdentities(BaseModel):
    identities: list[IdentityIn] = Field(max_length=50)


class SelfIdentitiesOut(BaseModel):
    identities: list[IdentityOut]


class Weight(BaseModel):
    """A person's weight in log-odds, as the ranking adds it to their items' scores."""

    learned: float | None = Field(
        None,
        description="Learned affinity: the relationship prior and what your feedback says",
    )
    manual: float | None = Field(
        None, ge=-2, le=2, description="Yours (-2..2); the learner never overrides it"
    )
    recent: float = Field(0.0, description="Recent 'more' (+) and 'less' (-), fading with time")
    pinned: bool = False
    muted: bool = False
    effective: float | None = Field(
        None, description="learned + manual + recent; null when muted (never shown)"
    )
    exposure: float = Field(
        0.0, description="How much of them the model has seen (expected examinations)"
    )


class PersonOut(BaseModel):
    id: int
    name: str
    identities: list[dict[str, object]]
    weight: Weight
    relationships: list[str]
    cadence_days: float | None
    item_count: int = 0
    last_activity: datetime | None = None
    contact: dict[str, object] | None = Field(
        None,
        description="On a single read: last contact either way and the last year's contact "
        "by direction (out = you started it, in = they did) and kind",
    )


class PeoplePage(BaseModel):
    items: list[PersonOut]
    next_cursor: str | None


RELATIONSHIPS = Literal[
    "family",
    "partner",
    "friend",
    "met",
    "colleague",
    "neighbour",
    "acquaintance",
    "sibling",
    "parent",
    "child",
    "spouse",
    "sweetheart",
    "crush",
    "muse",
    "co-resident",
]


class PersonUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    relationships: list[RELATIONSHIPS] | None = Field(None, max_length=20)
    cadence_days: float | None = Field(None, gt=0, le=3650)


class WeightUpdate(BaseModel):
    """The whole manual setting (PUT replaces it; DELETE resets it to autopilot)."""

    model_config = {
        "json_schema_extra": {"examples": [{"manual": 1.5}, {"pinned": True}, {"muted": True}]}
    }

    manual: float | None = Field(
        None, ge=-2, le=2, description="Listen more (up to 2) or less (down to -2); null: auto"
    )
    pinned: bool = Field(False, description="Their items always lead the timeline")
    muted: bool = Field(False, description="Their items never appear")


class MergeRequest(BaseModel):
    other_id: int


class SplitRequest(BaseModel):
    identity_id: int


class SnoozeRequest(BaseModel):
    until: datetime


class WayOut(BaseModel):
    """One way back to a person from an opener (app.people.ways)."""

    kind: Literal["mastodon_reply", "mailto", "comment"]
    label: str
    url: str | None = Field(
        None, description="mailto:, the comment form, or the status (mastodon_reply)"
    )
    available: bool = Field(True, description="false: shown with the reason, not offered")
    reason: str | None = None
    prefill: str | None = Field(None, description="mastodon_reply: the mention to start with")


class WaysOut(BaseModel):
    item_id: int
    ways: list[WayOut]


class OpenerOut(TimelineItem):
    """A recent item of theirs to answer, with the ways back."""

    ways: list[WayOut] = Field(default_factory=list)


class ReplyIn(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"text": "@kim@example.social Lovely!"}]}}

    text: str = Field(min_length=1, max_length=5000)
    visibility: Literal["public", "unlisted", "private", "direct"] | None = Field(
        None, description="The instance's default for you when left out"
    )


class ReplyOut(BaseModel):
    url: str = Field(description="The posted reply on your instance")
    uri: str
    contact_id: int = Field(description="The outbound contact recorded for it")


class DriftOut(BaseModel):
    person: PersonOut
    days_since_contact: float
    usual_gap_days: float
    why: str
    openers: list[OpenerOut]
    overdue: float | None = Field(
        None, description="0..1: how far past the usual gap (null until ranking says)"
    )


class DriftPage(BaseModel):
    items: list[DriftOut]


class SuggestionOut(BaseModel):
    people: list[PersonOut]
    confidence: float
    reasons: list[str]


class SuggestionPage(BaseModel):
    items: list[SuggestionOut]


class PairRequest(BaseModel):
    a: int
    b: int


# --- the contact log and dates (app.api.contacts) -------------------------------------

CONTACT_KIND = Literal["call", "meeting", "message", "email", "letter", "other"]
DIRECTION = Literal["out", "in", "both"]


class ContactCreate(BaseModel):
    """Contact Kith cannot see: a call, a coffee, a letter."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"kind": "call", "direction": "out", "note": "Caught up about the move"},
                {"kind": "meeting", "direction": "both", "at": "2026-11-20T18:00:00Z"},
            ]
        }
    }

    kind: CONTACT_KIND
    direction: DIRECTION = Field(
        "out", description="out: you reached them; in: they reached you; both"
    )
    at: datetime | None = Field(None, description="When (default now); never in the future")
    note: str | None = Field(None, max_length=500, description="A short plain-text note")


class ContactUpdate(BaseModel):
    kind: CONTACT_KIND | None = None
    direction: DIRECTION | None = None
    at: datetime | None = None
    note: str | None = Field(None, max_length=500)


class ContactOut(BaseModel):
    id: int
    person_id: int
    kind: str
    direction: str
    at: datetime
    note: str | None
    logged: bool = Field(description="true: you logged it; false: Kith saw it (a reply ...)")
    item_id: int | None


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None


DATE_KIND = Literal["birthday", "anniversary", "custom"]


class DateCreate(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"kind": "birthday", "month": 3, "day": 14},
                {"kind": "custom", "label": "Moved to Lisbon", "month": 9, "day": 1, "year": 2021},
            ]
        }
    }

    kind: DATE_KIND
    label: str = Field("", max_length=100, description="What it is (custom dates)")
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    year: int | None = Field(None, ge=1, le=9999, description="Optional; recurs yearly")
    remind_days: int = Field(7, ge=0, le=60, description="Remind this many days before")


class DateUpdate(BaseModel):
    label: str | None = Field(None, max_length=100)
    month: int | None = Field(None, ge=1, le=12)
    day: int | None = Field(None, ge=1, le=31)
    year: int | None = Field(None, ge=1, le=9999)
    remind_days: int | None = Field(None, ge=0, le=60)


class DateOut(BaseModel):
    id: int
    person_id: int
    kind: str
    label: str
    month: int
    day: int
    year: int | None
    remind_days: int
    next: CalendarDate | None = Field(None, description="When it next comes round")
    days_until: int | None = None


class UpcomingOut(BaseModel):
    person: PersonRef
    date: DateOut
    on: CalendarDate
    days_until: int
    years: int | None
    text: str


class UpcomingPage(BaseModel):
    items: list[UpcomingOut]


class SearchResult(TimelineItem):
    """A timeline item found by a search, with where it matched."""

    relevance: float = Field(description="Higher is a better match (for ordering only)")
    snippet: str = Field(
        description="Plain text around the matches, HTML-escaped, each match in <mark>"
    )
    snippet_text: str = Field(description="The same snippet as plain text")
    marks: list[tuple[int, int]] = Field(
        default_factory=list, description="[start, end) character offsets of the matches"
    )


class SearchPage(BaseModel):
    items: list[SearchResult]
    next_cursor: str | None


class AccountDeletion(BaseModel):
    """DELETE /me: your password again; an account without one types its user name."""

    password: str | None = Field(None, max_length=1000)
    confirm: str | None = Field(None, max_length=100, description="Your user name (no password)")
