"""SQLModel tables. Everything a user owns carries ``user_id``; all times are aware UTC.

Unique constraints make ingest idempotent: an item is keyed by ``(source_id,
dedupe_key)``, an identity by ``(user_id, kind, value)``, a source by ``(user_id, url)``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from app.secrets import EncryptedString


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _fk(target: str, *, nullable: bool = False, ondelete: str = "CASCADE") -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        sa.Integer, sa.ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True
    )


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True}, nullable=False)
    password_hash: str | None = Field(default=None, max_length=200)
    is_admin: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # an admin disabled the account: its tokens and password stop working, its data stays
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    name: str = Field(default="default", max_length=100)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Source(SQLModel, table=True):
    __tablename__ = "source"
    __table_args__ = (sa.UniqueConstraint("user_id", "url", name="uq_source_user_url"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    url: str = Field(max_length=2048)
    kind: str = Field(default="feed", max_length=20)  # feed | comments | mastodon
    title: str | None = Field(default=None, max_length=300)
    site_url: str | None = Field(default=None, max_length=2048)
    folder: str | None = Field(default=None, max_length=300)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    next_check_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # the posting-frequency interval of the last successful parse, reused after a 304
    check_interval_seconds: int | None = Field(default=None)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error_code: str | None = Field(default=None, max_length=50)
    error_message: str | None = Field(default=None, max_length=1000)
    error_count: int = Field(default=0)
    paused: bool = Field(default=False)
    # a comment feed Kith subscribed to by itself, for the thread of this item
    # Mastodon: the account's access token (never shown by the API) and sync cursors
    # (a Bluesky app password too) encrypted at rest: app.secrets.EncryptedString
    access_token: str | None = Field(default=None, sa_type=EncryptedString, repr=False)
    state: dict[str, object] = Field(
        default_factory=dict,
        sa_type=sa.JSON,
        nullable=False,
        sa_column_kwargs={"server_default": "{}"},
    )
    # (no foreign key: item already points at source, and a cycle would complicate
    # migrations; a thread source whose post is gone is paused by the refresh job)
    parent_item_id: int | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # scale-out: who holds this source's refresh and until when (app.storage.leases); a
    # lease that runs out (its worker died, Redis lost the task) makes it due again
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class Person(SQLModel, table=True):
    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    name: str = Field(max_length=200)
    # the user themself: their own blog, accounts, names (set through /api/v1/me)
    is_self: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # listening to them more or less (-2..2), set by the user; the learner never overrides it
    manual_weight: float | None = Field(default=None)
    pinned: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    muted: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # how you know them: family, partner, friend, met, colleague, neighbour, acquaintance ...
    relationships: list[str] = Field(
        default_factory=list,
        sa_type=sa.JSON,
        nullable=False,
        sa_column_kwargs={"server_default": "[]"},
    )
    # reaching out: an explicit "every N days", a snooze, a dismissal of the current silence
    cadence_days: float | None = Field(default=None)
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    dismissed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class MergeRejection(SQLModel, table=True):
    """A merge suggestion the user turned down: never suggested again."""

    __tablename__ = "merge_rejection"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "person_a", "person_b", name="uq_merge_rejection"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    person_a: int = Field(sa_column=_fk("person.id"))
    person_b: int = Field(sa_column=_fk("person.id"))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Identity(SQLModel, table=True):
    __tablename__ = "identity"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "kind", "value", name="uq_identity_user_kind_value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    person_id: int = Field(sa_column=_fk("person.id"))
    kind: str = Field(max_length=30)
    value: str = Field(max_length=1000)
    display_name: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # the user's Mastodon relationship with this account (following, followed_by,
    # endorsed, note: booleans), refreshed at sync; the ranking prior reads it
    relationship: dict[str, object] | None = Field(default=None, sa_type=sa.JSON)


class Item(SQLModel, table=True):
    __tablename__ = "item"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "dedupe_key", name="uq_item_source_dedupe"),
        sa.Index("ix_item_user_published_id", "user_id", "published", "id"),
        sa.Index("ix_item_user_url", "user_id", "url"),
        # the ranked timeline is a range read of this index (ranking: rank_key)
        sa.Index("ix_item_user_rank", "user_id", "rank_key", "id"),
        # the unread timeline is a range read of this one (read state: issue 18)
        sa.Index(
            "ix_item_user_unread_rank",
            "user_id",
            "rank_key",
            "id",
            sqlite_where=sa.text("read_at IS NULL"),
            postgresql_where=sa.text("read_at IS NULL"),
        ),
        sa.Index(
            "ix_item_user_saved",
            "user_id",
            "saved_at",
            "id",
            sqlite_where=sa.text("saved_at IS NOT NULL"),
            postgresql_where=sa.text("saved_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    source_id: int = Field(sa_column=_fk("source.id"))
    dedupe_key: str = Field(max_length=1100)
    url: str | None = Field(default=None, max_length=2048)
    title: str = Field(default="", max_length=500)
    content: str = Field(default="", sa_type=sa.Text)
    content_hash: str = Field(max_length=64)
    published: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fetched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    author_name: str | None = Field(default=None, max_length=200)
    identity_id: int | None = Field(
        default=None, sa_column=_fk("identity.id", nullable=True, ondelete="SET NULL")
    )
    in_reply_to: str | None = Field(default=None, max_length=2048)
    tags: list[str] = Field(
        default_factory=list,
        sa_type=sa.JSON,
        nullable=False,
        sa_column_kwargs={"server_default": "[]"},
    )
    enclosures: list[dict[str, object]] = Field(
        default_factory=list,
        sa_type=sa.JSON,
        nullable=False,
        sa_column_kwargs={"server_default": "[]"},
    )
    comments_feed: str | None = Field(default=None, max_length=2048)
    comment_count: int | None = Field(default=None)
    language: str | None = Field(default=None, max_length=20)
    # Mastodon: who boosted the status into this source (acct), when it came as a boost
    boosted_by: str | None = Field(default=None, max_length=300)
    # how often the content changed after it was first stored (capped: see storage)
    update_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # set when another source of the same user already brought the same URL:
    # the timeline shows the first one only
    duplicate_of_id: int | None = Field(
        default=None, sa_column=_fk("item.id", nullable=True, ondelete="SET NULL")
    )
    # ranking: a sort key that stays in order as time passes (ranking.model.Ranker.
    # storage_key), the reasons of the score without its age term, when it was scored
    rank_key: float = Field(default=0.0, sa_column_kwargs={"server_default": "0"})
    why: list[list[object]] = Field(
        default_factory=list,
        sa_type=sa.JSON,
        nullable=False,
        sa_column_kwargs={"server_default": "[]"},
    )
    scored_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # daily reading: when the user read it (opened, marked, scrolled past) and saved it;
    # ingest never writes these, so they survive re-fetches and merges
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    saved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RankingModel(SQLModel, table=True):
    """A user's learned ranker, pickled, with what it takes to trust it again: the
    feature-schema and library versions (a mismatch retrains)."""

    __tablename__ = "ranking_model"
    __table_args__ = (sa.UniqueConstraint("user_id", name="uq_ranking_model_user"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    schema_version: int = Field(default=0)
    library: str = Field(default="", max_length=200)
    trained_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    retrained_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    events: int = Field(default=0)
    payload: bytes = Field(sa_type=sa.LargeBinary, nullable=False)


class ItemTombstone(SQLModel, table=True):
    """An item the user deleted or that aged out: the same entry never comes back."""

    __tablename__ = "item_tombstone"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "dedupe_key", name="uq_tombstone_source_dedupe"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    source_id: int = Field(sa_column=_fk("source.id"))
    dedupe_key: str = Field(max_length=1100)
    url: str | None = Field(default=None, max_length=2048)
    reason: str = Field(max_length=20)  # deleted | aged_out
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Feedback(SQLModel, table=True):
    __tablename__ = "feedback"
    __table_args__ = (
        sa.Index("ix_feedback_user_learned", "user_id", "learned"),
        # the timeline's "not hidden" check is one lookup in this index per item (without
        # it SQLite could pick ix_feedback_user_id and scan all the user's feedback)
        sa.Index("ix_feedback_user_action_item", "user_id", "action", "item_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    item_id: int = Field(sa_column=_fk("item.id"))
    action: str = Field(max_length=10)  # seen | open | like | reply | hide | more | less
    rank: int | None = Field(default=None)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # the ranking model has learned from it (set in the transaction that saves the model,
    # so a row committed while another request learned is picked up by the next one)
    learned: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class Interaction(SQLModel, table=True):
    __tablename__ = "interaction"
    __table_args__ = (
        sa.UniqueConstraint(
            "user_id", "kind", "direction", "external_id", name="uq_interaction_external"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    person_id: int = Field(sa_column=_fk("person.id"))
    direction: str = Field(max_length=4)  # in | out | both (both: logged by the user only)
    # seen by Kith: reply | mention | favourite | boost | comment ...; logged by the user
    # (the contact log): call | meeting | message | email | letter | other
    kind: str = Field(max_length=20)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    item_id: int | None = Field(
        default=None, sa_column=_fk("item.id", nullable=True, ondelete="SET NULL")
    )
    external_id: str | None = Field(default=None, max_length=500)
    # the contact log: contact Kith cannot see, recorded by the user (editable, deletable)
    logged: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    note: str | None = Field(default=None, max_length=500)


class PersonDate(SQLModel, table=True):
    """A date to remember about a person (birthday, anniversary, custom), recurring
    yearly; the year is optional (a birthday without the year of birth)."""

    __tablename__ = "person_date"
    __table_args__ = (
        sa.UniqueConstraint("person_id", "kind", "label", name="uq_person_date_kind_label"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    person_id: int = Field(sa_column=_fk("person.id"))
    kind: str = Field(max_length=20)  # birthday | anniversary | custom
    label: str = Field(default="", max_length=100)  # custom dates: what it is
    month: int
    day: int
    year: int | None = Field(default=None)
    remind_days: int = Field(default=7, sa_column_kwargs={"server_default": "7"})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class JobRun(SQLModel, table=True):
    """One run of a periodic job per day (its unique row is the claim): the daily prune
    runs once a day however many schedulers and API processes there are."""

    __tablename__ = "job_run"
    __table_args__ = (sa.UniqueConstraint("name", "day", name="uq_job_run_name_day"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    day: str = Field(max_length=10)  # the UTC date, YYYY-MM-DD
    owner: str = Field(default="", max_length=200)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    result: dict[str, object] = Field(
        default_factory=dict,
        sa_type=sa.JSON,
        nullable=False,
        sa_column_kwargs={"server_default": "{}"},
    )


class AppPassword(SQLModel, table=True):
    """A per-app password for the protocols native reader apps speak (Google Reader API,
    Fever): shown once, stored hashed, revocable; never the account password, never an
    API token."""

    __tablename__ = "app_password"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    name: str = Field(default="app", max_length=100)
    prefix: str = Field(max_length=16)
    password_hash: str = Field(max_length=200)  # argon2, like the account password
    # Fever's api_key is md5("user:password"): kept (hashed again) so a key can be looked up
    fever_key_hash: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DigestSubscription(SQLModel, table=True):
    """A user's e-mail digest: off by default; daily or weekly to one address. The
    unsubscribe token (hashed) opens nothing but this row's one-click unsubscribe."""

    __tablename__ = "digest_subscription"
    __table_args__ = (sa.UniqueConstraint("user_id", name="uq_digest_subscription_user"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    frequency: str = Field(default="off", max_length=10)  # off | daily | weekly
    email: str | None = Field(default=None, max_length=320)
    hour_utc: int = Field(default=7)  # when the period's digest goes out
    unsubscribe_hash: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class DigestDelivery(SQLModel, table=True):
    """One digest per user and period (its unique row is the claim, so many API
    processes send it once); retried on SMTP failure without a duplicate."""

    __tablename__ = "digest_delivery"
    __table_args__ = (sa.UniqueConstraint("user_id", "period", name="uq_digest_delivery_period"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("user_account.id"))
    period: str = Field(max_length=20)  # 2026-12-02 (daily) or 2026-W49 (weekly)
    status: str = Field(default="pending", max_length=10)  # pending | sent | failed
    attempts: int = Field(default=0)
    owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    message_id: str | None = Field(default=None, max_length=300)
    error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
