"""The server `bench.api` measures: Kith's own app plus one trivial route, one process.

    .venv/bin/python -m bench.api_app --database-url sqlite:///PATH --constant FILE --port P

``GET /bench/constant`` answers the bytes of FILE (a real timeline page the benchmark
captured from this very server), read once on first use. It is the first route matched
and runs in the same process, behind the same middleware, with the same uvicorn settings
as ``kith serve`` (``log_level="info"``, access log on, ``proxy_headers=False``) as
``GET /api/v1/timeline``. The ingest scheduler is off: the seeded feeds do not exist.
"""

from __future__ import annotations

import argparse
from functools import cache
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response

from app.config import Settings
from app.main import create_app


def create_bench_app(settings: Settings, constant: Path) -> FastAPI:
    """``app.main.create_app(settings)`` with ``GET /bench/constant`` added."""
    app = create_app(settings)
    body = cache(constant.read_bytes)

    @app.get("/bench/constant", include_in_schema=False)
    async def read_constant() -> Response:
        """A constant timeline-sized JSON page: the framework and server floor."""
        return Response(content=body(), media_type="application/json")

    # matched first: its figures are the floor, not a walk past every other route
    app.router.routes.insert(0, app.router.routes.pop())
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--constant", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_bench_app(Settings(database_url=args.database_url), args.constant)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info", proxy_headers=False)


if __name__ == "__main__":
    main()
