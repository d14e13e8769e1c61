"""Learning off the request path: one learner thread per process, coalescing per user.

``POST /items/{id}/feedback`` commits its row in a short transaction of its own and
calls :func:`submit`; the 204 means the row is stored. This process's learner thread
then folds everything the user has pending into the model in one
:func:`app.jobs.scoring.learn_now` (ten clicks during one learning run cost one more
run, not ten). The timeline calls :func:`settle` before it reads, so the next page this
process serves is ranked with the feedback it took (waiting at most ``timeout``).

Nothing depends on this thread for correctness: a row it never reaches (the process
died, learning failed) stays ``learned = false`` and the scheduler's next ranking run
learns it; the ``learned`` flag and the compare-and-set in ``scoring._save`` keep every
row learned exactly once whoever gets there first.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from app.jobs.scoring import learn_now

log = logging.getLogger("kith.learner")

Key = tuple[str, int]  # (database URL, user id)
# a user's runs start at least this far apart, so a burst of clicks is learned in one
# run (learning costs about the same for one row or fifty: it rescores their people)
GAP = 0.1


class Learner:
    """A daemon thread learning for the users :meth:`submit` names, in turn."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._engines: dict[str, Engine] = {}
        self._wanted: dict[Key, int] = {}  # submissions per user
        self._done: dict[Key, int] = {}  # submissions covered by a finished run
        self._last: dict[Key, float] = {}  # when the user's last run ended
        self._thread: threading.Thread | None = None

    def submit(self, engine: Engine, user_id: int) -> None:
        """The user has new feedback (committed): learn from it soon."""
        key = (str(engine.url), user_id)
        with self._cond:
            self._engines[key[0]] = engine
            self._wanted[key] = self._wanted.get(key, 0) + 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="kith-learner", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def pending(self, engine: Engine, user_id: int) -> bool:
        """Whether feedback submitted for the user is still waiting (never blocks)."""
        key = (str(engine.url), user_id)
        with self._cond:
            return self._done.get(key, 0) < self._wanted.get(key, 0)

    def settle(self, engine: Engine, user_id: int, *, timeout: float = 1.0) -> bool:
        """Wait until what was submitted for the user so far has been learned (or
        ``timeout`` s); True when nothing is left waiting."""
        key = (str(engine.url), user_id)
        with self._cond:
            target = self._wanted.get(key, 0)
            if self._done.get(key, 0) >= target:
                return True
            return self._cond.wait_for(lambda: self._done.get(key, 0) >= target, timeout)

    def _next(self) -> tuple[Key, int]:
        """The next user with feedback to learn whose last run ended ``GAP`` s ago."""
        with self._cond:
            while True:
                now, soonest = time.monotonic(), None
                for key, wanted in self._wanted.items():
                    if self._done.get(key, 0) < wanted:
                        ready = self._last.get(key, 0.0) + GAP
                        if ready <= now:
                            return key, self._wanted[key]
                        soonest = ready if soonest is None else min(soonest, ready)
                self._cond.wait(None if soonest is None else soonest - now)

    def _run(self) -> None:
        while True:
            key, wanted = self._next()
            started = time.perf_counter()
            try:
                learn_now(self._engines[key[0]], user_id=key[1])
                log.debug("user %s: learned in %.3f s", key[1], time.perf_counter() - started)
            except Exception:  # the rows stay pending: the scheduler's run learns them
                log.exception("learning for user %s failed", key[1])
            with self._cond:
                self._done[key] = max(self._done.get(key, 0), wanted)
                self._last[key] = time.monotonic()
                self._wanted[key] = self._wanted.pop(key)  # to the back: users take turns
                self._cond.notify_all()


LEARNER = Learner()


def submit(engine: Engine, user_id: int) -> None:
    LEARNER.submit(engine, user_id)


def pending(engine: Engine, user_id: int) -> bool:
    return LEARNER.pending(engine, user_id)


def settle(engine: Engine, user_id: int, *, timeout: float = 1.0) -> bool:
    return LEARNER.settle(engine, user_id, timeout=timeout)
