"""The Fever API (version 3) as Reeder, Unread, Fiery Feeds and friends speak it, on
Kith's people-as-feeds mapping (:mod:`app.apps.mapping`).

One endpoint, ``/fever/``; arguments in the query string or the form body, whichever the
client uses. ``api_key`` is md5("user:app-password") (an app password, never the
account's); a missing, wrong or revoked key answers ``{"api_version": 3, "auth": 0}``, as
the protocol says. Reads: ``groups``, ``feeds`` (both with ``feeds_groups``),
``favicons``, ``items`` (``since_id`` / ``max_id`` / ``with_ids``, 50 at a time),
``links`` (none), ``unread_item_ids``, ``saved_item_ids``. Writes: ``mark=item`` (read,
unread, saved, unsaved), ``mark=feed`` / ``mark=group`` ``as=read`` ``before=<unix>``.

Groups are the relationship folders, each with a stable id from its label, plus "Kith:
top" (1) and "Kith: important" (2); group 0 is everything (Kindling), -1 (Sparks) is
empty.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from app.apps import mapping
from app.apps import passwords as app_passwords
from app.db import session_scope
from app.errors import InvalidInput
from app.fever import items as fever_items

API_VERSION = 3
TOP_GROUP, IMPORTANT_GROUP = 1, 2
VIRTUAL_GROUPS = {TOP_GROUP: mapping.TOP_LABEL, IMPORTANT_GROUP: mapping.IMPORTANT_LABEL}
# one favicon for every feed: a transparent 1x1 GIF (clients want one to exist)
FAVICON = "image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
MAX_IDS = 50
MAX_ID = 2**63 - 1

Params = Mapping[str, str]


def group_id(label: str) -> int:
    """A relationship folder's group id: stable for its label (clients cache ids), never
    0-2 (everything, top, important)."""
    return 3 + zlib.crc32(label.strip().lower().encode()) % (2**31 - 4)


def _int(params: Params, name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, not {raw[:40]!r}") from None
    if abs(value) > MAX_ID:
        raise InvalidInput(f"{name} is out of range")
    return value


def _ids(raw: str) -> list[int]:
    out = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or len(part) > 19:
            raise InvalidInput(f"with_ids takes comma-separated item ids, not {part[:40]!r}")
        out.append(int(part))
    return out[:MAX_IDS]


def _unix(at: datetime | None) -> int:
    return int(at.timestamp()) if at is not None else 0


def _csv(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def answer(engine: Engine, params: Params, *, now: datetime) -> dict[str, object]:
    """The whole exchange: authenticate, then every read asked for, or one write."""
    out: dict[str, object] = {"api_version": API_VERSION, "auth": 0}
    with session_scope(engine, write=True) as session:  # the key's last use is recorded
        who = app_passwords.fever_owner(session, api_key=params.get("api_key", ""), now=now)
        if who is None:
            return out
        out["auth"] = 1
        out["last_refreshed_on_time"] = _unix(
            fever_items.last_refreshed(session, user_id=who.user_id)
        )
    user_id = who.user_id
    mark = params.get("mark")
    if mark:
        _write(engine, params, user_id=user_id, mark=mark, now=now)
    with session_scope(engine) as session:
        if "groups" in params or "feeds" in params:
            feeds = mapping.feeds(session, user_id=user_id)
            groups = _groups(session, user_id=user_id, feeds=feeds)
            if "groups" in params:
                out["groups"] = [{"id": gid, "title": title} for gid, title, _ in groups]
            if "feeds" in params:
                out["feeds"] = [
                    {
                        "id": f.number,
                        "favicon_id": 1,
                        "title": f.title,
                        "url": f.url,
                        "site_url": f.site_url or f.url,
                        "is_spark": 0,
                        "last_updated_on_time": _unix(f.newest),
                    }
                    for f in feeds
                ]
            out["feeds_groups"] = [
                {"group_id": gid, "feed_ids": _csv(numbers)}
                for gid, _, numbers in groups
                if numbers
            ]
        if "favicons" in params:
            out["favicons"] = [{"id": 1, "data": FAVICON}]
        if "items" in params:
            out["items"] = [_item_json(i) for i in _items(session, params, user_id=user_id)]
            out["total_items"] = fever_items.count_items(session, user_id=user_id)
        if "links" in params:
            out["links"] = []
        if "unread_item_ids" in params:
            ids = fever_items.item_ids(session, user_id=user_id, state="unread")
            out["unread_item_ids"] = _csv(ids)
        if "saved_item_ids" in params:
            out["saved_item_ids"] = _csv(
                fever_items.item_ids(session, user_id=user_id, state="saved")
            )
    return out


def _groups(
    session: object, *, user_id: int, feeds: list[mapping.AppFeed]
) -> list[tuple[int, str, list[int]]]:
    """(id, title, feed numbers) of every group: the relationship folders by title, then
    the two virtual ones."""
    labels = mapping.labels(session, user_id=user_id)  # type: ignore[arg-type]
    out = [
        (group_id(label), label, sorted(f.number for f in feeds if label in f.folders))
        for label in labels
    ]
    top = mapping.top_ids(session, user_id=user_id)  # type: ignore[arg-type]
    important = mapping.important_ids(session, user_id=user_id)  # type: ignore[arg-type]
    for gid, ids in ((TOP_GROUP, top), (IMPORTANT_GROUP, important)):
        numbers = fever_items.feed_numbers(session, user_id=user_id, ids=ids)  # type: ignore[arg-type]
        out.append((gid, VIRTUAL_GROUPS[gid], numbers))
    return out


def _items(session: object, params: Params, *, user_id: int) -> list[fever_items.FeverItem]:
    kwargs: dict[str, object] = {}
    if "with_ids" in params:
        kwargs["with_ids"] = _ids(params["with_ids"])
    elif "since_id" in params:
        kwargs["since_id"] = _int(params, "since_id", 0)
    elif "max_id" in params:
        kwargs["max_id"] = _int(params, "max_id", 0)
    return fever_items.read_items(session, user_id=user_id, **kwargs)  # type: ignore[arg-type]


def _item_json(item: fever_items.FeverItem) -> dict[str, object]:
    return {
        "id": item.id,
        "feed_id": item.feed_id,
        "title": item.title,
        "author": item.author,
        "html": item.html,
        "url": item.url,
        "is_saved": int(item.is_saved),
        "is_read": int(item.is_read),
        "created_on_time": _unix(item.created),
    }


def _write(engine: Engine, params: Params, *, user_id: int, mark: str, now: datetime) -> None:
    """One ``mark``: the user's own items only (another user's id changes nothing)."""
    as_ = params.get("as", "")
    target = _int(params, "id")
    if mark not in ("item", "feed", "group"):
        raise InvalidInput("mark is item, feed or group")
    if target is None:
        raise InvalidInput("mark needs an id")
    if mark == "item":
        states = {
            "read": {"read": True},
            "unread": {"read": False},
            "saved": {"starred": True},
            "unsaved": {"starred": False},
        }
        if as_ not in states:
            raise InvalidInput("as is read, unread, saved or unsaved for an item")
        if 0 < target <= mapping.ITEM_ID_MAX:
            mapping.apply_state(engine, user_id=user_id, item_ids=[target], now=now, **states[as_])
        return
    if as_ != "read":
        raise InvalidInput(f"a {mark} can only be marked read")
    before_raw = _int(params, "before")
    before = (
        datetime.fromtimestamp(min(max(before_raw, 0), 253402300799), UTC)
        if before_raw is not None
        else now
    )
    if mark == "feed":
        person_id, source_id = mapping.split_feed_number(target)
        if person_id is not None:
            scope: dict[str, object] = {"person_ids": [person_id]}
        elif source_id is not None:
            scope = {"person_ids": (), "source_ids": [source_id]}  # its unclaimed items
        else:
            return
    elif target == 0:
        scope = {}  # Kindling: everything
    elif target in VIRTUAL_GROUPS:
        with session_scope(engine) as session:
            ids = (
                mapping.top_ids(session, user_id=user_id)
                if target == TOP_GROUP
                else mapping.important_ids(session, user_id=user_id)
            )
        if not ids:
            return
        scope = {"item_ids": ids}
    else:
        with session_scope(engine) as session:
            label = next(
                (lb for lb in mapping.labels(session, user_id=user_id) if group_id(lb) == target),
                None,
            )
            people = mapping.label_people(session, user_id=user_id, label=label) if label else []
        if not people:
            return  # Sparks (-1), an unknown group, or another user's
        scope = {"person_ids": people}
    mapping.mark_all_read(engine, user_id=user_id, published_before=before, now=now, **scope)  # type: ignore[arg-type]
