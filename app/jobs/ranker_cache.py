"""What one process keeps between ranking runs: the last ranker per user, and a lock per
user so its learner and the scheduler's ranking run never compute over each other (the
database-level guarantee is the compare-and-set in :func:`app.jobs.scoring._save`)."""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import Engine

from app.models import RankingModel
from ranking.model import Ranker

# this process's last ranker per (database, user), with the stored row's (trained_at,
# events) it equals: learning and scoring reuse it instead of unpickling, and so keep its
# per-item feature cache (story patterns over the text were a third of a learning run)
_RANKERS: dict[tuple[str, int], tuple[datetime, int, Ranker]] = {}


def reuse(engine: Engine, row: RankingModel | None) -> Ranker | None:
    """The kept ranker if it is the stored one; taken (whoever holds it, owns it)."""
    if row is None:
        return None
    kept = _RANKERS.pop((str(engine.url), row.user_id), None)
    if kept is not None and kept[0] == row.trained_at and kept[1] == row.events:
        return kept[2]
    return None


def keep(
    engine: Engine, *, user_id: int, trained_at: datetime, events: int, ranker: Ranker
) -> None:
    _RANKERS[(str(engine.url), user_id)] = (trained_at, events, ranker)


_LOCKS: dict[tuple[str, int], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def user_lock(engine: Engine, user_id: int) -> threading.Lock:
    """This process's lock on learning and scoring for one user."""
    key = (str(engine.url), user_id)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())
