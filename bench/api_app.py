"""The server `bench.api` measures: Kith's own app plus one trivial route, one process.

    .venv/bin/python -m bench.api_app --database-url sqlite:///PATH --constant FILE --port P

Two trivial routes answer FILE (a real 50-item timeline page the benchmark captured from
this very server), read once on first use:

- ``GET /bench/constant``: the issue's "trivial FastAPI endpoint returning a constant
  50-item JSON body", written the way FastAPI documents it: an ``async def`` that
  returns the page as Python data (parsed once), which FastAPI encodes
  (``jsonable_encoder``, then ``JSONResponse``) on every request;
- ``GET /bench/raw``: the same page as ready-made bytes in a ``Response``: no encoding at
  all, only the server, the framework and the middleware (the floor).

Both are matched first and run in the same process, behind the same middleware, with the
same uvicorn settings as ``kith serve`` (``log_level="info"``, access log on,
``proxy_headers=False``) as ``GET /api/v1/timeline``. The ingest scheduler is off: the
seeded feeds do not exist.
"""

from __future__ import annotations

import argparse
import json
from functools import cache
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Response

from app.config import Settings
from app.main import create_app


def create_bench_app(settings: Settings, constant: Path) -> FastAPI:
    """``app.main.create_app(settings)`` with ``GET /bench/constant`` added."""
    app = create_app(settings)
    body = cache(constant.read_bytes)
    data = cache(lambda: json.loads(body()))

    @app.get("/bench/constant", include_in_schema=False, response_model=None)
    async def read_constant() -> Any:
        """A constant 50-item page as data: FastAPI encodes it, as for any endpoint."""
        return data()

    @app.get("/bench/raw", include_in_schema=False)
    async def read_raw() -> Response:
        """The same page as bytes: the server, framework and middleware floor."""
        return Response(content=body(), media_type="application/json")

    # matched first: their figures are the baseline, not a walk past every other route
    app.router.routes[:0] = [app.router.routes.pop(), app.router.routes.pop()]
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
