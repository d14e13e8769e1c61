"""Restore an export (:mod:`app.jobs.export`) into an empty account, mapping the
export's ids to new ones.

Steps: check the document (format, version) and that the account is empty -> sources
(due at once; one that had a Mastodon token comes back paused with ``auth_failed``, as
the export carries no secret) -> people -> identities -> merge rejections -> items with
state (so the next fetch updates them instead of adding them again, and the read and
saved state stays) -> thread posts of the sources -> feedback (to be learned again by the
ranker) -> interactions (the contact history, logged contact and notes included) ->
dates -> tombstones. A row whose reference is missing from the document is skipped and
counted, never fatal. One transaction: the caller's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from app.errors import Conflict, InvalidInput
from app.jobs.export import FORMAT, VERSION
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
)
from app.storage import accounts as store
from ranking.model import provisional_key

CHUNK = 1000
TIMES = {
    "created_at", "snoozed_until", "dismissed_at", "at", "published", "updated", "fetched_at",
    "read_at", "saved_at",
}  # fmt: skip


ITEM_COLUMNS = next(s for s in store.SECTIONS if s.name == "items").columns[1:]


class AccountNotEmpty(Conflict):
    code = "account_not_empty"


@dataclass
class ImportReport:
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        parts = [f"{k}={v}" for k, v in self.counts.items()]
        parts += [f"skipped_{k}={v}" for k, v in self.skipped.items() if v]
        return " ".join(parts)


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"not a timestamp: {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"not a timestamp: {value!r}") from None


def _rows(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    rows = doc.get(name, [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidInput(f"{name!r} must be a list of objects")
    return [{k: _time(v) if k in TIMES else v for k, v in r.items()} for r in rows]


def _insert(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows``; their new ids, in order."""
    table: sa.Table = model.__table__
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        query = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids += [r[0] for r in session.execute(query, list(chunk))]
    return ids


class _Mapper:
    """Old id -> new id per section, and what was skipped for want of a reference."""

    def __init__(self, report: ImportReport, now: datetime) -> None:
        self.ids: dict[str, dict[int, int]] = {}
        self.report, self.now = report, now

    def load(
        self,
        session: Session,
        name: str,
        model: Any,
        rows: Iterable[dict[str, Any]],
        refs: dict[str, str],
        build: Any,
        *,
        optional: Iterable[str] = (),
    ) -> None:
        """Map each row's references (column -> section), build the new row, insert."""
        keep: list[dict[str, Any]] = []
        old: list[int] = []
        skipped = 0
        for row in rows:
            mapped = dict(row)
            for column, section in refs.items():
                value = row.get(column)
                new = self.ids.get(section, {}).get(value) if isinstance(value, int) else None
                if new is None and column not in optional:
                    break  # a row it needs is not in the document
                mapped[column] = new  # an optional link to a row not exported: dropped
            else:
                built = build(mapped)
                for when in ("created_at", "at"):
                    if when in built and built[when] is None:
                        built[when] = self.now
                keep.append(built)
                old.append(row.get("id", -1))
                continue
            skipped += 1
        new_ids = _insert(session, model, keep)
        self.ids[name] = dict(zip(old, new_ids, strict=True))
        self.report.counts[name] = len(new_ids)
        self.report.skipped[name] = skipped


def _pick(row: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {n: row[n] for n in names if n in row}


def import_export(
    session: Session, *, user_id: int, document: object, now: datetime
) -> ImportReport:
    """Restore ``document`` (an export, parsed) into the empty account ``user_id``."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidInput(f'not a Kith export (no "format": "{FORMAT}")')
    if document.get("version") != VERSION:
        raise InvalidInput(f"export version {document.get('version')!r}; this Kith reads {VERSION}")
    if store.has_content(session, user_id=user_id):
        raise AccountNotEmpty(
            "the account already has sources or people; import into an empty account"
        )
    store.drop_empty_self(session, user_id=user_id)
    report = ImportReport()
    m = _Mapper(report, now)
    mine = {"user_id": user_id}
    sources = _rows(document, "sources")

    def source(r: dict[str, Any]) -> dict[str, Any]:
        row = {**mine, **_pick(r, ("url", "kind", "title", "site_url", "folder", "paused",
                                   "created_at")), "next_check_at": now, "state": {}}  # fmt: skip
        row.setdefault("created_at", now)
        if r.get("had_token"):
            row.update(
                paused=True,
                error_code="auth_failed",
                error_message="the export carries no access token: add the account again "
                "with its token",
            )
        return row

    m.load(session, "sources", Source, sources, {}, source)
    m.load(
        session,
        "people",
        Person,
        _rows(document, "people"),
        {},
        lambda r: {
            **mine,
            **_pick(
                r,
                (
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
                ),
            ),
        },  # fmt: skip
    )
    m.load(
        session,
        "identities",
        Identity,
        _rows(document, "identities"),
        {"person_id": "people"},
        lambda r: {
            **mine,
            **_pick(r, ("person_id", "kind", "value", "display_name", "created_at")),
        },  # fmt: skip
    )
    m.load(
        session,
        "merge_rejections",
        MergeRejection,
        _rows(document, "merge_rejections"),
        {"person_a": "people", "person_b": "people"},
        lambda r: {**mine, **_pick(r, ("person_a", "person_b", "at"))},
    )

    def item(r: dict[str, Any]) -> dict[str, Any]:
        row = {**mine, **_pick(r, ITEM_COLUMNS)}
        if not isinstance(row.get("published"), datetime) or not row.get("dedupe_key"):
            raise InvalidInput("every item needs its dedupe_key and published time")
        row["content_hash"] = row.get("content_hash") or ""
        row["fetched_at"] = row.get("fetched_at") or now
        row["title"] = row.get("title") or ""
        row["content"] = row.get("content") or ""
        row.update(rank_key=provisional_key(row["published"]), why=[], scored_at=None)
        for name, empty in (("tags", []), ("enclosures", []), ("update_count", 0)):
            row[name] = row.get(name) or empty
        return row

    m.load(
        session,
        "items",
        Item,
        _rows(document, "items"),
        {"source_id": "sources", "identity_id": "identities"},
        item,
        optional=("identity_id",),
    )
    for r in sources:  # thread sources: the post they follow, now that it exists
        post = m.ids["items"].get(r.get("parent_item_id") or -1)
        new = m.ids["sources"].get(r.get("id") or -1)
        if post is not None and new is not None:
            session.execute(sa.update(Source).where(Source.id == new).values(parent_item_id=post))  # type: ignore[arg-type]
    m.load(
        session,
        "feedback",
        Feedback,
        _rows(document, "feedback"),
        {"item_id": "items"},
        lambda r: {**mine, **_pick(r, ("item_id", "action", "rank", "at")), "learned": False},
    )
    m.load(
        session,
        "interactions",
        Interaction,
        _rows(document, "interactions"),
        {"person_id": "people", "item_id": "items"},
        lambda r: {
            **mine,
            **_pick(
                r,
                (
                    "person_id",
                    "direction",
                    "kind",
                    "at",
                    "item_id",
                    "external_id",
                    "logged",
                    "note",
                ),
            ),
        },  # fmt: skip
        optional=("item_id",),
    )
    m.load(
        session,
        "person_dates",
        PersonDate,
        _rows(document, "person_dates"),
        {"person_id": "people"},
        lambda r: {
            **mine,
            **_pick(
                r,
                ("person_id", "kind", "label", "month", "day", "year", "remind_days", "created_at"),
            ),
        },  # fmt: skip
    )
    m.load(
        session,
        "tombstones",
        ItemTombstone,
        _rows(document, "tombstones"),
        {"source_id": "sources"},
        lambda r: {**mine, **_pick(r, ("source_id", "dedupe_key", "url", "reason", "at"))},
    )
    return report
