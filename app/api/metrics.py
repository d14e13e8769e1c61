"""``GET /metrics``: Prometheus exposition of this process's counters and the gauges read
at scrape time (sources due and leased, tasks waiting in the broker).

No user auth: keep it off the public internet, or set ``KITH_METRICS_TOKEN`` and scrape
with ``Authorization: Bearer <token>`` (Prometheus: ``authorization: {credentials: ...}``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import APIRouter, Request, Response

from app import metrics
from app.db import get_engine
from app.errors import Unauthorized

router = APIRouter(tags=["metrics"])


def _queue_depth(request: Request) -> Callable[[], int | None] | None:
    """``app.state.queue_depth`` if the app set one; else, with a Redis broker, the
    length of the tasks' list (``KITH_QUEUE_NAME``; the client is made once per app);
    else None: no gauge (the in-process default has no queue to measure)."""
    state = request.app.state
    hook: Callable[[], int | None] | None = getattr(state, "queue_depth", None)
    if hook is not None:
        return hook
    cached: Callable[[], int | None] | None = getattr(state, "metrics_queue_depth", None)
    if cached is None:
        settings = request.app.state.settings
        url = getattr(settings, "broker_url", None)
        if not url or not str(url).startswith(("redis://", "rediss://", "unix://")):
            return None
        cached = metrics.redis_queue_depth(str(url), getattr(settings, "queue_name", "kith"))
        state.metrics_queue_depth = cached
    return cached


def _check_token(request: Request) -> None:
    expected = getattr(request.app.state.settings, "metrics_token", None)
    if expected is None:
        return
    if hasattr(expected, "get_secret_value"):  # a SecretStr setting
        expected = expected.get_secret_value()
    if not expected:
        return
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        sent.strip().encode(), str(expected).encode()
    ):
        raise Unauthorized("send the metrics token as 'Authorization: Bearer <token>'")


@router.get("/metrics", include_in_schema=False)
def read_metrics(request: Request) -> Response:
    """Plain ``def``: the database count and the Redis call run on a worker thread."""
    _check_token(request)
    engine = get_engine(request.app.state.settings.database_url)
    body = metrics.render(engine, _queue_depth(request))
    return Response(content=body, media_type=metrics.CONTENT_TYPE)
