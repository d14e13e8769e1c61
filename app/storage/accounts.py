"""Whole accounts: deleting one with everything it owns, and reading an account's rows
for its export in keyset batches (never the account in memory).

Every table a user owns carries ``user_id``; deletion walks them children first (the
reverse of the foreign-key order), so it needs neither ON DELETE CASCADE nor SQLite's
``PRAGMA foreign_keys`` to be complete, then deletes the user row (whose cascades catch
any table added outside the models)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col

from app.errors import Forbidden, InvalidInput
from app.models import (
    Feedback,
    Identity,
    Interaction,
    Item,
    ItemTombstone,
    MergeRejection,
    Person,
    PersonDate,
    Source,
    User,
)
from app.security import verify_password


class WrongPassword(Forbidden):
    code = "wrong_password"


class ConfirmationMismatch(Forbidden):
    code = "confirmation_mismatch"


def check_deletion(user: User, *, password: str | None, confirm: str | None) -> None:
    """An account with a password is deleted with that password again; one without (API
    tokens only) with its user name typed out as ``confirm``."""
    if user.password_hash:
        if password is None:
            raise InvalidInput('send {"password": "..."}: your password, again')
        if not verify_password(user.password_hash, password):
            raise WrongPassword("the password is wrong; nothing was deleted")
        return
    if confirm is None:
        raise InvalidInput(
            'this account has no password: send {"confirm": "<your user name>"} to delete it'
        )
    if confirm != user.name:
        raise ConfirmationMismatch("confirm is not this account's user name; nothing was deleted")


def delete_account(session: Session, *, user_id: int) -> dict[str, int]:
    """Delete the user and every row they own, in the caller's transaction; returns the
    rows deleted per table."""
    counts: dict[str, int] = {}
    conn = session.connection()
    for table in reversed(SQLModel.metadata.sorted_tables):
        if "user_id" not in table.c:
            continue
        deleted = conn.execute(sa.delete(table).where(table.c.user_id == user_id)).rowcount
        if deleted:
            counts[table.name] = int(deleted)
    users = conn.execute(sa.delete(User.__table__).where(col(User.id) == user_id)).rowcount  # type: ignore[attr-defined]
    counts[User.__tablename__] = int(users or 0)
    return counts


def has_content(session: Session, *, user_id: int) -> bool:
    """True when the account has sources, or people other than an empty self person."""
    conn = session.connection()
    if conn.execute(
        sa.select(col(Source.id)).where(col(Source.user_id) == user_id).limit(1)
    ).first():
        return True
    people = conn.execute(
        sa.select(col(Person.id), col(Person.is_self))
        .where(col(Person.user_id) == user_id)
        .limit(2)
    ).all()
    if any(not is_self for _, is_self in people):
        return True
    return bool(
        conn.execute(
            sa.select(col(Identity.id)).where(col(Identity.user_id) == user_id).limit(1)
        ).first()
    )


def drop_empty_self(session: Session, *, user_id: int) -> None:
    """Remove the identity-less self person a fresh account may have (import brings one)."""
    session.execute(sa.delete(Person).where(col(Person.user_id) == user_id, col(Person.is_self)))


# --- the export's sections -----------------------------------------------------------

Where = Callable[[sa.Table, int], list[Any]]


@dataclass(frozen=True)
class Section:
    """One list of the export: a table, the columns it keeps, and which rows."""

    name: str
    model: Any
    columns: tuple[str, ...]
    where: Where | None = None
    extra: tuple[tuple[str, Any], ...] = ()  # computed columns: (name, expression)


def _items_with_state(t: sa.Table, user_id: int) -> list[Any]:
    """Items that carry the user's state: read, saved, feedback, contact, a followed
    thread. Only these are exported whole; the rest come back with the next fetch."""
    fb, ia, src = Feedback.__table__, Interaction.__table__, Source.__table__  # type: ignore[attr-defined]
    return [
        sa.or_(
            t.c.read_at.is_not(None),
            t.c.saved_at.is_not(None),
            sa.exists().where(fb.c.item_id == t.c.id),
            sa.exists().where(ia.c.item_id == t.c.id),
            sa.exists().where(src.c.parent_item_id == t.c.id, src.c.user_id == user_id),
        )
    ]


SECTIONS: tuple[Section, ...] = (
    Section(
        "sources",
        Source,
        (
            "id",
            "url",
            "kind",
            "title",
            "site_url",
            "folder",
            "paused",
            "parent_item_id",
            "created_at",
        ),  # fmt: skip
        extra=(("had_token", Source.__table__.c.access_token.is_not(None)),),  # type: ignore[attr-defined]
    ),
    Section(
        "people",
        Person,
        (
            "id",
            "name",
            "is_self",
            "manual_weight",
            "pinned",
            "muted",
            "relationships",
            "cadence_days",
            "snoozed_until",
            "dismissed_at",
            "created_at",
        ),  # fmt: skip
    ),
    Section(
        "identities", Identity, ("id", "person_id", "kind", "value", "display_name", "created_at")
    ),
    Section("merge_rejections", MergeRejection, ("id", "person_a", "person_b", "at")),
    Section(
        "items",
        Item,
        (
            "id",
            "source_id",
            "dedupe_key",
            "url",
            "title",
            "content",
            "content_hash",
            "published",
            "updated",
            "fetched_at",
            "author_name",
            "identity_id",
            "in_reply_to",
            "tags",
            "enclosures",
            "comments_feed",
            "comment_count",
            "language",
            "boosted_by",
            "update_count",
            "read_at",
            "saved_at",
        ),  # fmt: skip
        where=_items_with_state,
    ),
    Section("feedback", Feedback, ("id", "item_id", "action", "rank", "at")),
    Section(
        "interactions",
        Interaction,
        (
            "id",
            "person_id",
            "direction",
            "kind",
            "at",
            "item_id",
            "external_id",
            "logged",
            "note",
        ),  # fmt: skip
    ),
    Section(
        "person_dates",
        PersonDate,
        (
            "id",
            "person_id",
            "kind",
            "label",
            "month",
            "day",
            "year",
            "remind_days",
            "created_at",
        ),  # fmt: skip
    ),
    Section("tombstones", ItemTombstone, ("id", "source_id", "dedupe_key", "url", "reason", "at")),
)


def section_batches(
    conn: sa.Connection, section: Section, *, user_id: int, batch: int
) -> Iterator[list[dict[str, Any]]]:
    """The user's rows of one section as dicts, ``batch`` at a time, by id (keyset)."""
    table: sa.Table = section.model.__table__
    cols = [table.c[name] for name in section.columns]
    cols += [expr.label(name) for name, expr in section.extra]
    conds = [table.c.user_id == user_id, *(section.where(table, user_id) if section.where else [])]
    after = 0
    while True:
        query = sa.select(*cols).where(*conds, table.c.id > after).order_by(table.c.id).limit(batch)
        rows = [dict(r._mapping) for r in conn.execute(query)]
        if not rows:
            return
        yield rows
        if len(rows) < batch:
            return
        after = rows[-1]["id"]


def user_header(conn: sa.Connection, *, user_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(User.name, User.created_at).where(User.id == user_id)  # type: ignore[call-overload]
    ).first()
    return None if row is None else {"name": row.name, "created_at": row.created_at}
