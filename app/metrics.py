"""Prometheus metrics: what the refresh job counts, and gauges read at scrape time.

Counters and the histogram live in ``prometheus_client``'s default registry and are
per process: the process that fetches (``kith serve`` on the embedded default, each
``kith worker`` with a broker) is the one whose scrape shows them. The gauges about
the database and the queue are not kept in a registry at all: :func:`render` reads
them on each scrape of ``GET /metrics``, so a worker's own endpoint
(:func:`serve_metrics`) never exports a stale or zero copy of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import start_http_server as _start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.storage import leases

log = logging.getLogger("kith.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

FETCHES = Counter(
    "kith_fetches",
    "Source fetches (a Mastodon sync counts as one), by outcome: ok, not_modified, error",
    ["outcome"],
)
FETCH_ERRORS = Counter(
    "kith_fetch_errors",
    "Errors recorded on a source (fetch, parse or storage), by their stable code",
    ["code"],
)
ITEMS_INGESTED = Counter("kith_items_ingested", "New items stored by the refresh job")
FETCH_SECONDS = Histogram(
    "kith_fetch_seconds",
    "Time to fetch one source (a Mastodon sync: all its requests), by source kind",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

# the names of the gauges render() reads at scrape time
QUEUE_DEPTH = "kith_queue_depth"
SOURCES_DUE = "kith_sources_due"
SOURCES_LEASED = "kith_sources_leased"

for _outcome in ("ok", "not_modified", "error"):  # export zeros before the first fetch
    FETCHES.labels(outcome=_outcome)


def observe_fetch(kind: str, outcome: str, seconds: float) -> None:
    """One fetch (or Mastodon sync) done: its latency and outcome."""
    FETCH_SECONDS.labels(kind=kind).observe(seconds)
    FETCHES.labels(outcome=outcome).inc()


def count_error(code: str) -> None:
    """An error recorded on a source."""
    FETCH_ERRORS.labels(code=code).inc()


def count_items(new: int) -> None:
    """New items stored (the same numbers as ``RefreshStats.new_items``)."""
    if new > 0:
        ITEMS_INGESTED.inc(new)


def source_counts(engine: Engine, *, now: datetime | None = None) -> tuple[int, int]:
    """(due, leased) from the ``source`` table, as :func:`app.storage.leases.counts`
    sees them: due = unpaused, next check come, not leased (waiting for the scheduler);
    leased = ``lease_until`` in the future (claimed, queued or being refreshed)."""
    with Session(engine) as session:
        return leases.counts(session, now=now or datetime.now(UTC))


class _ScrapeState(Collector):
    """The gauges read when scraped: sources due and leased, tasks waiting in the broker.
    A gauge whose source cannot be read is left out of that scrape (and logged)."""

    def __init__(self, engine: Engine | None, queue_depth: Callable[[], int | None] | None):
        self.engine = engine
        self.queue_depth = queue_depth

    def collect(self) -> Iterator[Metric]:
        if self.engine is not None:
            try:
                due, leased = source_counts(self.engine)
            except SQLAlchemyError:
                log.warning("metrics: could not count sources", exc_info=True)
            else:
                yield GaugeMetricFamily(
                    SOURCES_DUE,
                    "Unpaused sources whose next check has come, not leased yet",
                    value=due,
                )
                yield GaugeMetricFamily(
                    SOURCES_LEASED,
                    "Sources leased right now (queued or being refreshed)",
                    value=leased,
                )
        if self.queue_depth is not None:
            try:
                depth = self.queue_depth()
            except Exception:  # a broker that is down must not fail the scrape
                log.warning("metrics: could not read the queue depth", exc_info=True)
                depth = None
            if depth is not None:
                yield GaugeMetricFamily(
                    QUEUE_DEPTH, "Tasks waiting in the broker, not yet taken", value=depth
                )


def render(
    engine: Engine | None = None,
    queue_depth: Callable[[], int | None] | None = None,
) -> bytes:
    """The exposition text: this process's counters, then the gauges read now."""
    state = CollectorRegistry(auto_describe=False)
    state.register(_ScrapeState(engine, queue_depth))
    return generate_latest(REGISTRY) + generate_latest(state)


def redis_queue_depth(url: str, queue_name: str, *, timeout: float = 2.0) -> Callable[[], int]:
    """Tasks waiting in a taskiq-redis ``ListQueueBroker`` queue: the length of its list
    (``KITH_QUEUE_NAME``); a task a worker took is off the list."""
    import redis  # taskiq-redis's dependency; imported only when a broker is configured

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)

    def depth() -> int:
        return int(client.llen(queue_name))

    return depth


def serve_metrics(port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 - scraped in-cluster
    """``kith worker --metrics-port``: this process's counters on ``http://addr:port/``
    (any path), from a daemon thread."""
    _start_http_server(port, addr=addr)
