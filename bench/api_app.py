"""The two servers `bench.api` measures, each in its own process, started the same way.

    .venv/bin/python -m bench.api_app kith --database-url sqlite:///PATH --port P
    .venv/bin/python -m bench.api_app reference --port P

- ``kith``: Kith's own app (``app.main.create_app``), ingest scheduler off (the seeded
  feeds do not exist); the benchmark drives its ``GET /api/v1/timeline?limit=50``.
- ``reference``: the plain endpoint of issue 17, a FastAPI app of its own with one
  synchronous ``def`` route returning a constant dict of 50 items shaped like Kith's
  (id, title, url, a few hundred bytes of HTML content, published, source, person,
  score, one ``why`` entry), default response class (FastAPI validates nothing, runs
  ``jsonable_encoder`` and ``JSONResponse`` on every request), no middleware.

Both run through :func:`app.cli.run_server`, as ``kith serve`` does (its uvicorn
options, access log and all, and its listening socket), so a change to ``kith serve``
reaches the reference too. One process each, one at a time under load.
"""

from __future__ import annotations

import argparse
import random
from typing import Any

from fastapi import FastAPI

from app.cli import run_server

_WORDS = [
    "garden",
    "ferry",
    "bread",
    "lighthouse",
    "river",
    "letter",
    "kitchen",
    "harbour",
    "orchard",
    "bicycle",
    "lantern",
    "market",
    "winter",
    "island",
    "meadow",
    "chapter",
    "festival",
    "violin",
    "tide",
    "pottery",
    "sourdough",
    "trail",
]


def reference_page(items: int = 50, *, seed: int = 17) -> dict[str, Any]:
    """A constant timeline page in Kith's shape, with 300-500 bytes of HTML per item."""
    rng = random.Random(seed)

    def words(n: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize()

    page = []
    for n in range(items):
        content = f"<p>{words(12)}.</p>"
        while len(content) < rng.randint(300, 500):
            content += (
                f'<p>{words(10)} <a href="https://example.org/{n}" '
                f'rel="noopener noreferrer">{words(2)}</a>.</p>'
            )
        page.append(
            {
                "id": 100_000 - n,
                "title": words(6),
                "url": f"https://p{n}.example/2026/11/{n}",
                "content": content,
                "published": f"2026-11-{1 + n % 28:02d}T10:00:00Z",
                "source": {"id": n + 1, "kind": "feed", "title": f"{words(1)}\u2019s blog"},
                "person": {"id": n + 1, "name": words(2)},
                "score": round(rng.uniform(-2, 4), 4),
                "why": [{"reason": f"you often open {words(1)}\u2019s posts", "value": 1.9}],
            }
        )
    return {"items": page, "next_cursor": "MTIzNC41LDk5OTUw"}


def create_reference_app() -> FastAPI:
    """The plain FastAPI app: ``GET /reference`` (and a health route for the waiter)."""
    app = FastAPI()
    page = reference_page()

    @app.get("/reference")
    def read_reference() -> Any:
        """A constant 50-item page, encoded by FastAPI on every request."""
        return page

    @app.get("/api/v1/health")
    def read_health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("which", choices=("kith", "reference"))
    parser.add_argument("--database-url")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.which == "kith":
        from app.config import Settings
        from app.main import create_app

        app = create_app(Settings(database_url=args.database_url))
    else:
        app = create_reference_app()
    run_server(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
