"""Parsing off the event loop, in worker processes, under a time budget.

A feed is parsed in a loky worker process (a maintained, robust process pool from the
joblib project). Parsing is CPU-bound, so processes let it run beside fetching and
storing on another core; and a parse that overruns its budget (feedparser has a
quadratic regex on author e-mails) is stopped by killing the workers, which a thread
could never be. Work that was in flight on the killed workers is retried once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, CancelledError
from typing import Any

from loky import get_reusable_executor
from loky.process_executor import ShutdownExecutorError, TerminatedWorkerError

from ingest.errors import IngestError, ParseError
from ingest.parse import parse_feed
from ingest.types import FeedData

_RETRYABLE = (TerminatedWorkerError, ShutdownExecutorError, BrokenExecutor, CancelledError)


class ParseTimeout(ParseError):
    code = "parse_timeout"


def parse_job(
    content: bytes, url: str, content_type: str | None, comments: bool
) -> FeedData | tuple[str, str]:
    """Runs in a worker: the parsed feed, or ``(code, message)`` (exceptions with
    keyword-only fields do not survive pickling, so errors travel as values)."""
    try:
        return parse_feed(content, url=url, content_type=content_type, comments=comments)
    except IngestError as exc:
        return (exc.code, exc.message)


class ParsePool:
    """``await pool.parse(...)`` parses in a worker process within ``budget_seconds``.

    ``workers=0`` parses inline (for tiny runs and for platforms without processes).
    """

    def __init__(
        self,
        *,
        workers: int,
        budget_seconds: float,
        idle_timeout: float = 300,
        job: Callable[[bytes, str, str | None, bool], FeedData | tuple[str, str]] = parse_job,
    ) -> None:
        self.workers = workers
        self.budget_seconds = budget_seconds
        self.idle_timeout = idle_timeout
        self.job = job  # a module-level function (it is pickled to the workers)

    def warm_up(self) -> None:
        """Start the workers now, so their start-up overlaps the first fetches."""
        if self.workers:
            get_reusable_executor(max_workers=self.workers, timeout=self.idle_timeout)

    async def parse(
        self, content: bytes, *, url: str, content_type: str | None, comments: bool
    ) -> FeedData:
        if not self.workers:
            result = self.job(content, url, content_type, comments)
            if isinstance(result, FeedData):
                return result
            raise _error(result, url)
        for attempt in (1, 2):
            executor = get_reusable_executor(max_workers=self.workers, timeout=self.idle_timeout)
            try:
                future = executor.submit(self.job, content, url, content_type, comments)
                result = await asyncio.wait_for(asyncio.wrap_future(future), self.budget_seconds)
            except TimeoutError:
                _kill(executor)
                raise ParseTimeout(
                    f"parsing took longer than {self.budget_seconds:g} s and was stopped", url=url
                ) from None
            except _RETRYABLE:
                if attempt == 2:
                    raise ParseError("the parser process failed twice", url=url) from None
                continue
            if isinstance(result, FeedData):
                return result
            raise _error(result, url)
        raise AssertionError("unreachable")


def _kill(executor: Any) -> None:
    """Stop every worker of the pool now, the one stuck in a parse included. loky's
    ``shutdown(kill_workers=True)`` alone can miss a worker once the pool was resized, so
    the worker processes it lists are killed as well."""
    pids = [getattr(p, "pid", None) for p in getattr(executor, "_processes", {}).values()]
    executor.shutdown(wait=False, kill_workers=True)
    for pid in pids:
        if isinstance(pid, int):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _error(result: tuple[str, str], url: str) -> ParseError:
    error = ParseError(str(result[1]), url=url)
    error.code = str(result[0])
    return error
