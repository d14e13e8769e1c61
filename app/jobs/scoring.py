"""Ranking jobs: learn from feedback, score items, store the keys the timeline reads.

Each function reads as its steps: load the user's ranker (or retrain it when the stored
one is missing or from another schema/library) -> gather events, items, people
(storage) -> learn / score (ranking, pure) -> store keys and reasons (storage).

- ``learn``: incremental; feedback not learned yet is folded in with ``partial_fit``
  and only the people it touched are rescored. ``learn_now`` runs it as a computing
  transaction and a short writing one; :mod:`app.jobs.learner` calls it after feedback
  that is not a mere ``seen`` (those wait for the scheduler's next run).
- ``rescore``: scores items of the ranking window (all of them, or some people's).
- ``rank_all_pending``: learns, then scores new items (stored by ingest with a
  provisional key) a hundred people per short transaction.
- ``train_user``: from scratch (``kith train``, the periodic retrain, an outdated model).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.db import is_transient, retry_transient, session_scope
from app.jobs.ranker_cache import keep, reuse, user_lock
from app.models import Item, Person, RankingModel, User
from app.storage import ranking as store
from ranking.model import Ranker
from ranking.persist import SCHEMA_VERSION, dumps, library_version, loads
from ranking.types import PersonInfo

log = logging.getLogger("kith.ranking")
WINDOW_DAYS = 60  # items older than this keep the key they last had
DEFAULT = Ranker()  # parameters only: turns stored keys back into scores


@dataclass(frozen=True, slots=True)
class TrainReport:
    user_id: int
    events: int
    items: int


def peek_ranker(session: Session, *, user_id: int) -> Ranker:
    """The user's ranker for reading only: an untrained one (the relationship prior
    alone) when there is none yet or it is outdated; nothing is written."""
    row = store.model_row(session, user_id=user_id)
    ranker = (
        loads(row.payload, schema_version=row.schema_version, library=row.library) if row else None
    )
    return ranker or Ranker()


def load_ranker(
    session: Session, *, user_id: int, now: datetime, engine: Engine | None = None
) -> tuple[Ranker, RankingModel]:
    """The user's ranker; retrained from all feedback when there is none or the stored
    one is from another feature schema or library version (never a crash). The row is
    user's row is locked until the caller's commit (one learner at a time)."""
    store.lock_user(session, user_id=user_id)
    row = store.model_row(session, user_id=user_id)
    ranker = reuse(engine, row) if engine is not None else None
    if ranker is None and row is not None:
        ranker = loads(row.payload, schema_version=row.schema_version, library=row.library)
    if ranker is None or row is None:
        if row is not None:
            log.info("user %s: stored ranking model is outdated; retraining", user_id)
        ranker, row, _ = _train(session, user_id=user_id, now=now, row=row)
    return ranker, row


def _train(
    session: Session, *, user_id: int, now: datetime, row: RankingModel | None
) -> tuple[Ranker, RankingModel, int]:
    events, ids = store.feedback_events(session, user_id=user_id)
    item_ids = sorted({e.item_id for e in events})
    items = store.item_infos(session, user_id=user_id, item_ids=item_ids)
    person_ids = {e.person_id for e in events if e.person_id is not None}
    people = store.person_infos(session, user_id=user_id, person_ids=person_ids, now=now)
    ranker = Ranker().fit(events, items=items, people=people, now=now)
    rows = score_rows(session, user_id=user_id, ranker=ranker, now=now)  # reads only
    row = row or RankingModel(user_id=user_id, payload=b"")
    _save(session, row, ranker, learned=ids, now=now, retrained=True)
    store.store_scores(session, rows=rows)
    return ranker, row, len(rows)


class LearnConflict(Exception):
    """Another learner saved the model (or learned some of these rows) between this
    one's reads and its writes; the whole transaction runs again."""


def _save(
    session: Session,
    row: RankingModel,
    ranker: Ranker,
    *,
    learned: list[int],
    now: datetime,
    pending: bool = False,
    retrained: bool = False,
) -> None:
    """Mark the rows learned and store the model, as a compare-and-set: with
    ``pending``, every row must still be unlearned, and a stored model must still be the
    one this learner loaded (on SQLite nothing is locked while it computes)."""
    marked = store.mark_learned(session, feedback_ids=learned, pending_only=pending)
    if pending and marked != len(learned):
        raise LearnConflict(f"user {row.user_id}: feedback learned meanwhile")
    values = {
        "payload": dumps(ranker),
        "schema_version": SCHEMA_VERSION,
        "library": library_version(),
        "trained_at": now,
        "retrained_at": now if retrained else row.retrained_at,
        "events": ranker.n_events_,
    }
    if row.id is not None:
        if not store.swap_model(session, row=row, values=values):
            raise LearnConflict(f"user {row.user_id}: model saved meanwhile")
        return
    for name, value in values.items():
        setattr(row, name, value)
    try:
        with session.begin_nested():  # another request may have created it meanwhile
            session.add(row)
    except IntegrityError:
        existing = store.model_row(session, user_id=row.user_id)
        assert existing is not None
        for field in ("payload", "schema_version", "library", "trained_at", "retrained_at",
                      "events"):  # fmt: skip
            setattr(existing, field, getattr(row, field))
        session.add(existing)
        session.flush()


def train_user(session: Session, *, user_id: int, now: datetime) -> TrainReport:
    """Retrain from scratch on every feedback row and rescore the window."""
    store.lock_user(session, user_id=user_id)
    row = store.model_row(session, user_id=user_id)
    ranker, _, scored = _train(session, user_id=user_id, now=now, row=row)
    return TrainReport(user_id=user_id, events=ranker.n_events_, items=scored)


@dataclass
class _Learned:
    """What one learning step writes: the rows it learned, the model, the new keys."""

    row: RankingModel
    ranker: Ranker
    feedback_ids: list[int]
    keys: list[dict[str, object]]
    now: datetime


def _learn_reads(
    session: Session, *, user_id: int, now: datetime, engine: Engine | None = None
) -> tuple[Ranker, _Learned | None]:
    ranker, row = load_ranker(session, user_id=user_id, now=now, engine=engine)
    events, ids = store.feedback_events(session, user_id=user_id, pending=True)
    if not events:
        if engine is not None:
            keep(engine, user_id=user_id, trained_at=row.trained_at, events=row.events,
                  ranker=ranker)  # fmt: skip
        return ranker, None
    item_ids = sorted({e.item_id for e in events})
    items = store.item_infos(session, user_id=user_id, item_ids=item_ids)
    touched = {e.person_id for e in events if e.person_id is not None}
    people = store.person_infos(session, user_id=user_id, person_ids=touched, now=now)
    ranker.partial_fit(events, items=items, people=people, now=now)
    keys = score_rows(session, user_id=user_id, ranker=ranker, now=now, person_ids=touched)
    return ranker, _Learned(row, ranker, ids, keys, now)


def _learn_writes(session: Session, learned: _Learned) -> None:
    _save(session, learned.row, learned.ranker, learned=learned.feedback_ids, now=learned.now,
          pending=True)  # fmt: skip
    store.store_scores(session, rows=learned.keys)


def learn(session: Session, *, user_id: int, now: datetime) -> Ranker:
    """Fold feedback the model has not seen into it, and rescore the people it touched.

    Reads and computes first and writes last (rows learned, the model, the new keys), so
    on SQLite the write lock is held for the writes only; :class:`LearnConflict` when
    another learner got there first (run it again in a fresh transaction)."""
    ranker, learned = _learn_reads(session, user_id=user_id, now=now)
    if learned is not None:
        _learn_writes(session, learned)
    return ranker


def learn_now(engine: Engine, *, user_id: int, attempts: int = 4) -> None:
    """:func:`learn` as two transactions, reads and computing in one, the writes in a
    short one through the write queue (a compare-and-set: see :func:`_save`); again on
    a conflict or a transient failure. A user without a model gets one."""
    for attempt in range(attempts):
        try:
            with user_lock(engine, user_id):
                with session_scope(engine) as session:
                    _, learned = _learn_reads(
                        session, user_id=user_id, now=datetime.now(UTC), engine=engine
                    )
                if learned is not None:
                    with session_scope(engine, write=True) as session:
                        _learn_writes(session, learned)
                    keep(engine, user_id=user_id, trained_at=learned.now,
                          events=learned.ranker.n_events_, ranker=learned.ranker)  # fmt: skip
                return
        except LearnConflict:
            if attempt + 1 >= attempts:
                raise
        except Exception as exc:
            if attempt + 1 >= attempts or not is_transient(exc):
                raise
        time.sleep(random.uniform(0.005, 0.02) * 2**attempt)
    raise AssertionError("unreachable")


def rescore(
    session: Session,
    *,
    user_id: int,
    ranker: Ranker,
    now: datetime,
    person_ids: Iterable[int] | None = None,
    item_ids: list[int] | None = None,
) -> int:
    """Score the window's items (all, some people's, or the given ones) and store their
    keys and reasons. Page shares are per person, so a person's items are always
    rescored together; exploration slots only on a full rescore."""
    rows = score_rows(
        session, user_id=user_id, ranker=ranker, now=now, person_ids=person_ids, item_ids=item_ids
    )
    store.store_scores(session, rows=rows)
    return len(rows)


def score_rows(
    session: Session,
    *,
    user_id: int,
    ranker: Ranker,
    now: datetime,
    person_ids: Iterable[int] | None = None,
    item_ids: list[int] | None = None,
) -> list[dict[str, object]]:
    """What :func:`rescore` stores, computed with reads only."""
    since = now - timedelta(days=WINDOW_DAYS)
    if item_ids is None:
        item_ids = store.window_item_ids(
            session, user_id=user_id, since=since, person_ids=person_ids
        )
    if not item_ids:
        return []
    items = store.item_infos(session, user_id=user_id, item_ids=item_ids)
    pids = {i.person_id for i in items if i.person_id is not None}
    people = {
        p.person_id: p
        for p in store.person_infos(session, user_id=user_id, person_ids=pids, now=now)
    }
    published = {i.item_id: i.published for i in items}
    scored = ranker.score_all(items, people, now=now)
    full = person_ids is None and len(item_ids) > 0
    arranged = ranker.arrange(scored, people, explore=full)
    return [
        {
            "id": r.item_id,
            "rank_key": ranker.storage_key(r, published=published[r.item_id], now=now),
            "why": [[x.code, x.text, round(x.value, 4)] for x in r.why if x.code != "age"],
            "scored_at": now,
        }
        for r in arranged
    ]


def rescore_people(
    session: Session, *, user_id: int, person_ids: Iterable[int], now: datetime
) -> None:
    """After a weight, pin or mute change: those people's items, with the current model."""
    ranker, _ = load_ranker(session, user_id=user_id, now=now)
    rescore(session, user_id=user_id, ranker=ranker, now=now, person_ids=set(person_ids))


FRESH_PEOPLE_PER_TRANSACTION = 100  # people (all their window items) scored per write


def rank_all_pending(engine: Engine, *, now: datetime) -> int:
    """Every user with new items or unlearned feedback (after a refresh, on a tick).

    Pending feedback is learned first; new items are then scored a hundred people at a
    time, each group in a short transaction of its own that reads and computes first and
    writes its keys last, so a click never waits behind scoring 15,000 new items."""
    with session_scope(engine) as session:
        users = store.users_with_work(session, since=now - timedelta(days=WINDOW_DAYS))
    total = 0
    for user_id in users:
        try:
            learn_now(engine, user_id=user_id)
            total += _rank_fresh(engine, user_id=user_id, now=now)
        except Exception:  # one user's failure never stops the others
            log.exception("ranking for user %s failed", user_id)
    return total


def _rank_fresh(engine: Engine, *, user_id: int, now: datetime) -> int:
    since = now - timedelta(days=WINDOW_DAYS)
    with session_scope(engine) as session:
        fresh = store.window_item_ids(session, user_id=user_id, since=since, unscored_only=True)
        people = sorted(store.people_of_items(session, item_ids=fresh)) if fresh else []
    done: set[object] = set()
    for start in range(0, len(people), FRESH_PEOPLE_PER_TRANSACTION):
        group = people[start : start + FRESH_PEOPLE_PER_TRANSACTION]

        def score_group(group: list[int] = group) -> list[dict[str, object]]:
            with user_lock(engine, user_id):
                with session_scope(engine) as session:  # reads and computing
                    row = store.model_row(session, user_id=user_id)
                    stored = reuse(engine, row) or (
                        loads(row.payload, schema_version=row.schema_version, library=row.library)
                        if row is not None
                        else None
                    )
                    ranker = stored or Ranker()  # outdated: the prior alone, as peek_ranker
                    rows = score_rows(
                        session, user_id=user_id, ranker=ranker, now=now, person_ids=group
                    )
                with session_scope(engine, write=True) as session:  # the keys, briefly
                    store.store_scores(session, rows=rows)
                if row is not None and stored is not None:
                    keep(engine, user_id=user_id, trained_at=row.trained_at, events=row.events,
                          ranker=ranker)  # fmt: skip
                return rows

        done.update(r["id"] for r in retry_transient(score_group))
    # items with no person are scored on their own
    loose = [i for i in fresh if i not in done]
    if loose:
        with user_lock(engine, user_id), session_scope(engine) as session:
            ranker = peek_ranker(session, user_id=user_id)
            rescore(session, user_id=user_id, ranker=ranker, now=now, item_ids=loose)
    return len(done) + len(loose)


def retrain_all(
    engine: Engine, *, now: datetime, user_ids: list[int] | None = None
) -> list[TrainReport]:
    """Retrain every user's model from scratch (``kith train``, the periodic retrain)."""
    with session_scope(engine) as session:
        ids = user_ids or [u for u in session.exec(select(User.id)).all() if u is not None]
    reports = []
    for user_id in sorted(set(ids)):
        with session_scope(engine) as session:
            reports.append(train_user(session, user_id=user_id, now=now))
    return reports


def explain(item: Item, *, pinned: bool, now: datetime) -> tuple[float, list[tuple[str, float]]]:
    """An item's score at ``now`` and its reasons (stored ones plus its age), for display."""
    return explain_stored(item.rank_key, item.why, item.published, pinned=pinned, now=now)


def explain_stored(
    rank_key: float,
    why: Sequence[Sequence[Any]] | None,
    published: datetime,
    *,
    pinned: bool,
    now: datetime,
) -> tuple[float, list[tuple[str, float]]]:
    """:func:`explain` from the stored columns: ``why`` is the stored list of
    ``[code, text, value]``. Runs for every item of every timeline page, so it is kept
    lean (no conversions of what this module stored itself)."""
    score = DEFAULT.display_score(rank_key, pinned=pinned, now=now)
    reasons = [(w[1], round(w[2], 4)) for w in why or () if len(w) == 3]
    age = DEFAULT.age_reason(published, now=now)
    reasons.append((age.text, round(age.value, 4)))
    reasons.sort(key=_magnitude)
    return round(score, 4), reasons


def _magnitude(reason: tuple[str, float]) -> float:
    """Sort key: largest contribution (either sign) first."""
    return -abs(reason[1])


def person_weights(
    session: Session, *, user_id: int, people: list[Person], now: datetime
) -> dict[int, dict[str, object]]:
    """The weights API view of some people: learned, manual, recent more/less, effective."""
    ranker = peek_ranker(session, user_id=user_id)
    infos: dict[int, PersonInfo] = {
        p.person_id: p
        for p in store.person_infos(
            session, user_id=user_id, person_ids=[p.id for p in people if p.id], now=now
        )
    }
    out: dict[int, dict[str, object]] = {}
    for pid, info in infos.items():
        w = ranker.weight(info, now=now)
        out[pid] = {
            "learned": w.learned,
            "manual": w.manual,
            "recent": w.recent,
            "pinned": w.pinned,
            "muted": w.muted,
            "effective": w.effective,
            "exposure": w.exposure,
        }
    return out
